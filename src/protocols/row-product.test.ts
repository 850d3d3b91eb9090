import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { randomRingTensor } from '../crypto/prg.ts';
import { Z128, Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import { makeDealer, measure, MODES, PARTY_COUNTS, runParties } from '../../test/helpers/parties.ts';
import { PooledTripleSource } from '../preprocessing/pooled-source.ts';
import { reveal } from './reveal.ts';
import { mulMaskedRows, mulRows, mulRowsBytes, squareRows, squareThenMulRowsBytes } from './row-product.ts';

/** Low 64 bits of every element. */
const low64 = (t: T.RingTensor): bigint[] =>
  Array.from({ length: T.sizeOf(t.shape) }, (_, i) => BigInt.asUintN(64, t.data[i * t.ring.limbs]));

/** Plain x ⊙ y with y [rows] per row, in Z_2^64. */
function rowProduct(x: bigint[], y: bigint[], len: number): bigint[] {
  return x.map((v, i) => BigInt.asUintN(64, v * y[Math.floor(i / len)]));
}

for (const mode of MODES) {
  for (const n of PARTY_COUNTS) {
    describe(`row products, ${n} parties, ${mode}`, () => {
      const ring = mode === 'malicious' ? Z128 : Z64;

      test('mulRows, squareRows and mulMaskedRows equal the plaintext ring products (exact) at the documented cost', async () => {
        const [rows, len] = [3, 7];
        const dealer = makeDealer(n, mode);
        const x = randomRingTensor(ring, [rows, len]);
        const y = randomRingTensor(ring, [rows]);
        const w = randomRingTensor(ring, [rows]);
        const [xs, ys, ws] = [dealer.shareForTest(x), dealer.shareForTest(y), dealer.shareForTest(w)];
        const { results } = await runParties(dealer, async (ctx) => {
          const p = await measure(ctx, () => mulRows(ctx, xs[ctx.id], ys[ctx.id], rows, len));
          const sq = await measure(ctx, async () => {
            const s = await squareRows(ctx, xs[ctx.id], rows, len);
            return { ...s, then: await mulMaskedRows(ctx, s.rowsMasked, ws[ctx.id]) };
          });
          const [prod, square, then] = await reveal(ctx, [p.value, sq.value.square, sq.value.then]);
          return { prod, square, then, cost: p.cost, sqCost: sq.cost, shape: p.value.shape };
        });
        const [x64, y64, w64] = [low64(x), low64(y), low64(w)];
        for (const r of results) {
          assert.deepEqual(r.shape, [rows, len]);
          assert.deepEqual(low64(r.prod), rowProduct(x64, y64, len));
          assert.deepEqual(
            low64(r.square),
            x64.map((v) => BigInt.asUintN(64, v * v)),
          );
          assert.deepEqual(low64(r.then), rowProduct(x64, w64, len));
          assert.equal(r.cost.rounds, 1);
          assert.equal(r.cost.bytesSent, mulRowsBytes({ n, ring, mode }, rows, len));
          assert.equal(r.sqCost.rounds, 2);
          assert.equal(r.sqCost.bytesSent, squareThenMulRowsBytes({ n, ring, mode }, rows, len));
        }
        if (mode === 'semi-honest') {
          // y is masked once per row: (rows·len + rows) elements instead of 2·rows·len.
          assert.equal(mulRowsBytes({ n, ring, mode }, rows, len), (n - 1) * 8 * (rows * len + rows));
          assert.equal(squareThenMulRowsBytes({ n, ring, mode }, rows, len), (n - 1) * 8 * (rows * len + rows));
        }
      });

      if (mode === 'semi-honest')
        test('a squared row serves one product only; bad shapes are refused', async () => {
          const dealer = makeDealer(n, mode);
          const x = dealer.shareForTest(randomRingTensor(ring, [2, 4]));
          const y = dealer.shareForTest(randomRingTensor(ring, [2]));
          await runParties(dealer, async (ctx) => {
            const { rowsMasked } = await squareRows(ctx, x[ctx.id], 2, 4);
            await mulMaskedRows(ctx, rowsMasked, y[ctx.id]);
            await assert.rejects(mulMaskedRows(ctx, rowsMasked, y[ctx.id]), /has served its product/);
            await assert.rejects(mulRows(ctx, x[ctx.id], x[ctx.id], 2, 4), /y has 8 elements, expected one per row \(2\)/);
            await assert.rejects(mulRows(ctx, x[ctx.id], y[ctx.id], 3, 4), /x has 8 elements, expected 3·4/);
          });
        });
    });
  }
}

test('row products from a pooled source (norms: row triples with squares served from the pool)', async () => {
  const [rows, len] = [1, 6];
  const dealer = makeDealer(2, 'semi-honest');
  const x = randomRingTensor(Z64, [rows, len]);
  const ys = [0, 1, 2].map(() => randomRingTensor(Z64, [rows]));
  const xs = dealer.shareForTest(x);
  const yss = ys.map((y) => dealer.shareForTest(y));
  const { results } = await runParties(
    dealer,
    async (ctx) => {
      const out = [];
      for (const yShares of yss) {
        const { square, rowsMasked } = await squareRows(ctx, xs[ctx.id], rows, len);
        out.push(...(await reveal(ctx, [square, await mulMaskedRows(ctx, rowsMasked, yShares[ctx.id])])));
      }
      return { out, requests: ctx.material.stats.requests };
    },
    { wrapMaterial: (_id, source) => new PooledTripleSource(source, { batchSize: 64 }) },
  );
  const x64 = low64(x);
  for (const { out: r, requests } of results) {
    // Batches of ⌊64 / (3·6 + 1)⌋ = 3 rows: the first serves all three squares, the second is fetched ahead.
    assert.equal(requests, 2);
    for (let k = 0; k < 3; k++) {
      assert.deepEqual(
        low64(r[2 * k]),
        x64.map((v) => v * v).map((v) => BigInt.asUintN(64, v)),
      );
      assert.deepEqual(low64(r[2 * k + 1]), rowProduct(x64, low64(ys[k]), len));
    }
  }
});

test('row products from a pooled source (softmax: product-only row triples in classes of 64 columns, the first len kept)', async () => {
  const rows = 2;
  const lens = [5, 6, 70, 71];
  const dealer = makeDealer(2, 'semi-honest');
  const xs = lens.map((len) => randomRingTensor(Z64, [rows, len]));
  const ys = lens.map(() => randomRingTensor(Z64, [rows]));
  const [xsh, ysh] = [xs.map((x) => dealer.shareForTest(x)), ys.map((y) => dealer.shareForTest(y))];
  const { results } = await runParties(
    dealer,
    async (ctx) => {
      const out = [];
      for (let k = 0; k < lens.length; k++)
        out.push((await reveal(ctx, [await mulRows(ctx, xsh[k][ctx.id], ysh[k][ctx.id], rows, lens[k])]))[0]);
      return { out, requests: ctx.material.stats.requests };
    },
    { wrapMaterial: (_id, source) => new PooledTripleSource(source, { batchSize: 2048 }) },
  );
  for (const { out, requests } of results) {
    // Class 64: batches of ⌊2048 / 129⌋ = 15 rows serve lengths 5 and 6; class 128 (⌊2048 / 257⌋ = 7
    // rows) serves 70 and 71 and is refilled ahead once below half: 3 requests instead of 4.
    assert.equal(requests, 3);
    lens.forEach((len, k) => {
      assert.deepEqual(out[k].shape, [rows, len]);
      assert.deepEqual(low64(out[k]), rowProduct(low64(xs[k]), low64(ys[k]), len));
    });
  }
});
