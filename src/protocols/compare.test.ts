import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Z128, Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import { makeDealer, measure, MODES, PARTY_COUNTS, runParties } from '../../test/helpers/parties.ts';
import { comparatorDigits, oneHotRows } from '../preprocessing/compare-digits.ts';
import { ltz, ltzCost, ltzRounds, relu, reluCost } from './compare.ts';
import { argmax, argmaxCost, max, maxCost } from './select.ts';
import { reveal } from './reveal.ts';

const BITS = 20;
const LIMIT = (1 << BITS) - 1;

function asRing(ring: typeof Z64, values: number[]): T.RingTensor {
  // Malicious ring: sign-extend to 128 bits, as fixed-point encoding does.
  return T.fromBigInts(
    ring,
    [values.length],
    values.map((v) => BigInt(v)),
  );
}
const low = (t: T.RingTensor): bigint[] => Array.from({ length: T.sizeOf(t.shape) }, (_, i) => BigInt.asIntN(64, t.data[i * t.ring.limbs]));

for (const mode of MODES) {
  for (const n of PARTY_COUNTS) {
    describe(`comparison, ${n} parties, ${mode}`, () => {
      const ring = mode === 'malicious' ? Z128 : Z64;

      test('ltz is exact inside |x| < 2^ℓ, including the edges, at the documented cost', async () => {
        const edges = [0, -1, 1, LIMIT, -LIMIT, 2, -2, 1 << (BITS - 1), -(1 << (BITS - 1))];
        await fc.assert(
          fc.asyncProperty(fc.array(fc.integer({ min: -LIMIT, max: LIMIT }), { minLength: 1, maxLength: 24 }), async (vals) => {
            const values = [...edges, ...vals];
            const dealer = makeDealer(n, mode);
            const xs = dealer.shareForTest(asRing(ring, values));
            const { results } = await runParties(
              dealer,
              async (ctx) => {
                const m = await measure(ctx, () => ltz(ctx, xs[ctx.id], BITS));
                return { bits: (await reveal(ctx, [m.value]))[0], cost: m.cost };
              },
              { compareBits: BITS },
            );
            const expectedCost = ltzCost({ n, ring, mode }, values.length, BITS);
            for (const r of results) {
              assert.deepEqual(
                low(r.bits),
                values.map((v) => (v < 0 ? 1n : 0n)),
              );
              assert.equal(r.cost.rounds, expectedCost.rounds);
              assert.equal(r.cost.bytesSent, expectedCost.bytes);
            }
          }),
          { numRuns: 8 },
        );
      });

      test('relu gives [x ≥ 0] and max(x, 0) exactly inside |x| < 2^ℓ, at the documented cost', async () => {
        const edges = [0, -1, 1, LIMIT, -LIMIT, 2, -2, 1 << (BITS - 1), -(1 << (BITS - 1))];
        await fc.assert(
          fc.asyncProperty(fc.array(fc.integer({ min: -LIMIT, max: LIMIT }), { minLength: 1, maxLength: 40 }), async (vals) => {
            const values = [...edges, ...vals];
            const dealer = makeDealer(n, mode);
            const xs = dealer.shareForTest(asRing(ring, values));
            const { results } = await runParties(
              dealer,
              async (ctx) => {
                const m = await measure(ctx, () => relu(ctx, xs[ctx.id], BITS));
                return { out: await reveal(ctx, [m.value.geq, m.value.relu]), cost: m.cost };
              },
              { compareBits: BITS },
            );
            const expectedCost = reluCost({ n, ring, mode }, values.length, BITS);
            for (const r of results) {
              assert.deepEqual(
                low(r.out[0]),
                values.map((v) => (v >= 0 ? 1n : 0n)),
              );
              assert.deepEqual(
                low(r.out[1]),
                values.map((v) => BigInt(Math.max(v, 0))),
              );
              assert.equal(r.cost.rounds, expectedCost.rounds);
              assert.equal(r.cost.rounds, ltzRounds(mode, BITS) + (mode === 'semi-honest' ? 0 : 1));
              assert.equal(r.cost.bytesSent, expectedCost.bytes);
            }
          }),
          { numRuns: 6 },
        );
      });

      test('max and argmax match plaintext over rows (ties pick the lowest index), at the documented cost', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 1, max: 13 }),
            fc.array(fc.integer({ min: -(1 << 18), max: 1 << 18 }), { minLength: 39, maxLength: 39 }),
            async (rows, len, pool) => {
              // Small pool of values so that ties are frequent.
              const values = Array.from({ length: rows * len }, (_, i) => pool[i % 7] ?? 0);
              const dealer = makeDealer(n, mode);
              const xs = dealer.shareForTest(T.fromBigInts(ring, [rows, len], values.map(BigInt)));
              const { results } = await runParties(
                dealer,
                async (ctx) => {
                  const m = await measure(ctx, () => argmax(ctx, xs[ctx.id], BITS));
                  const mx = await measure(ctx, () => max(ctx, xs[ctx.id], BITS));
                  return { out: await reveal(ctx, [m.value.max, m.value.index, mx.value]), cost: m.cost, maxCost: mx.cost };
                },
                { compareBits: BITS },
              );
              const expectedCost = argmaxCost({ n, ring, mode }, rows, len, BITS);
              const expectedMaxCost = maxCost({ n, ring, mode }, rows, len, BITS);
              for (let r = 0; r < rows; r++) {
                const row = values.slice(r * len, (r + 1) * len);
                const best = Math.max(...row);
                const [gotMax, gotIdx, gotMax2] = results[0].out.map(low);
                assert.equal(gotMax[r], BigInt(best));
                assert.equal(gotMax2[r], BigInt(best));
                assert.equal(gotIdx[r], BigInt(row.indexOf(best)));
              }
              for (const res of results) {
                assert.equal(res.cost.rounds, expectedCost.rounds);
                assert.equal(res.cost.bytesSent, expectedCost.bytes);
                // max: no index. Malicious: the same rounds, one product per pair; semi-honest:
                // the select folded into the comparison (relu), so only the comparisons' rounds.
                const levels = Math.ceil(Math.log2(len));
                assert.equal(res.maxCost.rounds, expectedMaxCost.rounds);
                assert.equal(res.maxCost.rounds, mode === 'semi-honest' ? levels * ltzRounds(mode, BITS) : expectedCost.rounds);
                assert.equal(res.maxCost.bytesSent, expectedMaxCost.bytes);
                if (len > 2) assert.ok(expectedMaxCost.bytes < expectedCost.bytes);
              }
            },
          ),
          { numRuns: 8 },
        );
      });
    });
  }
}

test('semi-honest ltz is exact for every digit layout of the mask (1 to 62 bits), at the documented cost', async () => {
  // ℓ = 1, 2, 3: one or two digits (no AND level); 12: two 6-bit digits; 17, 40: four and eight
  // digits; 33, 62: digits that straddle the 32-bit halves of r.
  for (const bits of [1, 2, 3, 12, 17, 33, 40, 62]) {
    const limit = 2n ** BigInt(bits) - 1n;
    const spread = Array.from({ length: 70 }, (_, i) => (limit * BigInt(2 * i - 69)) / 69n + BigInt(i % 3) - 1n);
    const values = [0n, -1n, 1n, limit, -limit, ...spread.filter((v) => v <= limit && v >= -limit)];
    const dealer = makeDealer(2, 'semi-honest');
    const xs = dealer.shareForTest(T.fromBigInts(Z64, [values.length], values));
    const { results } = await runParties(
      dealer,
      async (ctx) => {
        const m = await measure(ctx, () => ltz(ctx, xs[ctx.id], bits));
        return { bits: (await reveal(ctx, [m.value]))[0], cost: m.cost };
      },
      { compareBits: Math.max(2, bits) },
    );
    const expectedCost = ltzCost({ n: 2, ring: Z64, mode: 'semi-honest' }, values.length, bits);
    for (const r of results) {
      assert.deepEqual(
        low(r.bits),
        values.map((v) => (v < 0n ? 1n : 0n)),
        `ℓ = ${bits}`,
      );
      assert.equal(r.cost.rounds, expectedCost.rounds, `rounds at ℓ = ${bits}`);
      assert.equal(r.cost.bytesSent, expectedCost.bytes, `bytes at ℓ = ${bits}`);
    }
  }
});

test("semi-honest relu is exact for every digit layout of the mask (1 to 62 bits), in the comparison's rounds and bytes", async () => {
  for (const bits of [1, 2, 3, 12, 17, 33, 40, 62]) {
    const limit = 2n ** BigInt(bits) - 1n;
    const spread = Array.from({ length: 70 }, (_, i) => (limit * BigInt(2 * i - 69)) / 69n + BigInt(i % 3) - 1n);
    const values = [0n, -1n, 1n, limit, -limit, ...spread.filter((v) => v <= limit && v >= -limit)];
    const dealer = makeDealer(2, 'semi-honest');
    const xs = dealer.shareForTest(T.fromBigInts(Z64, [values.length], values));
    const { results } = await runParties(
      dealer,
      async (ctx) => {
        const m = await measure(ctx, () => relu(ctx, xs[ctx.id], bits));
        return { out: await reveal(ctx, [m.value.geq, m.value.relu]), cost: m.cost };
      },
      { compareBits: Math.max(2, bits) },
    );
    const expectedCost = ltzCost({ n: 2, ring: Z64, mode: 'semi-honest' }, values.length, bits);
    for (const r of results) {
      assert.deepEqual(
        low(r.out[0]),
        values.map((v) => (v >= 0n ? 1n : 0n)),
        `ℓ = ${bits}`,
      );
      assert.deepEqual(
        low(r.out[1]),
        values.map((v) => (v > 0n ? v : 0n)),
        `ℓ = ${bits}`,
      );
      assert.equal(r.cost.rounds, expectedCost.rounds, `rounds at ℓ = ${bits}`);
      assert.equal(r.cost.bytesSent, expectedCost.bytes, `bytes at ℓ = ${bits}`);
    }
  }
});

test('comparator digits: widths ≤ 8 bits summing to ℓ, depth ⌈log2 D⌉ minimal, fewest one-hot rows among those', () => {
  for (let bits = 1; bits <= 62; bits++) {
    const widths = comparatorDigits(bits);
    assert.equal(
      widths.reduce((s, w) => s + w, 0),
      bits,
    );
    assert.ok(widths.every((w) => w >= 1 && w <= 8));
    assert.equal(
      oneHotRows(bits),
      widths.reduce((s, w) => s + 2 ** w, 0),
    );
    const depth = Math.max(1, Math.ceil(Math.log2(widths.length)));
    assert.equal(depth, Math.max(1, Math.ceil(Math.log2(Math.ceil(bits / 8)))), `depth at ℓ = ${bits}`);
  }
  assert.deepEqual(comparatorDigits(40), [5, 5, 5, 5, 5, 5, 5, 5]);
  assert.equal(ltzRounds('semi-honest', 40), 4);
  assert.equal(ltzRounds('malicious', 40), 7);
});
