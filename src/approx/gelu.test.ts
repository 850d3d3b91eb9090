import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { grid, maxAbsError, runApprox, seededUniform } from '../../test/helpers/approx-harness.ts';
import { DEFAULT_GELU_BOUND, GELU_MAX_ABS_ERROR, gelu, geluRounds, type GeluForm } from './gelu.ts';
import { erf, geluErfRef, geluTanhRef } from './special.ts';

const LSB = 2 ** -16;
const B = DEFAULT_GELU_BOUND;
/** Dense on [−12, 12] (ReLU tails included), the switch points ±B ± 1 LSB, wide random points. */
const SWEEP = [
  ...grid(-12, 12, 3000, [B, -B, B + LSB, B - LSB, -B + LSB, -B - LSB, 0, LSB, -LSB, 5e5, -5e5]),
  ...seededUniform(21, 400, -1000, 1000),
];
const REF: Record<GeluForm, (x: number) => number> = { erf: geluErfRef, tanh: geluTanhRef };

describe('GeLU (ReLU tails + even Chebyshev core)', () => {
  test('float64 erf reference is accurate', () => {
    // A&S table values.
    for (const [x, v] of [
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3.5, 0.9999992569016276],
      [-1, -0.8427007929497149],
    ]) {
      assert.ok(Math.abs(erf(x) - v) < 1e-15, `erf(${x})`);
    }
  });

  for (const form of ['erf', 'tanh'] as const) {
    for (const truncation of ['local', 'dealer'] as const) {
      test(`${form} form, 2 parties, ${truncation}: max abs error over the real line ≤ GELU_MAX_ABS_ERROR at geluRounds`, async (t) => {
        const run = await runApprox({ truncation }, [{ shape: [SWEEP.length], values: SWEEP }], (ctx, [x]) => gelu(ctx, x, { form }));
        const e = maxAbsError(run.outputs[0], Array.from(run.inputs[0], REF[form]));
        const expected = geluRounds({ mode: 'semi-honest', truncation, compareBits: 40, scaleBits: 16 });
        t.diagnostic(
          `max abs error ${e.max.toExponential(2)} at x = ${run.inputs[0][e.at]}; rounds ${run.costs[0].rounds} (formula ${expected})`,
        );
        assert.ok(e.max <= GELU_MAX_ABS_ERROR[form], `gelu error ${e.max} at ${run.inputs[0][e.at]}`);
        for (const c of run.costs) assert.equal(c.rounds, expected);
      });
    }
  }

  test('a wider interval with a higher degree is more accurate at one more level', async (t) => {
    const xs = grid(-8, 8, 1000);
    const opts = { bound: 4 * Math.SQRT2, degree: 16 };
    const run = await runApprox({ truncation: 'local' }, [{ shape: [xs.length], values: xs }], (ctx, [x]) => gelu(ctx, x, opts));
    const e = maxAbsError(run.outputs[0], Array.from(run.inputs[0], geluErfRef));
    t.diagnostic(`B = 4√2, d_u = 16: max abs error ${e.max.toExponential(2)}, rounds ${run.costs[0].rounds}`);
    assert.ok(e.max <= 5e-5);
    assert.equal(run.costs[0].rounds, geluRounds({ mode: 'semi-honest', truncation: 'local', compareBits: 40, scaleBits: 16 }, opts));
    assert.equal(run.costs[0].rounds, geluRounds({ mode: 'semi-honest', truncation: 'local', compareBits: 40, scaleBits: 16 }) + 1);
  });

  for (const [n, mode] of [
    [3, 'semi-honest'],
    [3, 'malicious'],
  ] as const) {
    test(`${n} parties, ${mode}: same error bound and rounds`, async () => {
      const xs = [-100, -4.5, -4, -2, -0.5, 0, 0.3, 1, 3.9, 4.1, 50, 1234.5];
      for (const form of ['erf', 'tanh'] as const) {
        const run = await runApprox({ n, mode }, [{ shape: [3, 4], values: xs }], (ctx, [x]) => gelu(ctx, x, { form }));
        assert.ok(maxAbsError(run.outputs[0], Array.from(run.inputs[0], REF[form])).max <= GELU_MAX_ABS_ERROR[form]);
        for (const c of run.costs) assert.equal(c.rounds, geluRounds({ mode, truncation: 'dealer', compareBits: 40, scaleBits: 16 }));
      }
    });
  }
});
