/**
 * How the enclave deals additive shares of the folded, encoded weights W (Z_2^64, all tensors
 * concatenated in foldedShapes order) for one session, without keeping per-session state:
 *
 *   seed_i = HKDF-SHA256(ikm = enclave secret, salt = "mpc-prompt/enclave/weights/v1",
 *                        info = session id ‖ 0x00 ‖ u32be(i) ‖ u32be(n))[0..16)   for i < n−1
 *   share_i = AES-128-CTR(seed_i) expanded to |W| words (crypto/prg.ts)          for i < n−1
 *   share_{n−1} = W − Σ_{i<n−1} share_i                                          (sent explicitly)
 *
 * The enclave secret is 32 bytes from the OS CSPRNG, drawn at start-up and never leaves the
 * enclave process. Any n−1 shares of a session are independent and uniform, so fewer than n
 * colluding parties learn nothing about W; shares of different sessions are independent.
 * Who may fetch which index is the server's business (one index per party certificate).
 * Communication: 16 bytes for parties 0..n−2, 8·|W| bytes for party n−1 (seed compression, as the
 * triple service does: preprocessing/seeded-deal.ts).
 */
import { hkdfSync } from 'node:crypto';
import { Prg, SEED_BYTES } from '../../crypto/prg.ts';
import type { PartyMessage } from '../../preprocessing/seeded-deal.ts';
import { Z64 } from '../../ring/ring.ts';
import { concatFlat, sub, type RingTensor } from '../../ring/tensor.ts';

const SALT = Buffer.from('mpc-prompt/enclave/weights/v1', 'utf8');

/** The PRG seed of party `index` (< n−1) in `sessionId`. */
export function partySeed(secret: Uint8Array, sessionId: string, index: number, n: number): Uint8Array {
  const info = Buffer.alloc(Buffer.byteLength(sessionId) + 9);
  info.write(sessionId, 0, 'utf8');
  info.writeUInt32BE(index, info.length - 8);
  info.writeUInt32BE(n, info.length - 4);
  return new Uint8Array(hkdfSync('sha256', secret, SALT, info, SEED_BYTES));
}

/** Party `index`'s message for `sessionId`: a seed (index < n−1) or the explicit last share. */
export function weightShareMessage(
  secret: Uint8Array,
  sessionId: string,
  index: number,
  n: number,
  weights: readonly RingTensor[],
): PartyMessage {
  if (!(Number.isInteger(index) && index >= 0 && index < n)) throw new RangeError(`party index ${index} out of range for ${n} parties`);
  if (index < n - 1) return { kind: 'seed', seed: partySeed(secret, sessionId, index, n) };
  const total = weights.reduce((s, w) => s + w.data.length, 0);
  let last = concatFlat(Z64, weights);
  for (let i = 0; i < n - 1; i++) last = sub(last, new Prg(partySeed(secret, sessionId, i, n)).ringTensor(Z64, [total]));
  return { kind: 'explicit', words: last.data };
}
