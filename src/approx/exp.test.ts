import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { grid, maxAbsError, runApprox, seededUniform } from '../../test/helpers/approx-harness.ts';
import { DEFAULT_CHEBY_DEG, EXP_MAX_ABS_ERROR, exp, expRounds, expWithGuardBits } from './exp.ts';

const LSB = 2 ** -16;
/** The documented domain x ≤ 1 (everything below −15 is clipped), its edges and random points. */
const SWEEP = [
  ...grid(-20, 1, 3000, [-15, -15 - LSB, -15 + LSB, 0, -LSB, LSB, 1, 1 - LSB, -1000, -(2 ** 22) + 1]),
  ...seededUniform(11, 1000, -16, 1),
];

describe('exp (Chebyshev, clipped at −15)', () => {
  test('default degree is the documented cheby.deg', () => {
    assert.equal(DEFAULT_CHEBY_DEG, 8);
  });

  for (const truncation of ['local', 'dealer'] as const) {
    test(`2 parties, ${truncation} truncation: max abs error over x ∈ [−20, 1] ≤ EXP_MAX_ABS_ERROR at expRounds`, async (t) => {
      const run = await runApprox({ truncation }, [{ shape: [SWEEP.length], values: SWEEP }], (ctx, [x]) => exp(ctx, x));
      const want = Array.from(run.inputs[0], Math.exp);
      const e = maxAbsError(run.outputs[0], want);
      let rel = 0;
      run.inputs[0].forEach((x, i) => {
        if (x >= -4) rel = Math.max(rel, Math.abs(run.outputs[0][i] / want[i] - 1));
      });
      t.diagnostic(
        `max abs error ${e.max.toExponential(2)} (${(e.max / LSB).toFixed(2)} LSB) at x = ${run.inputs[0][e.at]}; max rel error on [−4, 1] ${rel.toExponential(2)}`,
      );
      assert.ok(e.max <= EXP_MAX_ABS_ERROR, `exp error ${e.max} at x = ${run.inputs[0][e.at]}`);
      const expected = expRounds({ mode: 'semi-honest', truncation, compareBits: 40, scaleBits: 16 });
      t.diagnostic(`rounds ${run.costs[0].rounds} (expRounds ${expected})`);
      for (const c of run.costs) assert.equal(c.rounds, expected);
    });
  }

  test('guard bits: the same protocol at f + 3 bits stays below 2/3 of the output LSB on softmax inputs [−16, 0]', async (t) => {
    const xs = grid(-16, 0, 800);
    const run = await runApprox({}, [{ shape: [xs.length], values: xs }], async (ctx, [x]) => expWithGuardBits(ctx, x, {}, 3));
    const e = maxAbsError(
      Array.from(run.outputs[0], (v) => v / 8),
      Array.from(run.inputs[0], Math.exp),
    );
    t.diagnostic(`max abs error at f + 3: ${e.max.toExponential(2)}`);
    // Defaults: fit 2.8e−6 on [−16, 0], basis rounding at f + 3 amplified 4× by the squarings.
    assert.ok(e.max <= (2 / 3) * LSB, `${e.max}`);
  });

  test('options: squarings (range reduction) and degree change cost and error as documented', async (t) => {
    const xs = grid(-16, 1, 600);
    for (const opts of [
      { squarings: 0, degree: 16 },
      { squarings: 1, degree: 12 },
      { squarings: 3, degree: 6 },
    ]) {
      const run = await runApprox({ truncation: 'local' }, [{ shape: [xs.length], values: xs }], (ctx, [x]) => exp(ctx, x, opts));
      const e = maxAbsError(run.outputs[0], Array.from(run.inputs[0], Math.exp));
      t.diagnostic(`${JSON.stringify(opts)}: max abs error ${e.max.toExponential(2)}, rounds ${run.costs[0].rounds}`);
      assert.ok(e.max <= 3e-4);
      assert.equal(run.costs[0].rounds, expRounds({ mode: 'semi-honest', truncation: 'local', compareBits: 40, scaleBits: 16 }, opts));
    }
    // A narrower clip window (T + U = 8: t = x/4 + 3/4, an integer multiple m = 2 of x at scale
    // f + 3) exercises the folded clip with m ≠ 1: inputs below −T are clipped to −T, and without
    // squarings the anchor makes the value there exactly 0, i.e. the output is exp(max(x, −T)) − exp(−T).
    const narrow = { lower: 7, upper: 1, squarings: 0, degree: 16 };
    const run = await runApprox({}, [{ shape: [xs.length], values: xs }], (ctx, [x]) => exp(ctx, x, narrow));
    const e = maxAbsError(
      run.outputs[0],
      Array.from(run.inputs[0], (v) => Math.exp(Math.max(v, -7)) - Math.exp(-7)),
    );
    t.diagnostic(`${JSON.stringify(narrow)}: max abs error against exp(max(x, −7)) − exp(−7) ${e.max.toExponential(2)}`);
    assert.ok(e.max <= 3e-4);
    assert.equal(run.costs[0].rounds, expRounds({ mode: 'semi-honest', truncation: 'dealer', compareBits: 40, scaleBits: 16 }, narrow));
    assert.throws(
      () => expRounds({ mode: 'semi-honest', truncation: 'local', compareBits: 40, scaleBits: 16 }, { squarings: -1 }),
      RangeError,
    );
  });

  test('fused squarings (semi-honest, dealer truncation): error, rounds and openings of 1..3 squarings, 2 and 3 parties', async (t) => {
    const xs = grid(-16, 1, 500, [-15, -15 - LSB, -40, 0, 1]);
    const opened = (n: number, sizes: number) => (n - 1) * 8 * sizes;
    for (const [n, opts, bound] of [
      [2, { squarings: 1, degree: 12 }, EXP_MAX_ABS_ERROR],
      [2, { squarings: 2, degree: 8 }, EXP_MAX_ABS_ERROR],
      [3, { squarings: 2, degree: 8 }, EXP_MAX_ABS_ERROR],
      [2, { squarings: 3, degree: 6 }, 3e-4],
    ] as const) {
      const run = await runApprox({ n, truncation: 'dealer' }, [{ shape: [xs.length], values: xs }], (ctx, [x]) => exp(ctx, x, opts));
      const e = maxAbsError(
        run.outputs[0],
        Array.from(run.inputs[0], (v) => Math.exp(Math.max(v, -15)) - Math.exp(-15)),
      );
      t.diagnostic(
        `${n} parties ${JSON.stringify(opts)}: max abs error against exp(max(x, −15)) − exp(−15) ${e.max.toExponential(2)}, rounds ${run.costs[0].rounds}`,
      );
      assert.ok(e.max <= bound, `${JSON.stringify(opts)}: ${e.max} at x = ${run.inputs[0][e.at]}`);
      const ctx = { mode: 'semi-honest', truncation: 'dealer', compareBits: 40, scaleBits: 16 } as const;
      assert.equal(run.costs[0].rounds, expRounds(ctx, opts));
      // The same basis and clip without squarings, plus one opening per squaring (the truncations').
      const plain = await runApprox({ n, truncation: 'dealer' }, [{ shape: [xs.length], values: xs }], (ctx, [x]) =>
        exp(ctx, x, { ...opts, squarings: 0 }),
      );
      assert.equal(run.costs[0].rounds, plain.costs[0].rounds + opts.squarings);
      assert.equal(run.costs[0].bytesSent, plain.costs[0].bytesSent + opened(n, xs.length) * opts.squarings);
    }
  });

  test('squarings: clipped inputs average 0, not exp(−15) (0.16 LSB at f + 3), so a long softmax row adds no bias', async (t) => {
    const xs = seededUniform(5, 2000, -40, -15.01);
    for (const truncation of ['dealer', 'local'] as const) {
      const run = await runApprox({ truncation }, [{ shape: [xs.length], values: xs }], (ctx, [x]) => expWithGuardBits(ctx, x, {}, 3));
      const meanLsb = (run.outputs[0].reduce((a, v) => a + v, 0) / xs.length) * 2 ** 16;
      t.diagnostic(`${truncation}: mean of ${xs.length} clipped outputs ${meanLsb.toFixed(4)} LSB at f + 3`);
      assert.ok(Math.abs(meanLsb) < 0.05, `mean ${meanLsb} LSB`);
    }
  });

  for (const [n, mode] of [
    [3, 'semi-honest'],
    [3, 'malicious'],
  ] as const) {
    test(`${n} parties, ${mode}: same error bound and rounds`, async () => {
      const xs = [-30, -15, -14.99, -8, -3.5, -1, -0.25, 0, 0.5, 1];
      const run = await runApprox({ n, mode }, [{ shape: [2, 5], values: xs }], (ctx, [x]) => exp(ctx, x));
      assert.ok(maxAbsError(run.outputs[0], Array.from(run.inputs[0], Math.exp)).max <= EXP_MAX_ABS_ERROR);
      for (const c of run.costs) assert.equal(c.rounds, expRounds({ mode, truncation: 'dealer', compareBits: 40, scaleBits: 16 }));
    });
  }
});
