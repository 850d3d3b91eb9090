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
  const c = await openTruncation(ctx, L.reshapeS(x, [size]), m.r);
  return L.reshapeS(maskedHigh(ctx, c, m, shift, truncationOffset(shift)), x.shape);
}

/** The dealer truncation's one round: opens c = x + 2^62 + r (x and r flat, same size; c is uniform). */
export async function openTruncation(ctx: PartyContext, x: SecretTensor, r: SecretTensor): Promise<RingTensor> {
  const [c] = await open(ctx, [L.addSS(L.addScalarS(ctx, x, 1n << 62n), r)]);
  return c;
}

/** The offset of the dealer truncation's output: the 2^62 added before the opening, shifted. */
const truncationOffset = (shift: number): bigint => -(1n << BigInt(62 - shift));

/**
 * The dealer truncation's output y = P + N from its opened c: P public, N = Q·[rMsb] − [rHigh]
 * with Q = (1 − 2c_63)·2^(63−shift) public ({@link maskedHighForm}), for callers that multiply
 * y further with the dealer's products of the mask's parts (approx/chebyshev.ts fused basis,
 * truncate-square.ts).
 */
export function truncationParts(
  c: RingTensor,
  m: { readonly rHigh: SecretTensor; readonly rMsb: SecretTensor },
  shift: number,
): { p: RingTensor; q: RingTensor; n: SecretTensor } {
  const { pub, rMsbCoef } = maskedHighForm(c, shift, truncationOffset(shift));
  return { p: pub, q: rMsbCoef, n: L.subSS(L.mulSP(m.rMsb, rMsbCoef), m.rHigh) };
}

/**
 * The shared local step of dealer truncation and comparison: from the opened c = x' + r and the
 * dealer's rHigh, rMsb, shares of
 *   ⌊(c mod 2^63)/2^shift⌋ − rHigh + (c_63 ⊕ r_63)·2^(63−shift) + offset
 * (c_63 ⊕ r_63 = c_63 + (1 − 2c_63)·r_63 is linear in r_63 since c is public).
 */
export function maskedHigh(
  ctx: PartyContext,
  c: RingTensor,
  m: { readonly rHigh: SecretTensor; readonly rMsb: SecretTensor },
  shift: number,
  offset: bigint,
): SecretTensor {
  if (ctx.ring.limbs === 1 && m.rHigh.mac === undefined) {
    const share = maskedHighShare64(ctx.id === 0, c, m.rHigh.share, m.rMsb.share, shift, offset);
    return { shape: share.shape, share, mac: undefined };
  }
  const { pub, rMsbCoef } = maskedHighForm(c, shift, offset);
  return L.addSP(ctx, L.subSS(L.mulSP(m.rMsb, rMsbCoef), m.rHigh), pub);
}

/**
 * {@link maskedHigh} as public coefficients on the dealer's parts: pub + rMsbCoef·[rMsb] − [rHigh]
 * with pub = ⌊(c mod 2^63)/2^shift⌋ + c_63·K + offset and rMsbCoef = (1 − 2c_63)·K, K = 2^(63−shift)
 * (for callers that also need products of it with other dealt values).
 */
export function maskedHighForm(c: RingTensor, shift: number, offset: bigint): { pub: RingTensor; rMsbCoef: RingTensor } {
  if (c.ring.limbs === 1 && shift >= 1 && shift <= 63) return maskedHighForm64(c, shift, offset);
  const { cMsb, oneMinus2cMsb, cLow } = splitOpened(c, shift);
  const k = 1n << BigInt(63 - shift);
  const pub = T.add(cLow, T.mulScalar(cMsb, k));
  return { pub: offset === 0n ? pub : T.addScalar(pub, offset), rMsbCoef: T.mulScalar(oneMinus2cMsb, k) };
}

/**
 * {@link maskedHighForm} over Z_2^64 in one pass on 32-bit halves (K = 2^(63−shift)):
 * pub = ⌊(c mod 2^63)/2^shift⌋ + c_63·K + offset and rMsbCoef = ±K (−K where c_63 = 1), mod 2^64 —
 * the general path's values without its seven temporaries.
 */
/** The 32-bit halves [lo, hi] of a value mod 2^64. */
function halves(v: bigint): [number, number] {
  const w = BigInt.asUintN(64, v);
  return [Number(w & 0xffffffffn), Number(w >> 32n)];
}

/**
 * The public part ⌊(c mod 2^63)/2^shift⌋ + c_63·K + offset of one opened element from its halves
 * (c63 = cHi without bit 63, msb = bit 63), as unreduced low and high halves (each < 2^35):
 * callers add their terms, then reduce with {@link storeHalves}. 1 ≤ shift ≤ 63.
 */
const publicLo = (cLo: number, c63: number, msb: number, shift: number, kLo: number, offLo: number): number =>
  (shift < 32 ? ((cLo >>> shift) | (c63 << (32 - shift))) >>> 0 : c63 >>> (shift - 32)) + offLo + (msb ? kLo : 0);
const publicHi = (c63: number, msb: number, shift: number, kHi: number, offHi: number): number =>
  (shift < 32 ? c63 >>> shift : 0) + offHi + (msb ? kHi : 0);

/** Writes the unreduced halves (|lo|, |hi| < 2^35) mod 2^64 at word `at`: lo mod 2^32, its carry moved into hi. */
function storeHalves(o32: Uint32Array, at: number, lo: number, hi: number): void {
  const lo32 = lo >>> 0;
  o32[at] = lo32;
  o32[at + 1] = (hi + (lo - lo32) / 0x100000000) >>> 0;
}

function maskedHighForm64(c: RingTensor, shift: number, offset: bigint): { pub: RingTensor; rMsbCoef: RingTensor } {
  const size = c.data.length;
  const pub = new BigUint64Array(size);
  const coef = new BigUint64Array(size);
  const [c32, p32, q32] = [words32(c.data), words32(pub), words32(coef)];
  const [kLo, kHi] = halves(1n << BigInt(63 - shift));
  const [nkLo, nkHi] = halves(-(1n << BigInt(63 - shift)));
  const [offLo, offHi] = halves(offset);
  for (let i = 0; i < size; i++) {
    const at = 2 * i;
    const cHi = c32[at + 1];
    const msb = cHi >>> 31;
    const c63 = cHi & 0x7fffffff;
    storeHalves(p32, at, publicLo(c32[at], c63, msb, shift, kLo, offLo), publicHi(c63, msb, shift, kHi, offHi));
    q32[at] = msb ? nkLo : kLo;
    q32[at + 1] = msb ? nkHi : kHi;
  }
  return { pub: { ring: c.ring, shape: [size], data: pub }, rMsbCoef: { ring: c.ring, shape: [size], data: coef } };
}

/**
 * {@link maskedHigh} in one pass over Z_2^64 shares without MACs (semi-honest), on 32-bit
 * halves: with K = 2^(63−f),
 *   y_i = [i = 0]·(⌊(c mod 2^63)/2^f⌋ + c_63·K + offset) − rHigh_i + (1 − 2c_63)·K·rMsb_i,
 * the same sum as the general path, without its temporaries.
 */
function maskedHighShare64(first: boolean, c: RingTensor, rHigh: RingTensor, rMsb: RingTensor, shift: number, offset: bigint): RingTensor {
  if (!(shift >= 1 && shift <= 62)) throw new RangeError(`maskedHigh: shift must be in [1, 62], got ${shift}`);
  const size = c.data.length;
  const out = new BigUint64Array(size);
  const c32 = words32(c.data);
  const h32 = words32(rHigh.data);
  const m32 = words32(rMsb.data);
  const o32 = words32(out);
  const k = 63 - shift;
  const [kLo, kHi] = halves(1n << BigInt(k));
  const [offLo, offHi] = halves(offset);
  // Each half is summed as a signed double (|sum| < 2^35) and reduced mod 2^32 once, the low
  // half's carry moved into the high half: no tuples, no BigInt per element.
  for (let i = 0; i < size; i++) {
    const at = 2 * i;
    const cHi = c32[at + 1];
    const msb = cHi >>> 31;
    // T = K·rMsb_i mod 2^64 (a shift by k), added with sign (1 − 2c_63); −rHigh_i
    const mLo = m32[at];
    const tLo = k >= 32 ? 0 : (mLo << k) >>> 0;
    const tHi = k >= 32 ? (mLo << (k - 32)) >>> 0 : ((m32[at + 1] << k) | (mLo >>> (32 - k))) >>> 0;
    let lo = msb ? -tLo - h32[at] : tLo - h32[at];
    let hi = msb ? -tHi - h32[at + 1] : tHi - h32[at + 1];
    if (first) {
      // + ⌊(c mod 2^63)/2^shift⌋ + c_63·K + offset
      const c63 = cHi & 0x7fffffff;
      lo += publicLo(c32[at], c63, msb, shift, kLo, offLo);
      hi += publicHi(c63, msb, shift, kHi, offHi);
    }
    storeHalves(o32, at, lo, hi);
  }
  return { ring: c.ring, shape: [size], data: out };
}

/** The 32-bit halves of 64-bit words (little-endian host). */
const words32 = (d: BigUint64Array): Uint32Array => new Uint32Array(d.buffer, d.byteOffset, 2 * d.length);

/** Public pieces of an opened mask c: bit 63, 1 − 2·bit 63, and ⌊(c mod 2^63)/2^shift⌋. */
function splitOpened(c: RingTensor, shift: number): { cMsb: RingTensor; oneMinus2cMsb: RingTensor; cLow: RingTensor } {
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
