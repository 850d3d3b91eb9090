/** Cross-checks every WebAssembly kernel against the BigInt specification (js-kernels.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import {
  EDGES,
  filledElements as filled,
  runMatrixProductConformance,
  sampleElements as sample,
  setElement,
} from '../../test/conformance/matrix-products.case.ts';
import type { Limbs } from './kernel-api.ts';
import { jsKernels } from './js-kernels.ts';
import {
  matmulPinned,
  pinMatrix,
  readPinned,
  reservePinned,
  SCRATCH_CHUNK_BYTES,
  stageMatmul,
  unpin,
  wasmKernels,
  wasmPins,
  writePinnedRows,
} from './wasm-kernels.ts';

const LIMBS: Limbs[] = [1, 2];
const SIZES = [0, 1, 2, 3, 17, 64, 1001];

test('add, sub, mul match the specification on random and edge values', () => {
  for (const limbs of LIMBS) {
    for (const size of SIZES) {
      const a = sample(limbs, size);
      const b = sample(limbs, size);
      for (const op of ['add', 'sub', 'mul'] as const) {
        assert.deepEqual(wasmKernels[op](limbs, a, b), jsKernels[op](limbs, a, b), `${op} limbs=${limbs} size=${size}`);
      }
    }
    // every edge value against every edge value
    const a = new BigUint64Array(EDGES.length ** 2 * limbs);
    const b = new BigUint64Array(EDGES.length ** 2 * limbs);
    EDGES.forEach((x, i) =>
      EDGES.forEach((y, j) => {
        setElement(limbs, a, i * EDGES.length + j, x);
        setElement(limbs, b, i * EDGES.length + j, y);
      }),
    );
    for (const op of ['add', 'sub', 'mul'] as const) {
      assert.deepEqual(wasmKernels[op](limbs, a, b), jsKernels[op](limbs, a, b), `${op} limbs=${limbs} edges`);
    }
  }
});

test('neg and mulScalar match the specification', () => {
  const scalars = [...EDGES, (1n << 128n) + 5n, -(1n << 100n), BigInt.asUintN(128, BigInt(randomInt(2 ** 47)) << 70n) | 3n];
  for (const limbs of LIMBS) {
    for (const size of SIZES) {
      const a = sample(limbs, size);
      assert.deepEqual(wasmKernels.neg(limbs, a), jsKernels.neg(limbs, a), `neg limbs=${limbs} size=${size}`);
      for (const s of scalars) {
        assert.deepEqual(wasmKernels.mulScalar(limbs, a, s), jsKernels.mulScalar(limbs, a, s), `mulScalar ${s}`);
      }
    }
  }
});

test('elementwise ops write into out, which may alias an input', () => {
  for (const limbs of LIMBS) {
    const a = sample(limbs, 33);
    const b = sample(limbs, 33);
    for (const op of ['add', 'sub', 'mul'] as const) {
      const expected = jsKernels[op](limbs, a, b);
      const out = new BigUint64Array(a.length);
      assert.equal(wasmKernels[op](limbs, a, b, out), out);
      assert.deepEqual(out, expected);
      const a2 = a.slice();
      assert.equal(wasmKernels[op](limbs, a2, b, a2), a2);
      assert.deepEqual(a2, expected, `${op} out=a`);
      const b2 = b.slice();
      assert.deepEqual(wasmKernels[op](limbs, a, b2, b2), expected, `${op} out=b`);
      assert.deepEqual(b2, expected);
    }
    const a3 = a.slice();
    wasmKernels.neg(limbs, a3, a3);
    assert.deepEqual(a3, jsKernels.neg(limbs, a));
    const a4 = a.slice();
    wasmKernels.mulScalar(limbs, a4, -3n, a4);
    assert.deepEqual(a4, jsKernels.mulScalar(limbs, a, -3n));
  }
});

// Products and pins on edge shapes and carries: the suite every implementation passes.
runMatrixProductConformance('wasm', wasmKernels, wasmPins);

test('matmul carries from the low into the high word of Z_2^128 sums', () => {
  // Such carries are rare for random data (probability ~ k·2^-32 per output): build them.
  const limbs = 2;
  for (const [m, k, n] of [
    [1, 2, 2],
    [1, 4, 3],
    [5, 2, 4],
    [4, 6, 5],
  ]) {
    const a = new BigUint64Array(m * k * limbs);
    for (let i = 0; i < m * k; i++) setElement(limbs, a, i, i % 2 === 0 ? (1n << 64n) - 1n - BigInt(i % 3) : 1n + BigInt(i % 3));
    const b = filled(limbs, k * n, 1n);
    const expected = jsKernels.matmul(limbs, a, b, m, k, n);
    assert.deepEqual(wasmKernels.matmul(limbs, a, b, m, k, n), expected, `[${m},${k}]x[${k},${n}]`);
    const pinned = pinMatrix(limbs, b, k, n);
    assert.deepEqual(matmulPinned(limbs, a, pinned, m), expected);
    unpin(pinned);
  }
  // Raw B is processed in passes of 256 rows of B: a carry between the partial sums of two passes.
  const [m, k, n] = [1, 512, 3];
  const a = new BigUint64Array(m * k * limbs);
  for (let t = 0; t < k; t++) setElement(limbs, a, t, t < 256 ? (1n << 64n) - 1n : 1n);
  const b = filled(limbs, k * n, 1n);
  assert.deepEqual(wasmKernels.matmul(limbs, a, b, m, k, n), jsKernels.matmul(limbs, a, b, m, k, n));
});

test('pinned matrices survive other calls, memory growth and reuse of freed space', () => {
  const limbs = 2;
  const b1 = sample(limbs, 8 * 5);
  const b2 = sample(limbs, 6 * 3);
  const a1 = sample(limbs, 2 * 8);
  const a2 = sample(limbs, 4 * 6);
  const p1 = pinMatrix(limbs, b1, 8, 5);
  const p2 = pinMatrix(limbs, b2, 6, 3);
  unpin(p1);
  const p3 = pinMatrix(1, sample(1, 4), 2, 2); // fits in the space p1 left
  wasmKernels.add(1, new BigUint64Array(1 << 20), new BigUint64Array(1 << 20)); // grows memory
  assert.deepEqual(matmulPinned(limbs, a2, p2, 4), jsKernels.matmul(limbs, a2, b2, 4, 6, 3));
  assert.throws(() => matmulPinned(limbs, a1, p1, 2), /not pinned/);
  assert.throws(() => unpin(p1), /not pinned/);
  assert.throws(() => matmulPinned(2, a1, p3, 1), RangeError);
  unpin(p2);
  unpin(p3);
});

test('operands above the scratch chunk: elementwise in chunks, matmul in row blocks, pins packed in row blocks', () => {
  for (const limbs of LIMBS) {
    // Elementwise: chunk boundaries inside the operand, and out aliasing a.
    const size = SCRATCH_CHUNK_BYTES / 8 / limbs + 1001;
    const a = sample(limbs, size);
    const b = sample(limbs, size);
    const sum = jsKernels.add(limbs, a, b);
    assert.deepEqual(wasmKernels.add(limbs, a, b), sum, `add limbs=${limbs} size=${size}`);
    const aliased = a.slice();
    assert.deepEqual(wasmKernels.add(limbs, aliased, b, aliased), sum, `add in place limbs=${limbs}`);
    // Matmul with B above the chunk (row blocks, the last one partial) against one staged call.
    const n = 1000;
    const k = Math.floor((2.5 * SCRATCH_CHUNK_BYTES) / (n * limbs * 8));
    const bm = sample(limbs, k * n);
    for (const m of [1, 5]) {
      const am = sample(limbs, m * k);
      const staged = stageMatmul(limbs, am, bm, m, k, n);
      staged.run();
      const want = staged.result();
      assert.deepEqual(wasmKernels.matmul(limbs, am, bm, m, k, n), want, `matmul [${m},${k}]x[${k},${n}] limbs=${limbs}`);
      const pinned = pinMatrix(limbs, bm, k, n);
      assert.deepEqual(matmulPinned(limbs, am, pinned, m), want, `pinned [${m},${k}]x[${k},${n}] limbs=${limbs}`);
      if (limbs === 1) assert.deepEqual(readPinned(pinned), bm, 'pinned in row blocks reads back exactly');
      unpin(pinned);
    }
  }
});

test('a reserved pin filled in uneven row blocks (any order) equals the matrix pinned at once', () => {
  for (const limbs of LIMBS) {
    for (const [k, n] of [
      [7, 3],
      [10, 17],
      [33, 9],
    ]) {
      const b = sample(limbs, k * n);
      const a = sample(limbs, 5 * k);
      const block = reservePinned(limbs, k, n);
      const cuts = [0, 1, 4, Math.floor(k / 2), k].filter((c, i, xs) => c <= k && (i === 0 || c > xs[i - 1]));
      for (let i = cuts.length - 2; i >= 0; i--) writePinnedRows(block, cuts[i], b.subarray(cuts[i] * n * limbs, cuts[i + 1] * n * limbs));
      assert.deepEqual(matmulPinned(limbs, a, block, 5), jsKernels.matmul(limbs, a, b, 5, k, n), `[${k},${n}] limbs=${limbs}`);
      if (limbs === 1) assert.deepEqual(readPinned(block), b);
      assert.throws(() => writePinnedRows(block, k - 1, b.subarray(0, 2 * n * limbs)), /do not fit/);
      assert.throws(() => writePinnedRows(block, 0, b.subarray(0, n * limbs + 1)), /do not fit/);
      unpin(block);
      assert.throws(() => writePinnedRows(block, 0, b.subarray(0, n * limbs)), /not pinned/);
    }
  }
});

test('bad arguments are rejected', () => {
  const x = new BigUint64Array(4);
  assert.throws(() => wasmKernels.add(1, x, new BigUint64Array(3)), RangeError);
  assert.throws(() => wasmKernels.neg(2, new BigUint64Array(3)), RangeError);
  assert.throws(() => wasmKernels.mul(1, x, x, new BigUint64Array(5)), RangeError);
  assert.throws(() => wasmKernels.matmul(1, x, x, 2, 3, 2), RangeError);
  assert.throws(() => wasmKernels.matmul(2, x, x, 1, 2, 1.5), RangeError);
  assert.throws(() => wasmKernels.add(3 as Limbs, x, x), RangeError);
});
