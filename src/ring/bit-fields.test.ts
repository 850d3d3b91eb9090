import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomRingTensor } from '../crypto/prg.ts';
import { msbAndHigh } from './bit-fields.ts';
import { Z128, Z64 } from './ring.ts';
import * as T from './tensor.ts';

test('msbAndHigh equals the BigInt definition on every shift, both rings, incl. edge words', () => {
  const edges = [0n, 1n, (1n << 31n) - 1n, 1n << 31n, (1n << 32n) - 1n, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];
  for (const ring of [Z64, Z128]) {
    const rnd = randomRingTensor(ring, [200]);
    const values = [...edges, ...(ring === Z128 ? edges.map((e) => e | (5n << 64n)) : []), ...T.toBigInts(rnd)];
    const t = T.zeros(ring, [values.length]);
    values.forEach((v, i) => T.setElement(t, i, v));
    for (let shift = 0; shift <= 63; shift++) {
      const { msb, high } = msbAndHigh(t, shift);
      const ms = T.toBigInts(msb);
      const hs = T.toBigInts(high);
      values.forEach((v, i) => {
        const w = BigInt.asUintN(64, v);
        assert.equal(BigInt.asUintN(128, ms[i]), w >> 63n, `msb of ${w}`);
        assert.equal(BigInt.asUintN(128, hs[i]), (w & ((1n << 63n) - 1n)) >> BigInt(shift), `high of ${w} >> ${shift}`);
      });
    }
  }
  assert.throws(() => msbAndHigh(T.zeros(Z64, [1]), 64), /shift must be in \[0, 63\]/);
});
