import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Prg, randomSeed } from '../crypto/prg.ts';
import { Z128, Z64 } from './ring.ts';
import * as T from './tensor.ts';

test('addScalar over Z_2^64 equals the BigInt sum mod 2^64, carries across the 32-bit halves included', () => {
  const edges = [0n, 1n, 0xffffffffn, 0x100000000n, 2n ** 64n - 1n, 2n ** 63n, 0x7fffffffffffffffn];
  fc.assert(
    fc.property(
      fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 20 }),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
      (vals, s) => {
        const values = [...edges, ...vals];
        const got = T.toBigInts(T.addScalar(T.fromBigInts(Z64, [values.length], values), s));
        assert.deepEqual(
          got,
          values.map((v) => BigInt.asUintN(64, v + s)),
        );
      },
    ),
  );
  const all = T.toBigInts(T.addScalar(T.fromBigInts(Z64, [edges.length], edges), 0xffffffffn));
  assert.deepEqual(
    all,
    edges.map((v) => BigInt.asUintN(64, v + 0xffffffffn)),
  );
});

for (const ring of [Z64, Z128]) {
  test(`transpose and matmulNT over ${ring.name} agree with BigInt definitions`, () => {
    const prg = new Prg(randomSeed());
    for (const [m, n, k] of [
      [1, 7, 5],
      [3, 4, 6],
      [8, 1, 2],
    ]) {
      const a = prg.ringTensor(ring, [m, n]);
      const b = prg.ringTensor(ring, [k, n]);
      const at = T.transpose(a);
      assert.deepEqual(at.shape, [n, m]);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) assert.equal(T.getElement(at, j * m + i), T.getElement(a, i * n + j));
      const got = T.matmulNT(a, b);
      assert.deepEqual(got.shape, [m, k]);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < k; j++) {
          let sum = 0n;
          for (let t = 0; t < n; t++) sum += T.getElement(a, i * n + t) * T.getElement(b, j * n + t);
          assert.equal(T.getElement(got, i * k + j), BigInt.asUintN(ring.bits, sum), `[${i},${j}] of ${m}x${n}·(${k}x${n})ᵀ`);
        }
    }
    // Leading dimensions of A are kept.
    const a3 = prg.ringTensor(ring, [2, 3, 4]);
    const b3 = prg.ringTensor(ring, [5, 4]);
    const nt = T.matmulNT(a3, b3);
    assert.deepEqual(nt.shape, [2, 3, 5]);
    assert.deepEqual(nt.data, T.matmul(a3, T.transpose(b3)).data);
    assert.throws(() => T.matmulNT(a3, prg.ringTensor(ring, [5, 3])), /cannot multiply \[2,3,4\] by the transpose of \[5,3\]/);
  });
}
