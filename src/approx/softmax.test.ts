import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runApprox, seededUniform } from '../../test/helpers/approx-harness.ts';
import { maxCost } from '../protocols/select.ts';
import { Z64 } from '../ring/ring.ts';
import { maxLowBits, maxRounds, SOFTMAX_MAX_ABS_ERROR, softmax, softmaxRounds } from './softmax.ts';

function gauss(seed: number, n: number): number[] {
  const u = seededUniform(seed, 2 * n, 1e-12, 1);
  return Array.from({ length: n }, (_, i) => Math.sqrt(-2 * Math.log(u[2 * i])) * Math.cos(2 * Math.PI * u[2 * i + 1]));
}

/** Rows of length len: Gaussian scores of several scales, ties, a dominant entry, a far offset. */
function rowsFor(len: number): number[][] {
  const rows: number[][] = [];
  let seed = 1000 * len;
  for (const scale of [0.01, 0.3, 1, 3, 10, 30]) rows.push(gauss(seed++, len).map((v) => v * scale));
  rows.push(Array.from({ length: len }, () => 2.5));
  rows.push(Array.from({ length: len }, (_, i) => (i === len >> 1 ? 40 : -3)));
  rows.push(Array.from({ length: len }, (_, i) => -1000 + 0.25 * i));
  rows.push(Array.from({ length: len }, (_, i) => (i % 2 === 0 ? 5e5 : -5e5)));
  return rows;
}

/** Causal mask pattern (row r sees entries 0..r mod len). */
function causal(rows: number, len: number): number[] {
  return Array.from({ length: rows * len }, (_, i) => (i % len <= Math.floor(i / len) % len ? 1 : 0));
}

function reference(x: ArrayLike<number>, rows: number, len: number, mask?: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const xs = Array.from({ length: len }, (_, j) => x[r * len + j]);
    const keep = xs.map((_, j) => (mask ? mask[r * len + j] === 1 : true));
    const m = Math.max(...xs.filter((_, j) => keep[j]));
    const e = xs.map((v, j) => (keep[j] ? Math.exp(v - m) : 0));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((v) => v / s));
  }
  return out;
}

describe('softmax (max, exp, reciprocal)', () => {
  for (const truncation of ['local', 'dealer'] as const) {
    test(`2 parties, ${truncation}: rows of length 1..128, with and without a causal mask, at softmaxRounds`, async (t) => {
      let worst = 0;
      for (const len of [1, 2, 5, 16, 64, 128]) {
        const rows = rowsFor(len);
        const values = rows.flat();
        for (const masked of [false, true]) {
          const mask = masked ? causal(rows.length, len) : undefined;
          const run = await runApprox({ truncation }, [{ shape: [rows.length, len], values }], (ctx, [x]) => softmax(ctx, x, { mask }));
          const want = reference(run.inputs[0], rows.length, len, mask);
          let max = 0;
          run.outputs[0].forEach((v, i) => {
            max = Math.max(max, Math.abs(v - want[i]));
            if (mask && mask[i] === 0) assert.equal(v, 0, 'masked entries are exactly 0');
          });
          worst = Math.max(worst, max);
          t.diagnostic(`len ${len}${masked ? ' (causal mask)' : ''}: max abs error ${max.toExponential(2)}, rounds ${run.costs[0].rounds}`);
          assert.ok(max <= SOFTMAX_MAX_ABS_ERROR, `softmax error ${max} (len ${len})`);
          const expected = softmaxRounds({ mode: 'semi-honest', truncation, compareBits: 40, scaleBits: 16 }, len);
          for (const c of run.costs) assert.equal(c.rounds, expected);
        }
      }
      t.diagnostic(`overall max abs error ${worst.toExponential(2)}`);
    });
  }

  test("an all-ones mask (a decode step's causal mask) is no mask: same outputs within the bound, same bytes and rounds", async () => {
    const rows = rowsFor(64).slice(0, 6);
    const values = rows.flat();
    const shape = [rows.length, 64];
    const ones = new Array<number>(values.length).fill(1);
    const masked = await runApprox({}, [{ shape, values }], (ctx, [x]) => softmax(ctx, x, { mask: ones }));
    const plain = await runApprox({}, [{ shape, values }], (ctx, [x]) => softmax(ctx, x));
    const want = reference(plain.inputs[0], rows.length, 64);
    for (const run of [masked, plain]) run.outputs[0].forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= SOFTMAX_MAX_ABS_ERROR));
    assert.deepEqual(masked.costs, plain.costs);
    // Still checked: a mask of the wrong size or with entries other than 0 and 1 is refused.
    await assert.rejects(
      runApprox({}, [{ shape, values }], (ctx, [x]) => softmax(ctx, x, { mask: [...ones.slice(1), 2] })),
      /mask entries must be 0 or 1, got 2/,
    );
  });

  test('maxRounds agrees with protocols/select.ts maxCost', () => {
    for (const len of [1, 2, 3, 7, 64, 100]) {
      for (const mode of ['semi-honest', 'malicious'] as const)
        assert.equal(
          maxRounds({ mode, compareBits: 40, scaleBits: 16 }, len),
          maxCost({ n: 2, ring: Z64, mode }, 3, len, 40, maxLowBits({ compareBits: 40, scaleBits: 16 }, len)).rounds,
        );
    }
  });

  test('leading axes are rows; bad masks are rejected', async () => {
    const values = gauss(5, 2 * 3 * 4);
    const run = await runApprox({}, [{ shape: [2, 3, 4], values }], (ctx, [x]) => softmax(ctx, x));
    const want = reference(run.inputs[0], 6, 4);
    run.outputs[0].forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= SOFTMAX_MAX_ABS_ERROR));
    await assert.rejects(
      runApprox({}, [{ shape: [1, 2], values: [1, 2] }], (ctx, [x]) => softmax(ctx, x, { mask: [1, 2] })),
      RangeError,
    );
    await assert.rejects(
      runApprox({}, [{ shape: [1, 2], values: [1, 2] }], (ctx, [x]) => softmax(ctx, x, { mask: [1] })),
      RangeError,
    );
  });

  for (const [n, mode] of [
    [3, 'semi-honest'],
    [3, 'malicious'],
  ] as const) {
    test(`${n} parties, ${mode}: same error bound and rounds (masked)`, async () => {
      const len = 6;
      const values = [...gauss(77, 12).map((v) => 4 * v), 1, 1, 1, 1, 1, 1];
      const mask = causal(3, len);
      const run = await runApprox({ n, mode }, [{ shape: [3, len], values }], (ctx, [x]) => softmax(ctx, x, { mask }));
      const want = reference(run.inputs[0], 3, len, mask);
      run.outputs[0].forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= SOFTMAX_MAX_ABS_ERROR));
      run.outputs[0].forEach((v, i) => mask[i] === 0 && assert.equal(v, 0));
      for (const c of run.costs) assert.equal(c.rounds, softmaxRounds({ mode, truncation: 'dealer', compareBits: 40, scaleBits: 16 }, len));
    });
  }
});
