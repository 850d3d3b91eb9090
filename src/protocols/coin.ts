/**
 * Joint coin toss (commit-then-open): every party contributes a fresh 16-byte seed, so the
 * result is uniform as long as one party is honest, and no party can bias it after seeing the
 * others' (Blum 1981; as used for SPDZ MAC-check challenges, Damgård et al. eprint 2012/642).
 *
 * Steps: 1. commit to s_i, exchange digests. 2. exchange openings, verify each.
 * 3. coin = SHA-256(s_0 ‖ … ‖ s_{n−1})[0..16).
 * Reveals: the seeds (public by design). Cost: 2 rounds; (n−1)·(32 + 48) bytes sent.
 */
import { createHash } from 'node:crypto';
import { CommitmentError } from '../base/errors.ts';
import { commit, openCommitment } from '../crypto/commitment.ts';
import { randomSeed, SEED_BYTES } from '../crypto/prg.ts';
import type { Channel } from '../net/channel.ts';

export const COIN_ROUNDS = 2;
export const coinBytes = (n: number): number => (n - 1) * (32 + 32 + SEED_BYTES);

export async function jointCoin(ctx: { readonly channel: Channel; readonly n: number }): Promise<Uint8Array> {
  const mine = commit(randomSeed());
  const digests = await ctx.channel.exchange(mine.digest);
  const openings = await ctx.channel.exchange(mine.opening);
  const h = createHash('sha256');
  for (let j = 0; j < ctx.n; j++) {
    const seed = openCommitment(digests[j], openings[j]);
    if (!seed || seed.length !== SEED_BYTES)
      throw new CommitmentError(`coin toss: party ${j} opened a value that does not match its commitment`);
    h.update(seed);
  }
  return new Uint8Array(h.digest().subarray(0, SEED_BYTES));
}
