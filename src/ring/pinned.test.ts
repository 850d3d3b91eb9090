import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomRingTensor } from '../crypto/prg.ts';
import { matmulPinnedTensor, pin, release } from './pinned.ts';
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
