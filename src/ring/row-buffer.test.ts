import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prg, randomSeed } from '../crypto/prg.ts';
import { appendRows } from './row-buffer.ts';
import { Z128, Z64, type Ring } from './ring.ts';
import { concatFlat, reshape, type RingTensor } from './tensor.ts';

const random = (prg: Prg, ring: Ring, rows: number, n: number): RingTensor => prg.ringTensor(ring, [rows, n]);
const cat = (ring: Ring, parts: RingTensor[], n: number): RingTensor => {
  const flat = concatFlat(ring, parts);
  return reshape(flat, [flat.shape[0] / n, n]);
};

for (const ring of [Z64, Z128]) {
  test(`appendRows over ${ring.name}: every version equals the concatenation, old versions stay intact`, () => {
    const prg = new Prg(randomSeed());
    const n = 5;
    const parts: RingTensor[] = [];
    const versions: { tensor: RingTensor; expected: RingTensor }[] = [];
    let prev: RingTensor | undefined;
    let buffer;
    const capacities = new Set<number>();
    // A prefill of 20 rows, then single rows past two capacity doublings.
    for (const rows of [20, ...Array.from({ length: 30 }, () => 1), 3]) {
      const add = random(prg, ring, rows, n);
      parts.push(add);
      const grown = appendRows(prev, buffer, add);
      [prev, buffer] = [grown.tensor, grown.buffer];
      capacities.add(grown.buffer.data.length);
      versions.push({ tensor: grown.tensor, expected: cat(ring, [...parts], n) });
    }
    for (const v of versions) {
      assert.deepEqual(v.tensor.shape, v.expected.shape);
      assert.deepEqual(v.tensor.data, v.expected.data);
    }
    assert.ok(capacities.size <= 3, `capacity doubles, not one buffer per append (${capacities.size} buffers)`);
  });

  test(`appendRows over ${ring.name}: appending to an older version copies instead of overwriting the newer one`, () => {
    const prg = new Prg(randomSeed());
    const first = appendRows(undefined, undefined, random(prg, ring, 4, 3));
    const second = appendRows(first.tensor, first.buffer, random(prg, ring, 1, 3));
    const secondCopy = second.tensor.data.slice();
    const fork = appendRows(first.tensor, first.buffer, random(prg, ring, 2, 3));
    assert.notEqual(fork.buffer, first.buffer);
    assert.deepEqual(second.tensor.data, secondCopy, 'the newer version is unchanged');
    assert.deepEqual(fork.tensor.data.subarray(0, first.tensor.data.length), first.tensor.data);
  });
}

test('appendRows refuses rows of another width or ring, naming both shapes', () => {
  const prg = new Prg(randomSeed());
  const a = appendRows(undefined, undefined, prg.ringTensor(Z64, [2, 3]));
  assert.throws(() => appendRows(a.tensor, a.buffer, prg.ringTensor(Z64, [1, 4])), /cannot append \[1,4\] to \[2,3\]/);
  assert.throws(() => appendRows(a.tensor, a.buffer, prg.ringTensor(Z128, [1, 3])), /cannot append/);
});
