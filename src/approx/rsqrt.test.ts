import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runApprox, seededUniform } from '../../test/helpers/approx-harness.ts';
import { RSQRT_MAX_ERROR, RSQRT_NEWTON_MAX_ERROR, rsqrt, rsqrtRounds, type RsqrtOptions } from './rsqrt.ts';

const LSB = 2 ** -16;

function sweep(lo: number, hi: number, points: number, seed: number): number[] {
  const xs: number[] = [];
  for (let j = lo; j <= hi; j++) for (const d of [-1, 0, 1]) xs.push(2 ** j + d * LSB);
  for (let i = 0; i < points; i++) xs.push(2 ** (lo + ((hi - lo) * i) / (points - 1)));
  xs.push(...seededUniform(seed, points / 4, lo, hi).map((e) => 2 ** e));
  return xs.filter((x) => x >= 2 ** lo && x <= 2 ** hi);
}

async function check(
  t: { diagnostic(s: string): void },
  opts: RsqrtOptions,
  xs: number[],
  setup: Parameters<typeof runApprox>[0],
): Promise<void> {
  const run = await runApprox(setup, [{ shape: [xs.length], values: xs }], (ctx, [x]) => rsqrt(ctx, x, opts));
  const c = opts.factor ?? 1;
  // |y − c/√x| / max(1, c/√x): absolute where the result is ≤ 1, relative where it is larger.
  let max = 0;
  let at = 0;
  run.inputs[0].forEach((x, i) => {
    const want = c / Math.sqrt(x);
    const e = Math.abs(run.outputs[0][i] - want) / Math.max(1, want);
    if (e > max) [max, at] = [e, x];
  });
  const expected = rsqrtRounds({ mode: run.mode, truncation: run.truncation, compareBits: 40, scaleBits: 16 }, opts);
  t.diagnostic(
    `${JSON.stringify(opts)} ${run.truncation}: max error ${max.toExponential(2)} (${(max / LSB).toFixed(2)} LSB) at x = ${at}; rounds ${run.costs[0].rounds} (formula ${expected})`,
  );
  const bound = (opts.newton ?? 0) > 0 ? RSQRT_NEWTON_MAX_ERROR : RSQRT_MAX_ERROR;
  assert.ok(max <= bound, `rsqrt error ${max} at x = ${at}`);
  for (const cost of run.costs) assert.equal(cost.rounds, expected);
}

describe('rsqrt (power-of-two normalization + Chebyshev core)', () => {
  for (const truncation of ['local', 'dealer'] as const) {
    test(`2 parties, ${truncation}: default domain x ∈ [2^−16, 2^16]`, async (t) => {
      await check(t, {}, sweep(-16, 16, 1200, 7), { truncation });
    });
  }

  test('narrow and norm-style domains, the factor option and Newton steps', async (t) => {
    await check(t, { minLog2: -4, maxLog2: 12 }, sweep(-4, 12, 400, 8), {});
    await check(t, { minLog2: -10, maxLog2: 23, factor: Math.sqrt(768) * 64 }, sweep(-10, 23, 400, 9), {});
    await check(t, { minLog2: 0, maxLog2: 1 }, sweep(0, 1, 200, 10), {});
    await check(t, { maxLog2: 8, degree: 3, newton: 1 }, sweep(-16, 8, 300, 11), {});
    assert.throws(
      () => rsqrtRounds({ mode: 'semi-honest', truncation: 'local', compareBits: 40, scaleBits: 16 }, { factor: 3, newton: 1 }),
      RangeError,
    );
    assert.throws(
      () => rsqrtRounds({ mode: 'semi-honest', truncation: 'local', compareBits: 40, scaleBits: 16 }, { maxLog2: 24 }),
      RangeError,
    );
  });

  for (const [n, mode] of [
    [3, 'semi-honest'],
    [3, 'malicious'],
  ] as const) {
    test(`${n} parties, ${mode}: same error bound and rounds`, async (t) => {
      await check(t, {}, [LSB, 3 * LSB, 0.01, 0.5, 1, 2 - LSB, 2, 3, 1000, 65535, 65536], { n, mode });
    });
  }
});
