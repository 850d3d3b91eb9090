import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Z128, Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import { makeDealer, measure, MODES, PARTY_COUNTS, runParties } from '../../test/helpers/parties.ts';
import { comparatorDigits, digitPlaces, oneHotRows } from '../preprocessing/compare-digits.ts';
import { ltz, ltzCost, ltzRounds, relu, reluAndCompare, reluAndCompareCost, reluCost } from './compare.ts';
import { argmax, argmaxCost, max, maxCost } from './select.ts';
import { reveal } from './reveal.ts';
import type { PartyContext } from './context.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

const BITS = 20;
const LIMIT = (1 << BITS) - 1;

const low = (t: T.RingTensor): bigint[] => Array.from({ length: T.sizeOf(t.shape) }, (_, i) => BigInt.asIntN(64, t.data[i * t.ring.limbs]));

/** Shares `values` among n parties, runs `protocol` on them and reveals its outputs (low 64 bits, signed); each party's measured cost. */
async function revealed(
  n: number,
  mode: (typeof MODES)[number],
  values: readonly bigint[],
  bits: number,
  protocol: (ctx: PartyContext, x: SecretTensor) => Promise<SecretTensor[]>,
): Promise<{ out: bigint[][]; cost: { rounds: number; bytesSent: number } }[]> {
  const dealer = makeDealer(n, mode);
  const xs = dealer.shareForTest(T.fromBigInts(mode === 'malicious' ? Z128 : Z64, [values.length], [...values]));
  const { results } = await runParties(
    dealer,
    async (ctx) => {
      const m = await measure(ctx, () => protocol(ctx, xs[ctx.id]));
      return { out: (await reveal(ctx, m.value)).map(low), cost: m.cost };
    },
    { compareBits: Math.max(2, bits) },
  );
  return results;
}

const EDGES = [0, -1, 1, LIMIT, -LIMIT, 2, -2, 1 << (BITS - 1), -(1 << (BITS - 1))];

for (const mode of MODES) {
  for (const n of PARTY_COUNTS) {
    describe(`comparison, ${n} parties, ${mode}`, () => {
      const ring = mode === 'malicious' ? Z128 : Z64;

      test('ltz and relu are exact inside |x| < 2^ℓ, including the edges, at the documented cost', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(fc.integer({ min: -LIMIT, max: LIMIT }), { minLength: 1, maxLength: 40 }), async (vals) => {
            const values = [...EDGES, ...vals].map(BigInt);
            const lt = await revealed(n, mode, values, BITS, async (ctx, x) => [await ltz(ctx, x, BITS)]);
            const rl = await revealed(n, mode, values, BITS, async (ctx, x) => {
              const r = await relu(ctx, x, BITS);
              return [r.geq, r.relu];
            });
            const ltzExpected = ltzCost({ n, ring, mode }, values.length, BITS);
            const reluExpected = reluCost({ n, ring, mode }, values.length, BITS);
            for (const r of lt) {
              assert.deepEqual(
                r.out[0],
                values.map((v) => (v < 0n ? 1n : 0n)),
              );
              assert.equal(r.cost.rounds, ltzExpected.rounds);
              assert.equal(r.cost.bytesSent, ltzExpected.bytes);
            }
            for (const r of rl) {
              assert.deepEqual(
                r.out[0],
                values.map((v) => (v >= 0n ? 1n : 0n)),
              );
              assert.deepEqual(
                r.out[1],
                values.map((v) => (v > 0n ? v : 0n)),
              );
              assert.equal(r.cost.rounds, reluExpected.rounds);
              assert.equal(r.cost.rounds, ltzRounds(mode, BITS) + (mode === 'semi-honest' ? 0 : 1));
              assert.equal(r.cost.bytesSent, reluExpected.bytes);
            }
          }),
          { numRuns: 6 },
        );
      });

      test('reluAndCompare: relu at one offset and the comparison at another of the same x, exact, at the documented cost', async () => {
        const B = 1000n;
        const [t1, t2] = [-(B + 1n), B];
        const half = LIMIT >> 1;
        await fc.assert(
          fc.asyncProperty(fc.array(fc.integer({ min: -half, max: half }), { minLength: 1, maxLength: 70 }), async (vals) => {
            // The edges of both offsets (x + t = −1, 0, 1) and of the range.
            const values = [...[B, B + 1n, B + 2n, -B, -B - 1n, -B + 1n, 0n, BigInt(half), BigInt(-half)], ...vals.map(BigInt)];
            const res = await revealed(n, mode, values, BITS, async (ctx, x) => {
              const r = await reluAndCompare(ctx, x, t1, t2, BITS);
              return [r.geq, r.relu, r.geqSecond];
            });
            const expected = reluAndCompareCost({ n, ring, mode }, values.length, BITS);
            for (const r of res) {
              assert.deepEqual(
                r.out[0],
                values.map((v) => (v + t1 >= 0n ? 1n : 0n)),
              );
              assert.deepEqual(
                r.out[1],
                values.map((v) => (v + t1 > 0n ? v + t1 : 0n)),
              );
              assert.deepEqual(
                r.out[2],
                values.map((v) => (v + t2 >= 0n ? 1n : 0n)),
              );
              assert.equal(r.cost.rounds, expected.rounds);
              assert.equal(r.cost.bytesSent, expected.bytes);
            }
            // Semi-honest: one opening for both, in one comparison's rounds.
            if (mode === 'semi-honest') {
              assert.equal(expected.rounds, ltzRounds(mode, BITS));
              // (The two comparisons' bit vectors lie at word-aligned offsets, so for a few elements
              // the padding outweighs the saved opening; at GeLU's 3,072 elements it is 8 B less each.)
              const gelu = 3072;
              const pair = reluAndCompareCost({ n, ring, mode }, gelu, 40).bytes;
              assert.equal(reluCost({ n, ring, mode }, 2 * gelu, 40).bytes - pair, (n - 1) * 8 * gelu);
            }
          }),
          { numRuns: 4 },
        );
      });

      test('coarse ltz and relu (low = k): exact outside [−2^k, 0), 0 or 1 inside, relu = bit·x, at the documented cost', async () => {
        const k = 6;
        const band = 1 << k;
        const top = LIMIT - band; // x < 2^ℓ − 2^k
        await fc.assert(
          fc.asyncProperty(fc.array(fc.integer({ min: -LIMIT, max: top }), { minLength: 1, maxLength: 40 }), async (vals) => {
            // Both edges of the band, inside it (x = −1 is reported ≥ 0 unless r's low k bits are 0), and the range.
            const edges = [-band - 1, -band, -band + 1, -(band >> 1), -2, -1, 0, 1, band, top, -LIMIT];
            const values = [...edges, ...Array.from({ length: 24 }, () => -1), ...vals].map(BigInt);
            const lt = await revealed(n, mode, values, BITS, async (ctx, x) => [await ltz(ctx, x, BITS, k)]);
            const rl = await revealed(n, mode, values, BITS, async (ctx, x) => {
              const r = await relu(ctx, x, BITS, k);
              return [r.geq, r.relu];
            });
            const inBand = (v: bigint): boolean => v >= -BigInt(band) && v < 0n;
            const ltzExpected = ltzCost({ n, ring, mode }, values.length, BITS, k);
            const reluExpected = reluCost({ n, ring, mode }, values.length, BITS, k);
            for (const r of lt) {
              values.forEach((v, i) => {
                if (inBand(v)) assert.ok(r.out[0][i] === 0n || r.out[0][i] === 1n, `ltz(${v}) = ${r.out[0][i]}`);
                else assert.equal(r.out[0][i], v < 0n ? 1n : 0n, `ltz(${v})`);
              });
              assert.equal(r.cost.rounds, ltzExpected.rounds);
              assert.equal(r.cost.bytesSent, ltzExpected.bytes);
            }
            for (const r of rl) {
              const [geq, value] = r.out;
              values.forEach((v, i) => {
                if (inBand(v)) assert.ok(geq[i] === 0n || geq[i] === 1n, `relu bit at ${v}: ${geq[i]}`);
                else assert.equal(geq[i], v >= 0n ? 1n : 0n, `relu bit at ${v}`);
                assert.equal(value[i], geq[i] * v, `relu(${v}) = bit·x`);
              });
              // x = −1 is in the band: coarse, it comes out ≥ 0 for all but a 2^−k fraction of masks.
              assert.ok(
                geq.slice(edges.length, edges.length + 24).some((b) => b === 1n),
                'the band is left to the mask',
              );
              assert.equal(r.cost.rounds, reluExpected.rounds);
              assert.equal(r.cost.bytesSent, reluExpected.bytes);
            }
            // Fewer compared bits: one round fewer at ℓ = 20, k = 6 (semi-honest: 2 digits instead of 3; malicious: 14 leaves instead of 20).
            assert.equal(ltzExpected.rounds, ltzRounds(mode, BITS) - 1);
            assert.ok(ltzExpected.bytes < ltzCost({ n, ring, mode }, values.length, BITS).bytes);
          }),
          { numRuns: 4 },
        );
        await assert.rejects(
          revealed(n, mode, [1n], BITS, async (ctx, x) => [await ltz(ctx, x, BITS, BITS)]),
          /low must be an integer in \[0, 19\]/,
        );
      });

      test('coarse max (low = k): one of the row values, at least the row max − ⌈log2 len⌉·2^k, at the documented cost', async () => {
        const k = 5;
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 3 }),
            fc.integer({ min: 2, max: 40 }),
            fc.array(fc.integer({ min: -(1 << 18), max: 1 << 18 }), { minLength: 120, maxLength: 120 }),
            fc.integer({ min: 0, max: 1 << 18 }),
            async (rows, len, pool, base) => {
              // Half the rows spread, half clustered within a few 2^k of each other (where coarse levels may pick the smaller).
              const values = Array.from({ length: rows * len }, (_, i) =>
                i % 2 === 0 ? pool[i % 120] : base + (pool[i % 120] % (4 << k)),
              );
              const dealer = makeDealer(n, mode);
              const xs = dealer.shareForTest(T.fromBigInts(ring, [rows, len], values.map(BigInt)));
              const { results } = await runParties(
                dealer,
                async (ctx) => {
                  const m = await measure(ctx, () => max(ctx, xs[ctx.id], BITS, k));
                  return { out: low((await reveal(ctx, [m.value]))[0]), cost: m.cost };
                },
                { compareBits: BITS },
              );
              const expected = maxCost({ n, ring, mode }, rows, len, BITS, k);
              const levels = Math.ceil(Math.log2(len));
              for (let r = 0; r < rows; r++) {
                const row = values.slice(r * len, (r + 1) * len);
                const got = Number(results[0].out[r]);
                assert.ok(row.includes(got), `row ${r}: ${got} is not one of its values`);
                assert.ok(got >= Math.max(...row) - levels * 2 ** k, `row ${r}: ${got} below max ${Math.max(...row)} − ${levels}·2^${k}`);
              }
              for (const res of results) {
                assert.equal(res.cost.rounds, expected.rounds);
                assert.equal(res.cost.bytesSent, expected.bytes);
              }
              assert.ok(expected.rounds < maxCost({ n, ring, mode }, rows, len, BITS).rounds);
            },
          ),
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

test("semi-honest ltz and relu are exact for every digit layout of the mask (1 to 62 bits), at the comparison's cost", async () => {
  // ℓ = 1, 2, 3: one or two digits (no AND level); 12: two 6-bit digits; 17, 40: four and eight
  // digits; 33, 62: digits that straddle the 32-bit halves of r.
  for (const bits of [1, 2, 3, 12, 17, 33, 40, 62]) {
    const limit = 2n ** BigInt(bits) - 1n;
    const spread = Array.from({ length: 70 }, (_, i) => (limit * BigInt(2 * i - 69)) / 69n + BigInt(i % 3) - 1n);
    const values = [0n, -1n, 1n, limit, -limit, ...spread.filter((v) => v <= limit && v >= -limit)];
    const expectedCost = ltzCost({ n: 2, ring: Z64, mode: 'semi-honest' }, values.length, bits);
    const lt = await revealed(2, 'semi-honest', values, bits, async (ctx, x) => [await ltz(ctx, x, bits)]);
    const rl = await revealed(2, 'semi-honest', values, bits, async (ctx, x) => {
      const r = await relu(ctx, x, bits);
      return [r.geq, r.relu];
    });
    for (const r of [...lt, ...rl]) {
      assert.equal(r.cost.rounds, expectedCost.rounds, `rounds at ℓ = ${bits}`);
      assert.equal(r.cost.bytesSent, expectedCost.bytes, `bytes at ℓ = ${bits}`);
    }
    for (const r of lt)
      assert.deepEqual(
        r.out[0],
        values.map((v) => (v < 0n ? 1n : 0n)),
        `ltz at ℓ = ${bits}`,
      );
    for (const r of rl) {
      assert.deepEqual(
        r.out[0],
        values.map((v) => (v >= 0n ? 1n : 0n)),
        `relu's bit at ℓ = ${bits}`,
      );
      assert.deepEqual(
        r.out[1],
        values.map((v) => (v > 0n ? v : 0n)),
        `relu at ℓ = ${bits}`,
      );
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

test('coarse comparator digits cover bits low..ℓ−1 only: ℓ = 40, low = 12 gives four 7-bit digits from bit 12, one round fewer', () => {
  assert.deepEqual(comparatorDigits(40, 12), [7, 7, 7, 7]);
  assert.deepEqual(
    digitPlaces(40, 12).map((p) => p.bit),
    [12, 19, 26, 33],
  );
  assert.equal(oneHotRows(40, 12), 512);
  assert.equal(ltzRounds('semi-honest', 40, 12), 3);
  assert.equal(ltzRounds('malicious', 40, 12), 6);
  for (const lowBits of [-1, 40, 1.5]) assert.throws(() => comparatorDigits(40, lowBits), /low must be an integer in \[0, 39\]/);
});
