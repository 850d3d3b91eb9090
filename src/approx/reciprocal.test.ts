import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runApprox, seededUniform } from '../../test/helpers/approx-harness.ts';
import { RECIPROCAL_MAX_ERROR, RECIPROCAL_NEWTON_MAX_ERROR, reciprocal, reciprocalRounds, type ReciprocalOptions } from './reciprocal.ts';

const LSB = 2 ** -16;

/** Every power of two in [2^lo, 2^hi] and its ±1 LSB neighbours, a log-spaced grid and random points. */
function sweep(lo: number, hi: number, points: number, seed: number): number[] {
  const xs: number[] = [];
  for (let j = lo; j <= hi; j++) for (const d of [-1, 0, 1]) xs.push(2 ** j + d * LSB);
  for (let i = 0; i < points; i++) xs.push(2 ** (lo + ((hi - lo) * i) / (points - 1)));
  xs.push(...seededUniform(seed, points / 4, lo, hi).map((e) => 2 ** e));
  return xs.filter((x) => x >= 2 ** lo && x <= 2 ** hi);
}

/** |y − c/x| / max(1, c/x): absolute where the result is ≤ 1, relative where it is larger. */
function maxScaledError(xs: ArrayLike<number>, ys: ArrayLike<number>, c = 1): { max: number; at: number } {
  let max = 0;
  let at = 0;
  for (let i = 0; i < xs.length; i++) {
    const want = c / xs[i];
    const e = Math.abs(ys[i] - want) / Math.max(1, want);
    if (e > max) [max, at] = [e, xs[i]];
  }
  return { max, at };
}

async function check(
  t: { diagnostic(s: string): void },
  opts: ReciprocalOptions,
  xs: number[],
  setup: Parameters<typeof runApprox>[0],
): Promise<void> {
  const run = await runApprox(setup, [{ shape: [xs.length], values: xs }], (ctx, [x]) => reciprocal(ctx, x, opts));
  const e = maxScaledError(run.inputs[0], run.outputs[0], opts.factor);
  const expected = reciprocalRounds({ mode: run.mode, truncation: run.truncation, compareBits: 40, scaleBits: 16 }, opts);
  t.diagnostic(
    `${JSON.stringify(opts)} ${run.truncation}: max error ${e.max.toExponential(2)} (${(e.max / LSB).toFixed(2)} LSB) at x = ${e.at}; rounds ${run.costs[0].rounds} (formula ${expected})`,
  );
  const bound = (opts.newton ?? 0) > 0 ? RECIPROCAL_NEWTON_MAX_ERROR : RECIPROCAL_MAX_ERROR;
  assert.ok(e.max <= bound, `reciprocal error ${e.max} at x = ${e.at}`);
  for (const c of run.costs) assert.equal(c.rounds, expected);
}

describe('reciprocal (power-of-two normalization + Chebyshev core)', () => {
  for (const truncation of ['local', 'dealer'] as const) {
    test(`2 parties, ${truncation}: x ∈ [1, 2^10] (softmax sums)`, async (t) => {
      await check(t, { maxLog2: 10 }, sweep(0, 10, 2000, 1), { truncation });
    });
    test(`2 parties, ${truncation}: wide domain x ∈ [2^−16, 2^16]`, async (t) => {
      await check(t, { minLog2: -16, maxLog2: 16 }, sweep(-16, 16, 800, 2), { truncation });
    });
  }

  test('a single bucket (no comparisons), the factor option and Newton steps', async (t) => {
    const xs = sweep(0, 1, 400, 3);
    await check(t, { maxLog2: 1 }, xs, {});
    await check(t, { minLog2: 3, maxLog2: 7, factor: 8 }, sweep(3, 7, 400, 4), {});
    await check(t, { maxLog2: 6, degree: 2, newton: 2 }, sweep(0, 6, 400, 5), {});
    assert.throws(
      () =>
        reciprocalRounds(
          { mode: 'semi-honest', truncation: 'local', compareBits: 40, scaleBits: 16 },
          { maxLog2: 3, factor: 3, newton: 1 },
        ),
      RangeError,
    );
  });

  test('rejects domains outside the comparison range', async () => {
    await assert.rejects(
      runApprox({}, [{ shape: [1], values: [1] }], (ctx, [x]) => reciprocal(ctx, x, { maxLog2: 24 })),
      RangeError,
    );
    await assert.rejects(
      runApprox({}, [{ shape: [1], values: [1] }], (ctx, [x]) => reciprocal(ctx, x, { minLog2: -17, maxLog2: 2 })),
      RangeError,
    );
  });

  for (const [n, mode] of [
    [3, 'semi-honest'],
    [3, 'malicious'],
  ] as const) {
    test(`${n} parties, ${mode}: same error bound and rounds`, async (t) => {
      await check(t, { maxLog2: 8 }, [1, 1 + LSB, 1.5, 2 - LSB, 2, 3, 100, 255.9, 256], { n, mode });
    });
  }
});
