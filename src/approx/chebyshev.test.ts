import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { grid, maxAbsError, runApprox } from '../../test/helpers/approx-harness.ts';
import {
  CHEB_GUARD_BITS,
  chebyshevBasis,
  chebyshevSums,
  chebyshevFit,
  chebyshevLevels,
  chebyshevRounds,
  chebyshevValue,
  coefficientBound,
  coefficientScale,
  wideSumBits,
} from './chebyshev.ts';
import * as L from '../sharing/linear.ts';
import { chebyshevPlan } from '../preprocessing/chebyshev-plan.ts';

describe('Chebyshev fit (float64)', () => {
  test('interpolates at the Chebyshev nodes and is near-minimax for smooth functions', () => {
    const d = 12;
    const c = chebyshevFit(Math.cos, -2, 3, d);
    for (let j = 0; j <= d; j++) {
      const t = Math.cos((Math.PI * (j + 0.5)) / (d + 1));
      assert.ok(Math.abs(chebyshevValue(c, t) - Math.cos((5 * t + 1) / 2)) < 1e-13);
    }
    const err = Math.max(...grid(-1, 1, 2001).map((t) => Math.abs(chebyshevValue(c, t) - Math.cos((5 * t + 1) / 2))));
    assert.ok(err < 1e-8, `cos fit error ${err}`); // ≈ 2·|a_13| = 2·J_13(2.5) ≈ 6e−9
  });

  test('chebyshevValue equals Σ c_k cos(k·acos t)', () => {
    const c = [0.3, -1.2, 0.5, 0.25, -0.125, 0.0625];
    for (const t of grid(-1, 1, 101)) {
      const direct = c.reduce((s, ck, k) => s + ck * Math.cos(k * Math.acos(t)), 0);
      assert.ok(Math.abs(chebyshevValue(c, t) - direct) < 1e-12);
    }
  });

  test('levels and rounds', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 8, 9, 16, 17].map(chebyshevLevels), [0, 1, 2, 2, 3, 3, 4, 4, 5]);
    const semiHonest = 'semi-honest' as const;
    assert.equal(chebyshevRounds({ truncation: 'local', mode: semiHonest }, 16), 4);
    // Semi-honest 'dealer': fused levels (δ_1, 3 level truncations, final sum, narrowing).
    assert.equal(chebyshevRounds({ truncation: 'dealer', mode: semiHonest }, 16), 6);
    assert.equal(chebyshevRounds({ truncation: 'dealer', mode: 'malicious' }, 16), 9);
    // The last level kept wide saves its truncation round when the sum fits below 2^61.
    assert.equal(chebyshevRounds({ truncation: 'dealer', mode: 'malicious' }, 16, { scale: 19, valueBound: 4 }), 8);
    assert.equal(chebyshevRounds({ truncation: 'dealer', mode: semiHonest }, 16, { scale: 19, valueBound: 4 }), 5);
    assert.equal(chebyshevRounds({ truncation: 'local', mode: semiHonest }, 16, { scale: 19, valueBound: 4 }), 4);
    assert.equal(chebyshevRounds({ truncation: 'dealer', mode: 'malicious' }, 16, { scale: 19, valueBound: 2 ** 10 }), 9);
    assert.equal(chebyshevRounds({ truncation: 'dealer', mode: semiHonest }, 16, { scale: 19, valueBound: 2 ** 10 }), 6);
    // Degree 2 has no truncated level: nothing to fuse.
    assert.equal(chebyshevRounds({ truncation: 'dealer', mode: semiHonest }, 2, { scale: 19, valueBound: 4 }), 2);
    assert.equal(wideSumBits(19, 4), 21);
    assert.equal(wideSumBits(19, 8), 20);
    assert.equal(wideSumBits(19, 16), 19);
    assert.equal(wideSumBits(19, 32), undefined);
    assert.throws(() => chebyshevLevels(0), RangeError);
    assert.throws(() => chebyshevLevels(65), RangeError);
  });
});

describe('Chebyshev secure evaluation', () => {
  test('a wide last level whose sum would not fit below 2^61 is truncated first (one more round), same values', async () => {
    const ts = grid(-1, 1, 401);
    const coeffs = Array.from({ length: 9 }, (_, k) => (k % 2 === 0 ? 0.5 : -0.25) / (k + 1));
    const s = 16 + CHEB_GUARD_BITS;
    const bound = 2 ** 10; // declared bound: g_w = 61 − 38 − 10 = 13 < s, so the wide terms are narrowed
    assert.equal(wideSumBits(s, bound), undefined);
    const run = await runApprox({ truncation: 'dealer' }, [{ shape: [ts.length], values: ts }], async (ctx, [x]) => {
      const b = await chebyshevBasis(ctx, L.mulScalarS(x, 1n << BigInt(CHEB_GUARD_BITS)), s, 8);
      assert.deepEqual([...b.wide.keys()], [5, 6, 7, 8]);
      return chebyshevSums(ctx, b, [{ coeffs, valueBound: bound }]);
    });
    const err = maxAbsError(
      run.outputs[0],
      Array.from(run.inputs[0], (v) => chebyshevValue(coeffs, v)),
    ).max;
    // The declared bound also lowers the coefficients' precision to g = 13 bits (as without the
    // wide level): each of the 8 rounded coefficients is off by ≤ 2^−(g+1), plus ~2 LSB of rounding.
    const g = coefficientScale(s, [{ coeffs, valueBound: bound }]);
    assert.equal(g, 13);
    assert.ok(err <= 8 * 2 ** -(g + 1) + 2 * 2 ** -16, `sum error ${err}`);
    const rounds = chebyshevRounds({ truncation: 'dealer', mode: 'semi-honest' }, 8, { scale: s, valueBound: bound });
    assert.equal(rounds, chebyshevRounds({ truncation: 'dealer', mode: 'semi-honest' }, 8));
    for (const c of run.costs) assert.equal(c.rounds, rounds);
  });

  for (const [truncation, mode] of [
    ['local', 'semi-honest'],
    ['dealer', 'semi-honest'],
    ['dealer', 'malicious'],
  ] as const) {
    test(`basis T_1..T_16 and a degree-16 sum match float64 on [−1, 1] (${truncation} truncation, ${mode}), at the documented rounds`, async (t) => {
      const ts = grid(-1, 1, 1001);
      const coeffs = Array.from({ length: 17 }, (_, k) => (k % 3 === 0 ? 1 : -0.5) / (k + 1));
      const s = 16 + CHEB_GUARD_BITS;
      const run = await runApprox({ truncation, mode }, [{ shape: [ts.length], values: ts }], async (ctx, [x]) => {
        const tS = L.mulScalarS(x, 1n << BigInt(CHEB_GUARD_BITS)); // t at scale s (exact)
        const b = await chebyshevBasis(ctx, tS, s, 16);
        // 'dealer': the last level (T_9..T_16) stays untruncated at scale 2s.
        assert.deepEqual([...b.wide.keys()], truncation === 'dealer' ? [9, 10, 11, 12, 13, 14, 15, 16] : []);
        const [p] = await chebyshevSums(ctx, b, [{ coeffs }]);
        // T_k at scale s (2s if wide), reinterpreted at scale f by dividing by 2^3 (2^(2s−f)) below.
        return [b.basis[2], b.basis[7], b.wide.get(16) ?? b.basis[16], p];
      });
      const tv = run.inputs[0];
      const [t2, t7, t16, p] = run.outputs;
      const scaleBack = (a: Float64Array): number[] => Array.from(a, (v) => v / 2 ** CHEB_GUARD_BITS);
      const e2 = maxAbsError(
        scaleBack(t2),
        Array.from(tv, (v) => Math.cos(2 * Math.acos(v))),
      ).max;
      const e7 = maxAbsError(
        scaleBack(t7),
        Array.from(tv, (v) => Math.cos(7 * Math.acos(v))),
      ).max;
      const e16 = maxAbsError(
        truncation === 'dealer' ? Array.from(t16, (v) => v / 2 ** (2 * s - 16)) : scaleBack(t16),
        Array.from(tv, (v) => Math.cos(16 * Math.acos(v))),
      ).max;
      const ep = maxAbsError(
        p,
        Array.from(tv, (v) => chebyshevValue(coeffs, v)),
      ).max;
      t.diagnostic(
        `max |T_2| err ${e2.toExponential(2)}, |T_7| ${e7.toExponential(2)}, |T_16| ${e16.toExponential(2)}, |p| ${ep.toExponential(2)}`,
      );
      // T_k error grows like k²·2^−(s+1) at worst (derivative of T_k); the sum is within ~2 LSB.
      assert.ok(e2 <= 4 * 2 ** -s && e7 <= 49 * 2 ** -s && e16 <= 256 * 2 ** -s, 'basis error');
      assert.ok(ep <= 3 * 2 ** -16, `sum error ${ep}`);
      const rounds = chebyshevRounds({ truncation, mode }, 16, { scale: s, valueBound: coefficientBound(coeffs) });
      // local: 4 levels; semi-honest dealer: δ_1 + 3 fused level truncations + the sum's; malicious: 4·2.
      assert.equal(rounds, truncation === 'local' ? 4 : mode === 'semi-honest' ? 5 : 8);
      for (const c of run.costs) assert.equal(c.rounds, rounds);
    });
  }

  test('fused levels (semi-honest, dealer truncation) at every degree 3..17 and 3 parties: sums match float64 at the documented rounds and openings', async () => {
    const ts = grid(-1, 1, 257);
    const s = 16 + CHEB_GUARD_BITS;
    for (const [degree, n] of [
      [3, 2],
      [4, 2],
      [5, 3],
      [6, 2],
      [7, 2],
      [9, 3],
      [12, 2],
      [17, 2],
    ] as const) {
      const coeffs = Array.from({ length: degree + 1 }, (_, k) => (k % 2 === 0 ? 0.6 : -0.3) / (k + 1));
      const run = await runApprox({ truncation: 'dealer', n }, [{ shape: [ts.length], values: ts }], async (ctx, [x]) => {
        const b = await chebyshevBasis(ctx, L.mulScalarS(x, 1n << BigInt(CHEB_GUARD_BITS)), s, degree);
        return chebyshevSums(ctx, b, [{ coeffs }]);
      });
      const err = maxAbsError(
        run.outputs[0],
        Array.from(run.inputs[0], (v) => chebyshevValue(coeffs, v)),
      ).max;
      assert.ok(err <= 3 * 2 ** -16, `degree ${degree}: sum error ${err}`);
      const rounds = chebyshevRounds({ truncation: 'dealer', mode: 'semi-honest' }, degree, {
        scale: s,
        valueBound: coefficientBound(coeffs),
      });
      assert.equal(rounds, chebyshevLevels(degree) + 1, `degree ${degree}`);
      // Openings per element: δ_1, each T_k below the last level, the sum (8 bytes to each peer).
      const plan = chebyshevPlan(degree);
      const below = plan.levels.slice(0, -1).reduce((c, l) => c + l.js.length, 0);
      for (const c of run.costs) {
        assert.equal(c.rounds, rounds, `degree ${degree}`);
        assert.equal(c.bytesSent, (2 + below) * ts.length * 8 * (n - 1), `degree ${degree} bytes`);
      }
    }
  });
});
