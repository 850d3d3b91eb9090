/**
 * Secret one-hot rows from additive index shares (index-one-hot.ts): the revealed rows equal the
 * one-hot of the shared indices for 2 and 3 parties in both modes, including widths that are not
 * powers of two and shares whose sum wraps mod 2^b; one round and 4 bytes per row and peer; bad
 * shares are refused before any round; a party that equivocates on its difference is caught by
 * the MAC check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MacCheckError } from '../base/errors.ts';
import * as T from '../ring/tensor.ts';
import { makeDealer, measure, MODES, PARTY_COUNTS, runParties } from '../../test/helpers/parties.ts';
import { TamperingChannel } from '../../test/helpers/tampering-channel.ts';
import { indexBits, indexOneHotBytes, oneHotFromIndexShares } from './index-one-hot.ts';
import { reveal } from './reveal.ts';

/** Test data: a fixed-seed xorshift32 stream of integers in [0, bound). */
function stream(seed: number): (bound: number) => number {
  let x = seed >>> 0 || 1;
  return (bound) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % bound;
  };
}

/** n additive shares in Z_(2^b) of each id (the last share the rest, as prompt-shares.ts deals them). */
function shareIds(ids: readonly number[], n: number, width: number, next: (bound: number) => number): Uint32Array[] {
  const size = 2 ** indexBits(width);
  const shares = Array.from({ length: n }, () => new Uint32Array(ids.length));
  ids.forEach((id, t) => {
    let rest = id;
    for (let i = 0; i < n - 1; i++) {
      shares[i][t] = next(size);
      rest -= shares[i][t];
    }
    shares[n - 1][t] = rest & (size - 1);
  });
  return shares;
}

const oneHot = (ids: readonly number[], width: number): bigint[] =>
  ids.flatMap((id) => Array.from({ length: width }, (_, j) => (j === id ? 1n : 0n)));

test('indexBits: ⌈log2 width⌉, at least 1; widths outside [1, 2^20] are refused', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 16, 17, 50_257, 2 ** 20].map(indexBits), [1, 1, 2, 2, 3, 4, 5, 16, 20]);
  for (const bad of [0, -1, 1.5, 2 ** 20 + 1, Number.NaN]) assert.throws(() => indexBits(bad), RangeError);
});

for (const mode of MODES) {
  for (const n of PARTY_COUNTS) {
    test(`one-hot rows from index shares equal the one-hot of the indices (${n} parties, ${mode})`, async () => {
      const next = stream(7 * n + (mode === 'malicious' ? 1 : 0));
      for (const width of [1, 2, 5, 11, 16, 1000]) {
        // Every index of small widths, both ends and random ones of the larger width.
        const ids =
          width <= 16 ? Array.from({ length: width }, (_, i) => i) : [0, width - 1, ...Array.from({ length: 6 }, () => next(width))];
        const shares = shareIds(ids, n, width, next);
        const { results } = await runParties(makeDealer(n, mode), async (ctx) => {
          const { value, cost } = await measure(ctx, () => oneHotFromIndexShares(ctx, shares[ctx.id], width));
          assert.deepEqual(value.shape, [ids.length, width]);
          return { rows: T.toBigInts((await reveal(ctx, [value]))[0]), cost };
        });
        for (const r of results) {
          assert.deepEqual(r.rows, oneHot(ids, width), `width ${width}`);
          assert.equal(r.cost.rounds, 1, `width ${width}: one round`);
          assert.equal(r.cost.bytesSent, indexOneHotBytes({ n }, ids.length), `width ${width}: 4 bytes per row and peer`);
        }
      }
    });
  }
}

test("one-hot rows of GPT-2's vocabulary (50,257 entries, b = 16) from shares that wrap mod 2^16", async () => {
  const width = 50_257;
  const ids = [0, 50_256, 50_000, 12_345];
  // Shares chosen so that their sum exceeds 2^16 (the reduction mod 2^b matters).
  const first = Uint32Array.from([65_535, 65_000, 40_000, 60_000]);
  const second = Uint32Array.from(ids.map((id, t) => (id - first[t]) & 0xffff));
  assert.ok([...first].some((s, t) => s + second[t] >= 65_536));
  const { results } = await runParties(makeDealer(2, 'semi-honest'), async (ctx) => {
    const rows = await oneHotFromIndexShares(ctx, ctx.id === 0 ? first : second, width);
    return T.toBigInts((await reveal(ctx, [rows]))[0]);
  });
  for (const r of results) {
    ids.forEach((id, t) => {
      const row = r.slice(t * width, (t + 1) * width);
      assert.equal(row[id], 1n, `row ${t} has its 1 at ${id}`);
      assert.equal(
        row.reduce((a, b) => a + b, 0n),
        1n,
        `row ${t} has a single 1`,
      );
    });
  }
});

test('a share not below 2^b is refused before any round', async () => {
  await runParties(makeDealer(2, 'semi-honest'), async (ctx) => {
    const before = { ...ctx.channel.stats };
    await assert.rejects(oneHotFromIndexShares(ctx, Uint32Array.from([3, 16]), 11), /share 1 is 16, expected < 2\^4/);
    assert.deepEqual(ctx.channel.stats, before);
  });
});

test('malicious mode: a party sending different differences to different peers is caught by the MAC check (3 parties)', async () => {
  const width = 11;
  const shares = shareIds([4, 9], 3, width, stream(5));
  const channels: TamperingChannel[] = [];
  await assert.rejects(
    runParties(
      makeDealer(3, 'malicious'),
      async (ctx) => {
        if (ctx.id === 0) channels[0].armEquivocation(2); // party 2 gets a different difference of row 0
        const rows = await oneHotFromIndexShares(ctx, shares[ctx.id], width);
        return reveal(ctx, [rows]);
      },
      { wrapChannel: (id, ch) => (channels[id] = new TamperingChannel(ch)) },
    ),
    (e: unknown) => e instanceof MacCheckError,
  );
});
