/**
 * Secret inputs: a party (the owner) contributes a value it knows in the clear.
 *
 * With a dealer input mask ([r] for everyone, r in the clear for the owner only):
 *   1. the owner broadcasts e = x − r                     1 round, (n−1)·|x|·(8|16) bytes
 *   2. everyone sets [x] = [r] + e                        local (MACs follow: [r] is MACed)
 * Several owners' inputs travel in the same round. Works in both modes; in malicious mode e is
 * added to the transcript so an owner who sends different e to different parties is caught at
 * the MAC check (cf. SPDZ input phase, Damgård et al., CRYPTO 2012).
 * Reveals: e, uniform because r is.
 */
import { ProtocolAbort } from '../base/errors.ts';
import { bytesToWords, wordsToBytes } from '../net/codec.ts';
import * as T from '../ring/tensor.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { InputMask } from '../preprocessing/material.ts';
import type { PartyContext } from './context.ts';

export interface InputItem {
  readonly owner: number;
  readonly shape: readonly number[];
  /** The clear value; required exactly for items this party owns (ring = ctx.ring). */
  readonly value?: RingTensor;
}

export const inputBytes = (ctx: Pick<PartyContext, 'n' | 'ring'>, ownElements: number): number =>
  (ctx.n - 1) * ownElements * ctx.ring.bytes;

/** Shares every item among all parties, in one round. */
export async function input(ctx: PartyContext, items: readonly InputItem[]): Promise<SecretTensor[]> {
  const masks: InputMask[] = await Promise.all(items.map((item) => ctx.material.inputMask(item.owner, T.sizeOf(item.shape))));
  const mine: RingTensor[] = [];
  items.forEach((item, i) => {
    if (item.owner !== ctx.id) return;
    if (!item.value || T.sizeOf(item.value.shape) !== T.sizeOf(item.shape) || item.value.ring !== ctx.ring) {
      throw new RangeError(`input ${i}: the owner must pass a ${ctx.ring.name} value of shape [${item.shape}]`);
    }
    mine.push(T.sub(T.reshape(item.value, [T.sizeOf(item.shape)]), masks[i].clear as RingTensor));
  });
  const incoming = await ctx.channel.exchange(wordsToBytes(T.concatFlat(ctx.ring, mine).data));
  const offsets = new Array<number>(ctx.n).fill(0);
  return items.map((item, i) => {
    const size = T.sizeOf(item.shape);
    const words = size * ctx.ring.limbs;
    const msg = incoming[item.owner];
    const off = offsets[item.owner];
    if (msg.length < (off + words) * 8)
      throw new ProtocolAbort(`input: party ${item.owner} sent ${msg.length} bytes, too few for its inputs`);
    const e: RingTensor = { ring: ctx.ring, shape: [size], data: bytesToWords(msg.subarray(off * 8, (off + words) * 8)) };
    offsets[item.owner] += words;
    if (ctx.mode === 'malicious') ctx.checks.transcript.update(wordsToBytes(e.data));
    return L.reshapeS(L.addSP(ctx, masks[i].mask, e), item.shape);
  });
}

/**
 * Inputs a value that arrives already additively shared (e.g. a client's prompt shares, sealed to
 * each node) but without MACs: with a dealer random [r] (MACed), every party sends
 * d_i = x_i − r_i, and [x] = [r] + Σ d_i. 1 round, (n−1)·|x|·(8|16) bytes. Reveals x − r,
 * uniform. The Z_2^64 shares are lifted to the context's ring (only the low 64 bits matter).
 * Integrity: a malicious party can shift its own share before this step, which is equivalent to
 * changing the client's input (the client's shares carry no MACs).
 */
export async function inputShared(ctx: PartyContext, share: RingTensor): Promise<SecretTensor> {
  const size = T.sizeOf(share.shape);
  const r = await ctx.material.randoms(size);
  const lifted = T.zeros(ctx.ring, [size]);
  for (let i = 0; i < size; i++) lifted.data[i * ctx.ring.limbs] = share.data[i * share.ring.limbs];
  const d = T.sub(lifted, r.share);
  const incoming = await ctx.channel.exchange(wordsToBytes(d.data));
  let e = d;
  for (let j = 0; j < ctx.n; j++) {
    if (j === ctx.id) continue;
    if (incoming[j].length !== d.data.byteLength)
      throw new ProtocolAbort(`inputShared: party ${j} sent ${incoming[j].length} bytes, expected ${d.data.byteLength}`);
    e = T.add(e, { ring: ctx.ring, shape: [size], data: bytesToWords(incoming[j]) });
  }
  if (ctx.mode === 'malicious') ctx.checks.transcript.update(wordsToBytes(e.data));
  return L.reshapeS(L.addSP(ctx, r, e), share.shape);
}
