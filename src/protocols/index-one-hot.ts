/**
 * Secret one-hot rows from additive shares of indices (a client's prompt token ids, sealed to
 * each node as shares in Z_(2^b); services/prompt-shares.ts), so that a prompt travels as one
 * small integer per token and node instead of a [tokens, vocab] share over Z_2^64.
 *
 * With the dealer's `oneHot` material ([r] for r uniform in Z_(2^b), and the shared one-hot
 * row [e_r] of 2^b entries):
 *   1. every party sends d_i = x_i − r_i mod 2^b                1 round, (n−1)·4 bytes per row
 *   2. c = Σ_i d_i = x − r mod 2^b (public)
 *   3. [onehot(x)]_j = [e_r]_((j − c) mod 2^b) for j < width    local (a rotation; MACs follow)
 * Rotating the one-hot of a random index by the public difference is the one-time-table idea of
 * Ishai, Kushilevitz, Meldgaard, Orlandi and Paskin-Cherniavsky, "On the Power of Correlated
 * Randomness in Secure Computation" (TCC 2013), and of Dessouky et al., "Pushing the
 * Communication Barrier in Secure Computation using Lookup Tables" (NDSS 2017).
 * Reveals: c, uniform in Z_(2^b) because r is (and independent of everything else).
 * Integrity (malicious mode): the d_i enter the transcript, so a party that sends different d_i
 * to different parties is caught at the next MAC check. A party that shifts its d_i consistently
 * changes x to another index < 2^b, as shifting its share of the client's input would (the
 * client's shares carry no MACs); an index ≥ width then gives a zero row, not a wrong one-hot.
 * Cost: 1 round, (n−1)·4·rows bytes per party, and 2^b + 1 dealt ring elements per row.
 */
import { ProtocolAbort } from '../base/errors.ts';
import { MAX_ONE_HOT_BITS } from '../preprocessing/material-request.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { PartyContext } from './context.ts';

/** b = max(1, ⌈log2 width⌉): the index width whose 2^b one-hot entries cover `width` values. */
export function indexBits(width: number): number {
  if (!Number.isSafeInteger(width) || width < 1 || width > 2 ** MAX_ONE_HOT_BITS)
    throw new RangeError(`indexBits: width must be an integer in [1, 2^${MAX_ONE_HOT_BITS}], got ${width}`);
  return Math.max(1, Math.ceil(Math.log2(width)));
}

/** Bytes one party sends for `rows` indices. */
export const indexOneHotBytes = (ctx: Pick<PartyContext, 'n'>, rows: number): number => (ctx.n - 1) * 4 * rows;

/**
 * The secret one-hot rows [rows, width] of indices x_t < width given this party's additive
 * shares of them in Z_(2^b), b = indexBits(width) (`shares[t]` < 2^b).
 */
export async function oneHotFromIndexShares(ctx: PartyContext, shares: Uint32Array, width: number): Promise<SecretTensor> {
  const bits = indexBits(width);
  const size = 2 ** bits;
  const rows = shares.length;
  for (let t = 0; t < rows; t++)
    if (shares[t] >= size) throw new RangeError(`oneHotFromIndexShares: share ${t} is ${shares[t]}, expected < 2^${bits}`);
  const m = await ctx.material.oneHotMasks(rows, bits);
  const low = size - 1;
  const d = new Uint32Array(rows);
  const limbs = ctx.ring.limbs;
  for (let t = 0; t < rows; t++) d[t] = (shares[t] - Number(m.r.share.data[t * limbs] & BigInt(low))) & low;
  const mine = new Uint8Array(d.buffer);
  const incoming = await ctx.channel.exchange(mine);
  const c = d.slice();
  for (let j = 0; j < ctx.n; j++) {
    if (j === ctx.id) continue;
    const got = incoming[j];
    if (got.length !== mine.length)
      throw new ProtocolAbort(`oneHotFromIndexShares: party ${j} sent ${got.length} bytes, expected ${mine.length}`);
    const theirs = new Uint32Array(got.buffer.slice(got.byteOffset, got.byteOffset + got.length));
    for (let t = 0; t < rows; t++) c[t] = (c[t] + theirs[t]) & low;
  }
  if (ctx.mode === 'malicious') for (let j = 0; j < ctx.n; j++) ctx.checks.transcript.update(j === ctx.id ? mine : incoming[j]);
  // Row t, entry j < width: e_r[t, (j − c_t) mod 2^b].
  const index = new Int32Array(rows * width);
  for (let t = 0; t < rows; t++) for (let j = 0; j < width; j++) index[t * width + j] = t * size + ((j - c[t]) & low);
  return L.gatherS(m.oneHot, index, [rows, width]);
}
