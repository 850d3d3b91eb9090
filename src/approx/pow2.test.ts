import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runApprox } from '../../test/helpers/approx-harness.ts';
import * as L from '../sharing/linear.ts';
import { pow2BucketRounds, pow2Buckets, scaleByBuckets, scaleByBucketsRounds } from './pow2.ts';

const LSB = 2 ** -16;

describe('power-of-two buckets', () => {
  for (const truncation of ['local', 'dealer'] as const) {
    test(`indicators are one-hot and exact at every threshold; normalization lands in [1, 2] (${truncation})`, async () => {
      const [lo, hi] = [-3, 5];
      const xs: number[] = [2 ** lo, 2 ** lo - LSB, 2 ** hi, 2 ** hi + 1];
      for (let j = lo + 1; j < hi; j++) xs.push(2 ** j - LSB, 2 ** j, 2 ** j + LSB, 1.5 * 2 ** j);
      const k = hi - lo;
      const run = await runApprox({ truncation }, [{ shape: [xs.length], values: xs }], async (ctx, [x]) => {
        const ind = await pow2Buckets(ctx, x, lo, hi);
        const exps = ind.map((_, i) => -(lo + i));
        const xt = await scaleByBuckets(
          ctx,
          ind,
          ind.map(() => x),
          exps,
        );
        return [...ind, xt];
      });
      const scale = 2 ** 16;
      run.inputs[0].forEach((x, i) => {
        const bits = run.outputs.slice(0, k).map((o) => o[i] * scale);
        const j = Math.min(hi - 1, Math.max(lo, Math.floor(Math.log2(x))));
        assert.deepEqual(
          bits,
          bits.map((_, b) => (b === j - lo ? 1 : 0)),
          `x = ${x}`,
        );
        const xt = run.outputs[k][i];
        assert.ok(Math.abs(xt - x * 2 ** -j) <= LSB, `x̃(${x}) = ${xt}`);
      });
      const rounds = pow2BucketRounds({ mode: run.mode, compareBits: 40 }, lo, hi) + scaleByBucketsRounds({ truncation }, [3, -4]);
      for (const c of run.costs) assert.equal(c.rounds, rounds);
    });
  }

  test('one bucket needs no comparison; only non-negative exponents need no truncation', async () => {
    const run = await runApprox({ truncation: 'dealer' }, [{ shape: [3], values: [0.5, 0.75, 1] }], async (ctx, [x]) => {
      const ind = await pow2Buckets(ctx, x, -1, 0);
      return scaleByBuckets(ctx, ind, [L.reshapeS(x, [3])], [1]);
    });
    assert.deepEqual(Array.from(run.outputs[0]), [1, 1.5, 2]);
    assert.equal(run.costs[0].rounds, 1);
  });
});
