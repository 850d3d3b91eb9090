/**
 * Truncation of fixed-point values: [x] ↦ [≈ x / 2^f] (after a product with 2f fractional bits).
 *
 * 1. Local (SecureML; Mohassel & Zhang, S&P 2017, Thm. 1) — 2 parties, semi-honest only:
 *      party 0: x_0 >> f (arithmetic);  party 1: −((−x_1) >> f).
 *    Result = ⌊x/2^f⌋ + {0, 1}, except with probability ≤ 2^(ℓ+1−64) for |x| < 2^ℓ, when it is
 *    off by ≈ 2^(64−f) (a wrap of the shares). Cost: 0 rounds, 0 bytes. Reveals nothing.
 *
 * 2. Dealer masks (exact up to 1 LSB; Escudero et al., "Improved primitives for MPC over mixed
 *    arithmetic-binary circuits", CRYPTO 2020, §4 — the variant with the mask's top bit):
 *    with (r, rMsb, rHigh = ⌊(r mod 2^63)/2^f⌋) from the dealer and x' = x + 2^62 ∈ [0, 2^63):
 *      open c = x' + r (full ring width, so c is uniform);
 *      b = c_63 ⊕ r_63 = c_63 + (1 − 2c_63)·r_63   (linear: c_63 is public);
 *      y = ⌊(c mod 2^63)/2^f⌋ − rHigh + b·2^(63−f) − 2^(62−f).
 *    Then y = ⌊x/2^f⌋ + {0, 1} for every |x| < 2^62: no probabilistic wrap error.
 *    Works for any n and in malicious mode (all terms are MACed linear combinations).
 *    Reveals: c, uniform over the ring. Cost: 1 round, (n−1)·size·(8 or 16) bytes.
 */
import type { RingTensor } from '../ring/tensor.ts';
import { msbAndHigh } from '../ring/bit-fields.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { PartyContext } from './context.ts';
import { open } from './open.ts';

export function truncateRounds(ctx: Pick<PartyContext, 'truncation'>): number {
  return ctx.truncation === 'local' ? 0 : 1;
}
export function truncateBytes(ctx: Pick<PartyContext, 'truncation' | 'n' | 'ring'>, size: number): number {
  return ctx.truncation === 'local' ? 0 : (ctx.n - 1) * size * ctx.ring.bytes;
}

/** [x] ↦ [⌊x / 2^shift⌋ + {0,1}] by the context's truncation method. */
export async function truncate(ctx: PartyContext, x: SecretTensor, shift = ctx.scaleBits): Promise<SecretTensor> {
  return ctx.truncation === 'local' ? truncateLocal(ctx, x, shift) : truncateDealer(ctx, x, shift);
}

export function truncateLocal(ctx: PartyContext, x: SecretTensor, shift: number): SecretTensor {
  const s = BigInt(shift);
  const src = new BigInt64Array(x.share.data.buffer, x.share.data.byteOffset, x.share.data.length);
  const out = new BigInt64Array(src.length);
  if (ctx.id === 0) for (let i = 0; i < src.length; i++) out[i] = src[i] >> s;
  else for (let i = 0; i < src.length; i++) out[i] = -(-src[i] >> s);
  const share = T.tensor(x.share.ring, x.shape, new BigUint64Array(out.buffer));
  return { shape: x.shape, share, mac: undefined };
}

export async function truncateDealer(ctx: PartyContext, x: SecretTensor, shift: number): Promise<SecretTensor> {
  const size = T.sizeOf(x.shape);
  const m = await ctx.material.truncMasks(size, shift);
  const shifted = L.addScalarS(ctx, L.reshapeS(x, [size]), 1n << 62n);
  const [c] = await open(ctx, [L.addSS(shifted, m.r)]);
  const { cMsb, oneMinus2cMsb, cLow } = splitOpened(c, shift);
  const b = L.addSP(ctx, L.mulSP(m.rMsb, oneMinus2cMsb), cMsb);
  let y = L.subPS(ctx, cLow, m.rHigh);
  y = L.addSS(y, L.mulScalarS(b, 1n << BigInt(63 - shift)));
  y = L.addScalarS(ctx, y, -(1n << BigInt(62 - shift)));
  return L.reshapeS(y, x.shape);
}

/** Public pieces of an opened mask c: bit 63, 1 − 2·bit 63, and ⌊(c mod 2^63)/2^shift⌋. */
export function splitOpened(c: RingTensor, shift: number): { cMsb: RingTensor; oneMinus2cMsb: RingTensor; cLow: RingTensor } {
  const { msb: cMsb, high: cLow } = msbAndHigh(c, shift);
  const oneMinus2cMsb = T.addScalar(T.mulScalar(cMsb, -2n), 1n);
  return { cMsb, oneMinus2cMsb, cLow };
}

/** Truncates several tensors with one call (one round with dealer truncation). */
export async function truncateBatch(ctx: PartyContext, xs: readonly SecretTensor[], shift = ctx.scaleBits): Promise<SecretTensor[]> {
  if (xs.length === 1) return [await truncate(ctx, xs[0], shift)];
  const joined = await truncate(ctx, L.concatS(xs), shift);
  return L.splitS(
    joined,
    xs.map((x) => x.shape),
  );
}
