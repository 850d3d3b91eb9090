import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Z128, Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import { makeDealer, measure, MODES, PARTY_COUNTS, runParties } from '../../test/helpers/parties.ts';
import { reveal } from './reveal.ts';
import { maskedHighForm, truncate, truncateBytes, truncateRounds } from './truncate.ts';
import type { TruncationMethod } from './context.ts';

const F = 16;
const floorShift = (x: bigint): bigint => x >> BigInt(F); // bigint >> is floor division

const cases: { mode: (typeof MODES)[number]; n: number; method: TruncationMethod }[] = [];
for (const mode of MODES) for (const n of PARTY_COUNTS) cases.push({ mode, n, method: 'dealer' });
cases.push({ mode: 'semi-honest', n: 2, method: 'local' });

for (const { mode, n, method } of cases) {
  describe(`truncation (${method}), ${n} parties, ${mode}`, () => {
    const ring = mode === 'malicious' ? Z128 : Z64;
    // Dealer truncation is exact (±1 LSB) for every |x| < 2^62; local for |x| < 2^40 here.
    const bound = method === 'dealer' ? (1n << 62n) - 1n : (1n << 40n) - 1n;

    test(`result − ⌊x/2^${F}⌋ ∈ {0, 1} for |x| < 2^${method === 'dealer' ? 62 : 40}, at the documented cost`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.bigInt({ min: -bound, max: bound }), { minLength: 1, maxLength: 40 }), async (vals) => {
          const values = [0n, -1n, 1n, bound, -bound, ...vals];
          const dealer = makeDealer(n, mode);
          const xs = dealer.shareForTest(T.fromBigInts(ring, [values.length], values));
          const { results } = await runParties(
            dealer,
            async (ctx) => {
              const m = await measure(ctx, () => truncate(ctx, xs[ctx.id], F));
              return { y: (await reveal(ctx, [m.value]))[0], cost: m.cost };
            },
            { truncation: method },
          );
          for (const r of results) {
            values.forEach((v, i) => {
              const got = BigInt.asIntN(64, r.y.data[i]);
              const d = got - floorShift(v);
              assert.ok(d === 0n || d === 1n, `x = ${v}: got ${got}, ⌊x/2^16⌋ = ${floorShift(v)}`);
            });
            assert.equal(r.cost.rounds, truncateRounds({ truncation: method }));
            assert.equal(r.cost.bytesSent, truncateBytes({ truncation: method, n, ring }, values.length));
          }
        }),
        { numRuns: 10 },
      );
    });
  });
}

test('semi-honest dealer truncation is within one LSB for every shift from 1 to 62 (fused local step)', async () => {
  for (const shift of [1, 2, 16, 30, 31, 32, 33, 40, 61, 62]) {
    const bound = (1n << 62n) - 1n;
    const values = [0n, -1n, 1n, bound, -bound, 12345678901234n, -98765432109876n, (1n << 40n) + 3n, -(1n << 33n) - 7n];
    const dealer = makeDealer(2, 'semi-honest');
    const xs = dealer.shareForTest(T.fromBigInts(Z64, [values.length], values));
    const { results } = await runParties(dealer, async (ctx) => (await reveal(ctx, [await truncate(ctx, xs[ctx.id], shift)]))[0], {
      truncation: 'dealer',
    });
    values.forEach((v, i) => {
      const d = BigInt.asIntN(64, results[0].data[i]) - (v >> BigInt(shift));
      assert.ok(d === 0n || d === 1n, `shift ${shift}, x = ${v}: off by ${d}`);
    });
  }
});

test('maskedHighForm: the one-pass Z_2^64 form equals its definition and the Z_2^128 path on the low word (shifts 0..63, any offset)', () => {
  const m64 = (1n << 64n) - 1n;
  fc.assert(
    fc.property(
      fc.array(fc.bigInt({ min: 0n, max: m64 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 0, max: 63 }),
      fc.bigInt({ min: -(1n << 63n), max: m64 }),
      (words, shift, offset) => {
        const values = [0n, m64, 1n << 63n, (1n << 63n) - 1n, ...words];
        const k = 1n << BigInt(63 - shift);
        const got = maskedHighForm(T.fromBigInts(Z64, [values.length], values), shift, offset);
        // Z_2^128 elements with the same low words take the general path.
        const wide = maskedHighForm(T.fromBigInts(Z128, [values.length], values), shift, offset);
        values.forEach((c, i) => {
          const msb = c >> 63n;
          const pub = BigInt.asUintN(64, ((c & ((1n << 63n) - 1n)) >> BigInt(shift)) + msb * k + offset);
          const coef = BigInt.asUintN(64, (1n - 2n * msb) * k);
          assert.equal(got.pub.data[i], pub, `pub of c = ${c}, shift ${shift}`);
          assert.equal(got.rMsbCoef.data[i], coef, `rMsbCoef of c = ${c}, shift ${shift}`);
          assert.equal(wide.pub.data[2 * i], pub);
          assert.equal(wide.rMsbCoef.data[2 * i], coef);
        });
      },
    ),
    { numRuns: 200 },
  );
});
