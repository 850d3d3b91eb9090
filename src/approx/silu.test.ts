import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { grid, maxAbsError, runApprox, seededUniform } from '../../test/helpers/approx-harness.ts';
import { DEFAULT_SILU_BOUND, SILU_MAX_ABS_ERROR, silu, siluRounds } from './silu.ts';
import { siluRef } from './special.ts';

const LSB = 2 ** -16;
const B = DEFAULT_SILU_BOUND;
const SWEEP = [
  ...grid(-24, 24, 3000, [B, -B, B + LSB, B - LSB, -B + LSB, -B - LSB, 0, LSB, -LSB, 5e5, -5e5]),
  ...seededUniform(31, 400, -1000, 1000),
];

describe('SiLU (ReLU tails + even Chebyshev core)', () => {
  for (const truncation of ['local', 'dealer'] as const) {
    test(`2 parties, ${truncation}: max abs error over the real line ≤ SILU_MAX_ABS_ERROR at siluRounds`, async (t) => {
      const run = await runApprox({ truncation }, [{ shape: [SWEEP.length], values: SWEEP }], (ctx, [x]) => silu(ctx, x));
      const e = maxAbsError(run.outputs[0], Array.from(run.inputs[0], siluRef));
      const expected = siluRounds({ mode: 'semi-honest', truncation, compareBits: 40, scaleBits: 16 });
      t.diagnostic(
        `max abs error ${e.max.toExponential(2)} at x = ${run.inputs[0][e.at]}; rounds ${run.costs[0].rounds} (formula ${expected})`,
      );
      assert.ok(e.max <= SILU_MAX_ABS_ERROR, `silu error ${e.max} at ${run.inputs[0][e.at]}`);
      for (const c of run.costs) assert.equal(c.rounds, expected);
    });
  }

  test('B that is not 2^k or 2^k·√2 costs one more truncation (dealer) and the same products', async (t) => {
    const xs = grid(-16, 16, 800);
    const opts = { bound: 10, degree: 16 };
    for (const truncation of ['local', 'dealer'] as const) {
      const run = await runApprox({ truncation }, [{ shape: [xs.length], values: xs }], (ctx, [x]) => silu(ctx, x, opts));
      const e = maxAbsError(run.outputs[0], Array.from(run.inputs[0], siluRef));
      t.diagnostic(`B = 10, ${truncation}: max abs error ${e.max.toExponential(2)}, rounds ${run.costs[0].rounds}`);
      assert.ok(e.max <= 6e-4);
      const base = siluRounds({ mode: 'semi-honest', truncation, compareBits: 40, scaleBits: 16 });
      assert.equal(run.costs[0].rounds, base + (truncation === 'dealer' ? 1 : 0));
      assert.equal(run.costs[0].rounds, siluRounds({ mode: 'semi-honest', truncation, compareBits: 40, scaleBits: 16 }, opts));
    }
  });

  for (const [n, mode] of [
    [3, 'semi-honest'],
    [3, 'malicious'],
  ] as const) {
    test(`${n} parties, ${mode}: same error bound and rounds`, async () => {
      const xs = [-100, -12, -11, -5, -1, 0, 0.3, 1, 5, 11, 12, 777.25];
      const run = await runApprox({ n, mode }, [{ shape: [12], values: xs }], (ctx, [x]) => silu(ctx, x));
      assert.ok(maxAbsError(run.outputs[0], Array.from(run.inputs[0], siluRef)).max <= SILU_MAX_ABS_ERROR);
      for (const c of run.costs) assert.equal(c.rounds, siluRounds({ mode, truncation: 'dealer', compareBits: 40, scaleBits: 16 }));
    });
  }
});
