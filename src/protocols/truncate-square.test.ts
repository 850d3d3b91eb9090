import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import { makeDealer, measure, runParties } from '../../test/helpers/parties.ts';
import { reveal } from './reveal.ts';
import { truncateAndSquare } from './truncate-square.ts';

const signed = (x: bigint): bigint => BigInt.asIntN(64, x);

test('truncateAndSquare: y − ⌊x/2^k⌋ ∈ {0, 1} and y² exact mod 2^64, 2 and 3 parties, shifts 1..62, one round and one opening', async () => {
  for (const [n, shift, bound] of [
    [2, 31, (1n << 61n) - 1n],
    [3, 31, (1n << 61n) - 1n],
    [2, 1, (1n << 40n) - 1n],
    [2, 16, (1n << 62n) - 1n],
    [2, 62, (1n << 62n) - 1n],
  ] as const) {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.bigInt({ min: -bound, max: bound }), { minLength: 1, maxLength: 30 }), async (vals) => {
        const values = [0n, -1n, 1n, bound, -bound, ...vals];
        const dealer = makeDealer(n, 'semi-honest');
        const xs = dealer.shareForTest(T.fromBigInts(Z64, [values.length], values));
        const { results } = await runParties(
          dealer,
          async (ctx) => {
            const m = await measure(ctx, () => truncateAndSquare(ctx, xs[ctx.id], shift));
            const [y, sq] = await reveal(ctx, [m.value.value, m.value.square]);
            return { y, sq, cost: m.cost };
          },
          { truncation: 'dealer' },
        );
        for (const r of results) {
          values.forEach((v, i) => {
            const y = signed(r.y.data[i]);
            const d = y - (v >> BigInt(shift));
            assert.ok(d === 0n || d === 1n, `k = ${shift}, x = ${v}: y = ${y}, off by ${d}`);
            assert.equal(r.sq.data[i], BigInt.asUintN(64, y * y), `k = ${shift}, x = ${v}: y² of y = ${y}`);
          });
          assert.equal(r.cost.rounds, 1);
          assert.equal(r.cost.bytesSent, (n - 1) * 8 * values.length);
        }
      }),
      { numRuns: 6 },
    );
  }
});

test('truncateAndSquare: squares at fixed-point scale (y at 28 bits, y² at 56) match float64', async () => {
  const reals = [0, 1, -1, 0.5, 1.2840254166877414, -0.75, 0.0235177458560091, 1.6487212707001282];
  const values = reals.map((v) => BigInt(Math.round(v * 2 ** 40)));
  const dealer = makeDealer(2, 'semi-honest');
  const xs = dealer.shareForTest(T.fromBigInts(Z64, [values.length], values));
  const { results } = await runParties(
    dealer,
    async (ctx) => {
      const r = await truncateAndSquare(ctx, xs[ctx.id], 12);
      return (await reveal(ctx, [r.square]))[0];
    },
    { truncation: 'dealer' },
  );
  reals.forEach((v, i) => assert.ok(Math.abs(Number(signed(results[0].data[i])) / 2 ** 56 - v * v) < 2 ** -26, `(${v})²`));
});

test('truncateAndSquare is refused outside semi-honest dealer truncation and for shifts outside [1, 62]', async () => {
  for (const [mode, truncation] of [
    ['malicious', 'dealer'],
    ['semi-honest', 'local'],
  ] as const) {
    const dealer = makeDealer(2, mode);
    const xs = dealer.shareForTest(T.fromBigInts(dealer.ring, [2], [1n, 2n]));
    await assert.rejects(
      runParties(dealer, (ctx) => truncateAndSquare(ctx, xs[ctx.id], 16), { truncation }),
      /semi-honest Z_2\^64 with dealer truncation only/,
    );
  }
  for (const shift of [0, 63, 1.5]) {
    const dealer = makeDealer(2, 'semi-honest');
    const xs = dealer.shareForTest(T.fromBigInts(Z64, [2], [1n, 2n]));
    await assert.rejects(
      runParties(dealer, (ctx) => truncateAndSquare(ctx, xs[ctx.id], shift), { truncation: 'dealer' }),
      /shift must be an integer in \[1, 62\], got/,
    );
  }
});
