import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { randomRingTensor } from '../crypto/prg.ts';
import { Z128, Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import { createMemoryNetwork } from '../net/memory-channel.ts';
import { makeDealer, measure, MODES, PARTY_COUNTS, runParties } from '../../test/helpers/parties.ts';
import { COIN_ROUNDS, coinBytes, jointCoin } from './coin.ts';
import { input, inputBytes } from './input.ts';
import { open, openBytes } from './open.ts';
import { reveal } from './reveal.ts';

for (const mode of MODES) {
  for (const n of PARTY_COUNTS) {
    describe(`open and input, ${n} parties, ${mode}`, () => {
      const ring = mode === 'malicious' ? Z128 : Z64;

      test('batched open of several tensors is one round at the documented bytes', async () => {
        const dealer = makeDealer(n, mode);
        const xs = [randomRingTensor(ring, [3]), randomRingTensor(ring, [2, 2])];
        const shared = xs.map((x) => dealer.shareForTest(x));
        const { results } = await runParties(dealer, async (ctx) =>
          measure(ctx, () =>
            open(
              ctx,
              shared.map((s) => s[ctx.id]),
            ),
          ),
        );
        for (const r of results) {
          assert.deepEqual(
            r.value.map((t) => T.toBigInts(t)),
            xs.map((x) => T.toBigInts(x)),
          );
          assert.equal(r.cost.rounds, 1);
          assert.equal(r.cost.bytesSent, openBytes({ n, ring }, 7));
        }
      });

      test('inputs from several owners arrive in one round and reconstruct exactly', async () => {
        const dealer = makeDealer(n, mode);
        const values = Array.from({ length: n }, (_, i) =>
          T.fromBigInts(
            ring,
            [i + 1],
            Array.from({ length: i + 1 }, (_, j) => BigInt(100 * i + j - 3)),
          ),
        );
        const { results } = await runParties(dealer, async (ctx) => {
          const m = await measure(ctx, () =>
            input(
              ctx,
              values.map((v, owner) => ({ owner, shape: v.shape, value: owner === ctx.id ? v : undefined })),
            ),
          );
          return { out: await reveal(ctx, m.value), cost: m.cost };
        });
        results.forEach((r, id) => {
          r.out.forEach((t, owner) =>
            assert.deepEqual(
              T.toBigInts(t).map((v) => BigInt.asIntN(64, v)),
              T.toBigInts(values[owner]).map((v) => BigInt.asIntN(64, v)),
            ),
          );
          assert.equal(r.cost.rounds, 1);
          assert.equal(r.cost.bytesSent, inputBytes({ n, ring }, id + 1));
        });
      });
    });
  }
}

test('joint coin: every party gets the same 16-byte coin in 2 rounds at the documented bytes', async () => {
  for (const n of PARTY_COUNTS) {
    const channels = createMemoryNetwork(n);
    const coins = await Promise.all(channels.map((channel) => jointCoin({ channel, n })));
    for (const c of coins) assert.deepEqual(c, coins[0]);
    assert.equal(coins[0].length, 16);
    for (const ch of channels) {
      assert.equal(ch.stats.rounds, COIN_ROUNDS);
      assert.equal(ch.stats.bytesSent, coinBytes(n));
    }
  }
});
