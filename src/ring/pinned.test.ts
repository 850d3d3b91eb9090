import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomRingTensor } from '../crypto/prg.ts';
import { matmulPinnedTensor, pin, pinnedValue, release } from './pinned.ts';
import { Z128, Z64 } from './ring.ts';
import * as T from './tensor.ts';

test('pinned matrices give the same products as matmul; release is idempotent and falls back', () => {
  for (const ring of [Z64, Z128]) {
    const w = randomRingTensor(ring, [7, 13]);
    const p = pin(w);
    assert.ok(p.block, 'pinned');
    for (const m of [1, 3, 20]) {
      const a = randomRingTensor(ring, [m, 7]);
      assert.deepEqual(matmulPinnedTensor(a, p).data, T.matmul(a, w).data, `${ring.name} m=${m}`);
    }
    release(p);
    release(p);
    assert.equal(p.block, undefined);
    const a = randomRingTensor(ring, [2, 7]);
    assert.deepEqual(matmulPinnedTensor(a, p).data, T.matmul(a, w).data, 'after release: plain matmul');
    const q = pin(w);
    assert.throws(() => matmulPinnedTensor(randomRingTensor(ring, [2, 6]), q), RangeError);
    release(q);
  }
  assert.throws(() => pin(randomRingTensor(Z64, [4])), /expected a matrix/);
});

test('resident-only pins drop the plain copy and read back exactly (every column count mod 8)', () => {
  for (const [k, n] of [
    [5, 1],
    [3, 8],
    [4, 11],
    [2, 17],
  ]) {
    const w = randomRingTensor(Z64, [k, n]);
    const p = pin(w, { resident: true });
    assert.equal(p.tensor, undefined, 'no plain copy kept');
    assert.deepEqual(pinnedValue(p, Z64).data, w.data, `read back [${k},${n}]`);
    const a = randomRingTensor(Z64, [2, k]);
    assert.deepEqual(matmulPinnedTensor(a, p).data, T.matmul(a, w).data);
    release(p);
    assert.throws(() => pinnedValue(p, Z64), /released/);
    assert.throws(() => matmulPinnedTensor(a, p), /released/);
  }
  // Z_2^128 matrices keep their plain copy (no read-back kernel).
  const w128 = randomRingTensor(Z128, [3, 5]);
  const p128 = pin(w128, { resident: true });
  assert.equal(p128.tensor, w128);
  release(p128);
});
