import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import { makeDealer, measure, runParties } from '../../test/helpers/parties.ts';
import { PooledTripleSource } from '../preprocessing/pooled-source.ts';
import { reveal } from './reveal.ts';
import { maskTruncatedRows, mulTruncatedRows, truncateForRows } from './truncate-row-product.ts';

const signed = (x: bigint): bigint => BigInt.asIntN(64, x);
const low64 = (t: T.RingTensor): bigint[] =>
  Array.from({ length: T.sizeOf(t.shape) }, (_, i) => BigInt.asUintN(64, t.data[i * t.ring.limbs]));

/**
 * Runs truncateForRows, an optional public mask, then mulTruncatedRows, and checks y − ⌊x/2^k⌋ ∈
 * {0, 1} (times the mask) and y ⊙ v equal to the ring product of the revealed y and v; returns
 * each step's cost.
 */
async function check(
  o: { n: number; mode: 'semi-honest' | 'malicious'; truncation: 'dealer' | 'local'; shift: number; rows: number; len: number },
  values: readonly bigint[],
  v: readonly bigint[],
  mask?: readonly number[],
): Promise<{ truncCost: { rounds: number; bytesSent: number }; mulCost: { rounds: number; bytesSent: number } }[]> {
  const { n, mode, truncation, shift, rows, len } = o;
  const dealer = makeDealer(n, mode);
  const xs = dealer.shareForTest(T.fromBigInts(dealer.ring, [rows, len], [...values]));
  const vs = dealer.shareForTest(T.fromBigInts(dealer.ring, [rows], [...v]));
  const maskT = mask && T.fromBigInts(dealer.ring, [rows, len], mask.map(BigInt));
  const { results } = await runParties(
    dealer,
    async (ctx) => {
      const t = await measure(ctx, () => truncateForRows(ctx, xs[ctx.id], shift, rows, len));
      const y = maskT ? maskTruncatedRows(t.value, maskT) : t.value;
      const p = await measure(ctx, () => mulTruncatedRows(ctx, y, vs[ctx.id]));
      const [yv, pv] = await reveal(ctx, [y.value, p.value]);
      return { yv, pv, shape: p.value.shape, truncCost: t.cost, mulCost: p.cost };
    },
    { truncation },
  );
  for (const r of results) {
    assert.deepEqual(r.shape, [rows, len]);
    const ys = low64(r.yv);
    values.forEach((x, i) => {
      const keep = mask ? BigInt(mask[i]) : 1n;
      const d = signed(ys[i]) - keep * (x >> BigInt(shift));
      assert.ok(d === 0n || d === keep, `k = ${shift}, x = ${x}, mask ${keep}: y = ${signed(ys[i])}, off by ${d}`);
    });
    assert.deepEqual(
      low64(r.pv),
      ys.map((y, i) => BigInt.asUintN(64, y * v[Math.floor(i / len)])),
      'y ⊙ v is the ring product of y and v',
    );
  }
  return results.map((r) => ({ truncCost: r.truncCost, mulCost: r.mulCost }));
}

test('truncateForRows then mulTruncatedRows: exact truncation and ring product, 2 and 3 parties, shifts 1..62; the product opens one element per row', async () => {
  for (const [n, shift, bound] of [
    [2, 37, (1n << 61n) - 1n],
    [3, 37, (1n << 61n) - 1n],
    [2, 1, (1n << 40n) - 1n],
    [2, 16, (1n << 62n) - 1n],
    [2, 62, (1n << 62n) - 1n],
  ] as const) {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.bigInt({ min: -bound, max: bound }), { minLength: 6, maxLength: 6 }),
        fc.array(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), { minLength: 3, maxLength: 3 }),
        async (rows, vals, v) => {
          const len = 6;
          const values = Array.from({ length: rows * len }, (_, i) => [0n, -1n, 1n, bound, -bound, ...vals][(i * 7) % 11]);
          const costs = await check({ n, mode: 'semi-honest', truncation: 'dealer', shift, rows, len }, values, v.slice(0, rows));
          for (const c of costs) {
            assert.deepEqual(c.truncCost, { ...c.truncCost, rounds: 1, bytesSent: (n - 1) * 8 * rows * len });
            assert.deepEqual(c.mulCost, { ...c.mulCost, rounds: 1, bytesSent: (n - 1) * 8 * rows });
          }
        },
      ),
      { numRuns: 5 },
    );
  }
});

test('a public mask (causal attention) multiplies y and keeps the product local but for one opening per row', async () => {
  const [rows, len] = [2, 5];
  const values = [1n << 40n, -(1n << 40n), 12345678901n, -5n, 0n, 7n << 30n, -(3n << 35n), 99n, 1n << 45n, -(1n << 44n)];
  const mask = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0];
  const v = [(1n << 20n) + 3n, -(1n << 18n)];
  for (const n of [2, 3]) {
    const costs = await check({ n, mode: 'semi-honest', truncation: 'dealer', shift: 19, rows, len }, values, v, mask);
    for (const c of costs) assert.equal(c.mulCost.bytesSent, (n - 1) * 8 * rows);
  }
});

test('malicious mode and local truncation fall back to truncate + mulRows with the same results', async () => {
  const [rows, len] = [2, 3];
  const values = [1n << 40n, -(1n << 39n), 5n << 20n, -7n, 0n, 3n << 33n];
  const v = [1n << 19n, -(3n << 17n)];
  for (const [mode, truncation] of [
    ['malicious', 'dealer'],
    ['semi-honest', 'local'],
  ] as const) {
    const costs = await check({ n: 2, mode, truncation, shift: 16, rows, len }, values, v, [1, 0, 1, 1, 1, 0]);
    // mulRows opens y again (rows·len elements, or a Beaver product in malicious mode).
    for (const c of costs) assert.ok(c.mulCost.bytesSent >= 8 * rows * len, `${mode}/${truncation}: ${c.mulCost.bytesSent} bytes`);
  }
});

test('a truncation serves one product only; bad shapes and shifts are refused', async () => {
  const dealer = makeDealer(2, 'semi-honest');
  const x = dealer.shareForTest(T.fromBigInts(Z64, [2, 4], [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]));
  const v = dealer.shareForTest(T.fromBigInts(Z64, [2], [1n, 2n]));
  await runParties(
    dealer,
    async (ctx) => {
      const t = await truncateForRows(ctx, x[ctx.id], 4, 2, 4);
      await mulTruncatedRows(ctx, t, v[ctx.id]);
      await assert.rejects(mulTruncatedRows(ctx, t, v[ctx.id]), /has served its product/);
      assert.throws(() => maskTruncatedRows(t, T.fill(Z64, [8], 1n)), /has served its product/);
      assert.throws(() => maskTruncatedRows(t, T.fill(Z64, [6], 1n)), /mask has 6 elements, expected 8/);
      await assert.rejects(truncateForRows(ctx, x[ctx.id], 4, 3, 4), /x has 8 elements, expected rows·len = 3·4/);
      for (const shift of [0, 63, 1.5])
        await assert.rejects(truncateForRows(ctx, x[ctx.id], shift, 2, 4), /shift must be an integer in \[1, 62\]/);
      const fresh = await truncateForRows(ctx, x[ctx.id], 4, 2, 4);
      await assert.rejects(mulTruncatedRows(ctx, fresh, x[ctx.id]), /v has 8 elements, expected one per row \(2\)/);
    },
    { truncation: 'dealer' },
  );
});

test('truncation masks with row products come from a pooled source in classes of 64 columns (the first len kept)', async () => {
  const rows = 2;
  const lens = [5, 6, 70, 71];
  const dealer = makeDealer(2, 'semi-honest');
  const xs = lens.map((len, k) =>
    T.fromBigInts(
      Z64,
      [rows, len],
      Array.from({ length: rows * len }, (_, i) => BigInt(i * 1000003 + k) << 20n),
    ),
  );
  const vs = lens.map((_, k) => T.fromBigInts(Z64, [rows], [BigInt(k + 3), -BigInt(k + 5)]));
  const [xsh, vsh] = [xs.map((x) => dealer.shareForTest(x)), vs.map((v) => dealer.shareForTest(v))];
  const { results } = await runParties(
    dealer,
    async (ctx) => {
      const out = [];
      for (let k = 0; k < lens.length; k++) {
        const t = await truncateForRows(ctx, xsh[k][ctx.id], 16, rows, lens[k]);
        out.push(await reveal(ctx, [t.value, await mulTruncatedRows(ctx, t, vsh[k][ctx.id])]));
      }
      return { out, requests: ctx.material.stats.requests };
    },
    { truncation: 'dealer', wrapMaterial: (_id, source) => new PooledTripleSource(source, { batchSize: 4096 }) },
  );
  for (const { out, requests } of results) {
    // Class 64: batches of ⌊4096 / 321⌋ = 12 rows serve lengths 5 and 6; class 128 (⌊4096 / 641⌋ = 6
    // rows) serves 70 and 71 and is refilled ahead once below half: 3 requests instead of 4.
    assert.equal(requests, 3);
    lens.forEach((len, k) => {
      const [y, p] = out[k];
      assert.deepEqual(p.shape, [rows, len]);
      const x64 = low64(xs[k]);
      const y64 = low64(y);
      y64.forEach((yi, i) => {
        const d = signed(yi) - (signed(x64[i]) >> 16n);
        assert.ok(d === 0n || d === 1n, `len ${len}, element ${i}: off by ${d}`);
      });
      const v64 = low64(vs[k]);
      assert.deepEqual(
        low64(p),
        y64.map((yi, i) => BigInt.asUintN(64, yi * v64[Math.floor(i / len)])),
      );
    });
  }
});
