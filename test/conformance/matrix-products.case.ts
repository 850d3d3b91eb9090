/**
 * Conformance suite for matrix products: every RingKernels `matmul` and every MatrixPins store
 * (run by each implementation's test file) must equal the BigInt specification (js-kernels.ts)
 * on edge shapes (empty, one row, column counts on both sides of the kernels' 8/16/32-column
 * panels), wrap-around values and carries, and pins must behave alike: products, row-block
 * filling in any order, read-back, and errors after unpin.
 */
import assert from 'node:assert/strict';
import { randomFillSync, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { jsKernels } from '../../src/kernels/js-kernels.ts';
import type { Limbs, MatrixPins, RingKernels } from '../../src/kernels/kernel-api.ts';

const LIMBS: Limbs[] = [1, 2];
/** Values that stress carries and wrap-around, as ring elements (taken mod 2^(64·limbs)). */
export const EDGES = [0n, 1n, 2n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, 1n << 64n, (1n << 64n) + 1n, 1n << 127n, -1n];
/** Column counts around every panel width in use (wasm 8, AVX2 16, native 32). */
const COLUMNS = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 65];

export function setElement(limbs: Limbs, x: BigUint64Array, i: number, v: bigint): void {
  x[i * limbs] = BigInt.asUintN(64, v);
  if (limbs === 2) x[i * 2 + 1] = BigInt.asUintN(64, v >> 64n);
}

/** `count` random elements, a third of them replaced by edge values. */
export function sampleElements(limbs: Limbs, count: number): BigUint64Array {
  const x = randomFillSync(new BigUint64Array(count * limbs));
  for (let i = 0; i < count; i++) if (randomInt(3) === 0) setElement(limbs, x, i, EDGES[randomInt(EDGES.length)]);
  return x;
}

/** `count` copies of one value (all-ones maximises carries in long sums). */
export function filledElements(limbs: Limbs, count: number, v: bigint): BigUint64Array {
  const x = new BigUint64Array(count * limbs);
  for (let i = 0; i < count; i++) setElement(limbs, x, i, v);
  return x;
}

/** Products and pins checked against the specification for one implementation. */
export function runMatrixProductConformance(name: string, kernels: RingKernels, pins: MatrixPins): void {
  const check = (limbs: Limbs, a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number, what: string): void => {
    const expected = jsKernels.matmul(limbs, a, b, m, k, n);
    assert.deepEqual(kernels.matmul(limbs, a, b, m, k, n), expected, `${name} matmul ${what}`);
    const pinned = pins.pin(limbs, b, k, n);
    assert.deepEqual(pins.matmul(limbs, a, pinned, m), expected, `${name} pinned ${what}`);
    pins.unpin(pinned);
  };

  test(`${name}: matmul and pinned products match the specification on edge shapes`, () => {
    for (const limbs of LIMBS) {
      for (const m of [0, 1, 2, 3, 4, 5, 9]) {
        for (const k of [0, 1, 3, 17]) {
          for (const n of COLUMNS) {
            check(limbs, sampleElements(limbs, m * k), sampleElements(limbs, k * n), m, k, n, `limbs=${limbs} [${m},${k}]x[${k},${n}]`);
          }
        }
      }
    }
  });

  test(`${name}: larger shapes and all-ones operands (every carry)`, () => {
    const shapes = [
      [1, 768, 70],
      [2, 768, 33],
      [5, 300, 96],
      [8, 64, 100],
    ];
    for (const limbs of LIMBS) {
      for (const [m, k, n] of shapes) {
        for (const [a, b] of [
          [sampleElements(limbs, m * k), sampleElements(limbs, k * n)],
          [filledElements(limbs, m * k, -1n), filledElements(limbs, k * n, -1n)],
          [filledElements(limbs, m * k, 1n << 63n), filledElements(limbs, k * n, -1n)],
        ]) {
          check(limbs, a, b, m, k, n, `limbs=${limbs} [${m},${k}]x[${k},${n}]`);
        }
      }
    }
  });

  test(`${name}: pins filled in uneven row blocks in any order equal a pin made at once; read-back; errors after unpin`, () => {
    for (const [k, n] of [
      [1, 1],
      [5, 33],
      [13, 17],
      [40, 64],
    ]) {
      const b = sampleElements(1, k * n);
      const whole = pins.pin(1, b, k, n);
      const parts = pins.reserve(1, k, n);
      const cuts = [0, ...new Set(Array.from({ length: 3 }, () => randomInt(k + 1)))].sort((x, y) => x - y);
      const blocks = cuts.map((start, i) => [start, i + 1 < cuts.length ? cuts[i + 1] : k]).reverse();
      for (const [start, end] of blocks) pins.writeRows(parts, start, b.subarray(start * n, end * n));
      const a = sampleElements(1, 3 * k);
      const expected = jsKernels.matmul(1, a, b, 3, k, n);
      assert.deepEqual(pins.matmul(1, a, whole, 3), expected, `[${k},${n}] pinned at once`);
      assert.deepEqual(pins.matmul(1, a, parts, 3), expected, `[${k},${n}] filled in blocks ${JSON.stringify(blocks)}`);
      assert.deepEqual(pins.read(parts), b, `[${k},${n}] read back`);
      pins.unpin(whole);
      pins.unpin(parts);
      assert.throws(() => pins.matmul(1, a, parts, 3), /not pinned/);
      assert.throws(() => pins.read(parts), /not pinned/);
      assert.throws(() => pins.writeRows(parts, 0, b.subarray(0, n)), /not pinned/);
      assert.throws(() => pins.unpin(parts), /not pinned/);
    }
  });

  test(`${name}: bad operands are rejected with RangeErrors`, () => {
    const x = new BigUint64Array(6);
    assert.throws(() => kernels.matmul(1, x, x, 2, 3, 3), RangeError, 'b too short');
    assert.throws(() => kernels.matmul(1, x, x, 1, 2, 1.5), RangeError, 'fractional n');
    assert.throws(() => kernels.matmul(1, x, x, -1, 2, 3), RangeError, 'negative m');
    const p = pins.pin(1, x, 2, 3);
    assert.throws(() => pins.matmul(1, new BigUint64Array(5), p, 2), RangeError, 'a does not match k');
    assert.throws(() => pins.writeRows(p, 1, new BigUint64Array(6)), RangeError, 'rows past k');
    pins.unpin(p);
  });
}
