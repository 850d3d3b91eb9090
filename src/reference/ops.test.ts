import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, erf, geluErf, geluTanh, layernorm, matmul, matmulTransposed, rmsnorm, rope, silu, softmax } from './ops.ts';

const t32 = (shape: number[], values: number[]) => ({ shape, data: Float32Array.from(values) });
const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('matmul is x · W with W [in, out], plus bias', () => {
  const w = t32([2, 3], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(matmul(Float64Array.of(1, 10), w)), [41, 52, 63]);
  assert.deepEqual(Array.from(matmul(Float64Array.of(1, 10), w, t32([3], [1, 1, 1]))), [42, 53, 64]);
});

test('matmulTransposed is x · Wᵀ with W [out, in] (an output embedding)', () => {
  const w = t32([3, 2], [1, 4, 2, 5, 3, 6]); // the transpose of the [2, 3] matrix above
  assert.deepEqual(Array.from(matmulTransposed(Float64Array.of(1, 10), w)), [41, 52, 63]);
});

test('rmsnorm, layernorm, softmax, argmax', () => {
  const x = Float64Array.of(1, 2, 3, 4);
  const ones = t32([4], [1, 1, 1, 1]);
  const r = rmsnorm(x, ones, 0);
  close(r.reduce((s, v) => s + v * v, 0) / 4, 1);
  const l = layernorm(x, t32([4], [2, 2, 2, 2]), t32([4], [1, 1, 1, 1]), 0);
  close(l.reduce((s, v) => s + v, 0) / 4, 1); // mean = bias
  close(l[3], 1 + 2 * (1.5 / Math.sqrt(1.25)));
  const p = softmax(Float64Array.of(1000, 1000, -Infinity));
  assert.deepEqual(Array.from(p), [0.5, 0.5, 0]);
  assert.equal(argmax(Float64Array.of(1, 3, 3, 2)), 1); // lowest index on ties
});

test('activations: silu, gelu (tanh and erf forms), erf', () => {
  close(silu(1), 1 / (1 + Math.exp(-1)));
  close(erf(0.5), 0.5204998778130465, 1e-15);
  close(erf(-3), -0.9999779095030014, 1e-15);
  close(erf(2.5), 0.999593047982555, 1e-15);
  close(geluErf(1), 0.8413447460685429, 1e-14);
  close(geluErf(-2), -0.04550026389635842, 1e-14);
  close(geluTanh(1), 0.8411919906082768, 1e-14);
});

test('rope: the half style is the interleaved style with permuted dimensions', () => {
  const headDim = 8;
  const nHeads = 2;
  const x = Float64Array.from({ length: nHeads * headDim }, (_, i) => Math.sin(i + 1));
  // interleaved pair (2j, 2j+1) ↔ half pair (j, j + headDim/2)
  const perm = Array.from({ length: nHeads * headDim }, (_, i) => {
    const [h, d] = [Math.floor(i / headDim), i % headDim];
    return h * headDim + (d < headDim / 2 ? 2 * d : 2 * (d - headDim / 2) + 1);
  });
  const half = rope(
    Float64Array.from(perm, (p) => x[p]),
    nHeads,
    headDim,
    5,
    10000,
    'half',
  );
  const inter = rope(Float64Array.from(x), nHeads, headDim, 5, 10000, 'interleaved');
  perm.forEach((p, i) => close(half[i], inter[p], 1e-15));
  // position 0 is the identity; a rotation keeps each pair's norm
  assert.deepEqual(rope(Float64Array.from(x), nHeads, headDim, 0, 10000, 'interleaved'), x);
  close(Math.hypot(inter[0], inter[1]), Math.hypot(x[0], x[1]), 1e-15);
  close(Math.atan2(inter[1], inter[0]) - Math.atan2(x[1], x[0]), 5 - 2 * Math.PI, 1e-12); // pair 0: angle = pos
});
