/**
 * Secure top-k sampling: reproducible for a fixed seed, and its empirical distribution matches
 * the plaintext top-k distribution softmax(top-k logits / T) (chi-square test).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../ring/fixed-point.ts';
import { makeDealer, runParties } from '../../test/helpers/parties.ts';
import { partyRandomness, sampleGreedy, sampleTopK } from './sampling.ts';

const LOGITS = [0.3, 2.1, -1.0, 1.4, 1.9, 0.9, -0.2, 1.2];
const K = 4;
const TEMPERATURE = 0.8;

/** Plaintext top-k distribution over token ids. */
function plaintextTopK(logits: number[], k: number, temperature: number): Map<number, number> {
  const top = logits
    .map((v, i) => ({ v, i }))
    .sort((a, b) => b.v - a.v)
    .slice(0, k);
  const w = top.map(({ v }) => Math.exp((v - top[0].v) / temperature));
  const s = w.reduce((a, b) => a + b, 0);
  return new Map(top.map(({ i }, j) => [i, w[j] / s]));
}

async function draws(count: number, seedOf: (draw: number) => string | undefined, parties = 2): Promise<number[]> {
  const dealer = makeDealer(parties, 'semi-honest');
  const shared = dealer.shareForTest(encode(dealer.ring, [1, LOGITS.length], LOGITS, 16));
  const { results } = await runParties(dealer, async (ctx) => {
    const out: number[] = [];
    for (let d = 0; d < count; d++) out.push(await sampleTopK(ctx, shared[ctx.id], K, TEMPERATURE, partyRandomness(seedOf(d), ctx.id, 0)));
    return out;
  });
  for (const r of results) assert.deepEqual(r, results[0], 'all parties reveal the same tokens');
  return results[0];
}

test('top-k with a fixed seed is reproducible, and different seeds give different draws', async () => {
  const a = await draws(12, (d) => `seed-${d}`);
  const b = await draws(12, (d) => `seed-${d}`);
  assert.deepEqual(a, b);
  const c = await draws(12, (d) => `other-${d}`);
  assert.notDeepEqual(a, c);
});

test('top-k empirical distribution matches the plaintext top-k distribution (chi-square, p > 0.001)', async () => {
  const N = 600;
  const samples = await draws(N, () => undefined);
  const expected = plaintextTopK(LOGITS, K, TEMPERATURE);
  for (const s of samples) assert.ok(expected.has(s), `sampled ${s}, which is not in the top-${K}`);
  let chi2 = 0;
  for (const [id, p] of expected) {
    const observed = samples.filter((s) => s === id).length;
    chi2 += (observed - N * p) ** 2 / (N * p);
  }
  // K − 1 = 3 degrees of freedom; the 0.999 quantile is 16.27.
  assert.ok(chi2 < 16.27, `chi-square ${chi2.toFixed(2)} ≥ 16.27`);
});

test('greedy reveals the argmax (lowest index on ties)', async () => {
  const dealer = makeDealer(3, 'malicious');
  const shared = dealer.shareForTest(encode(dealer.ring, [1, 5], [0.5, 3, -2, 3, 1], 16));
  const { results } = await runParties(dealer, (ctx) => sampleGreedy(ctx, shared[ctx.id]));
  assert.deepEqual(results, [1, 1, 1]);
});
