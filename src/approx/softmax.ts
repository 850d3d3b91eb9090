/**
 * Softmax along the last axis of secret fixed-point scores x [.., len] (rows = all leading
 * axes), with an optional public 0/1 mask (e.g. causal attention).
 *
 * Method:
 *   1. masked scores: x' = mask ⊙ x + (1 − mask)·(−2^(ℓ−f−2))   (local: the mask is public);
 *   2. m = row max                        (protocols/select.ts: tournament of ⌈log2 len⌉ levels
 *                                          with coarse comparisons, see below; m is one of the
 *                                          row's values and m ≥ max − ln 2);
 *   3. e = exp(x' − m) ⊙ mask             (exp.ts on inputs ≤ ln 2 < U = 1, kept at f + 3 bits;
 *                                          clipped and masked entries are exactly 0);
 *   4. S = Σ_row e ∈ [1, 2·len)           (local; m contributes exp(0) = 1, every entry < 2);
 *   5. r = 1/S                            (reciprocal.ts on [1, 2^M], M = ⌈log2 len⌉ + 1; its
 *                                          outer buckets are open-ended, so S a few LSB outside
 *                                          is fine; S is read at f + 3 bits as 8·S with the
 *                                          factor option, and r is returned at f + 3 bits);
 *   6. softmax = e ⊙ r                    (one product, truncated by f + 6; semi-honest with
 *                                          dealer truncation: exp's last truncation keeps its
 *                                          masks' form, so only r is opened, masked once per row —
 *                                          protocols/truncate-row-product.ts; otherwise e and r
 *                                          are opened masked, r once per row: row-product.ts).
 * The 3 guard bits on e, S and r cost nothing (they only move truncation shifts) and keep the
 * rounding of len terms from adding up: without them the error grew to 3.5e−4 at len = 128.
 * Every row needs at least one unmasked entry. Masked entries are exactly 0 in the output.
 * Coarse max: softmax does not depend on which m is subtracted, only exp's domain and the sum's
 * range do, so the tournament's comparisons leave out the low k = {@link maxLowBits} bits
 * (compare.ts coarse comparisons; f = 16: k = 12 for 2 < len ≤ 2,048): each level may keep the
 * smaller of two values within 2^(k−f), and ⌈log2 len⌉·2^(k−f) ≤ ln 2 bounds the shortfall. At
 * ℓ = 40 a level costs 3 rounds instead of 4 (semi-honest; 6 instead of 7 malicious), 9.4 bytes
 * per score instead of 11.4 and 4 AND gates per comparison instead of 12; the reciprocal gets
 * one more (batched) bucket for S up to 2·len.
 * Valid domain: unmasked scores |x| < 2^(ℓ−f−2) (2^22 at ℓ = 40, f = 16), so that all
 * differences stay inside the comparison bound; nothing else (x − m ≤ 0 is what exp needs).
 * Measured max abs error of the probabilities (ten runs of softmax.test.ts: rows of length
 * 1, 2, 5, 16, 64, 128 with Gaussian scores of scale 0.01..30, ties, a dominant entry, offsets
 * of −1000 and ±5e5, with and without a causal mask; 2 and 3 parties, semi-honest and malicious,
 * both truncations): 2.4e−5 (1.6 LSB) with exp's former degree-16 default; with its squarings
 * (d = 8, k = 2) one run of each case: 1.5e−5; asserted ≤ SOFTMAX_MAX_ABS_ERROR = 4e−5.
 * Cost (rounds): ⌈log2 len⌉·(ltz + 1) (max; ltz alone in semi-honest mode, where the select
 * is folded into the comparison, compare.ts relu; ltz of the coarse comparison) + expRounds +
 * reciprocalRounds + 1 + tr; see {@link softmaxRounds}. At ℓ = 40 and len = 64, malicious mode
 * before the coarse comparisons: 48 + 12 + 12 + 1 = 73 with 'local' truncation,
 * 48 + 16 + 17 + 2 = 83 with 'dealer' (exp's squarings add 1 and 2), with them 67 and 78;
 * semi-honest mode (4-round ltz, fused Chebyshev levels and squarings, folded selects): 43 and
 * 48 before, 36 and 41 with the coarse max and clip (len = 1,019: 53 instead of 64 with 'dealer')
 * (CrypTen: 115, DESIGN.md §8). Bytes per score (2 parties semi-honest, 'dealer', len = 64,
 * measured): ≈ 103 (max 12, exp 67, reciprocal 8, product 8; before the truncated-row product
 * 16 — bench/nonlinear-costs.ts at len = 1,019: 16 → 8 —, before the row product 24, before the
 * folded selects max 28, before the squarings exp 83).
 * Citation: max-subtracted softmax with a secure exp and reciprocal as in CrypTen (Knott et al.,
 * NeurIPS 2021) and PUMA (Dong et al., 2023); the mask handling and guard bits are this project's.
 */
import type { PartyContext } from '../protocols/context.ts';
import { maskTruncatedRows, mulTruncatedRows } from '../protocols/truncate-row-product.ts';
import { max } from '../protocols/select.ts';
import { truncate, truncateRounds } from '../protocols/truncate.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { broadcastRows, rowSums, rowsOf } from './common.ts';
import { reluRounds } from '../protocols/compare.ts';
import { CHEB_GUARD_BITS } from './chebyshev.ts';
import { expForRows, expRounds, type ExpOptions } from './exp.ts';
import { reciprocal, reciprocalRounds, type ReciprocalOptions } from './reciprocal.ts';

/** Max abs error of the probabilities at f = 16, from the measurements above (asserted by the tests). */
export const SOFTMAX_MAX_ABS_ERROR = 4e-5;

export interface SoftmaxOptions {
  /** Public 0/1 mask, row-major, same size as x; 0 = excluded (output exactly 0). */
  readonly mask?: ArrayLike<number>;
  /** Options of the exp step. */
  readonly exp?: ExpOptions;
}

/** M = ⌈log2 len⌉ + 1: the reciprocal's domain [1, 2^M] for row sums of `len` entries below 2 each. */
export function softmaxSumLog2(len: number): number {
  return Math.ceil(Math.log2(len)) + 1;
}

/**
 * k, the low bits the row maximum's comparisons leave out (select.ts max): the largest k with
 * ⌈log2 len⌉·2^(k−f) ≤ ln 2, so exp's inputs stay below ln 2 and the row sums below 2·len.
 * 0 for len = 1 (no comparison); at most ℓ − 1.
 */
export function maxLowBits(ctx: Pick<PartyContext, 'scaleBits' | 'compareBits'>, len: number): number {
  const levels = Math.ceil(Math.log2(len));
  if (levels === 0) return 0;
  return Math.min(ctx.compareBits - 1, Math.max(0, ctx.scaleBits + Math.floor(Math.log2(Math.LN2 / levels))));
}

/** Documented round cost of {@link softmax} on rows of length len (independent of the row count). */
export function softmaxRounds(
  ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'>,
  len: number,
  opts: Pick<SoftmaxOptions, 'exp'> = {},
): number {
  return maxRounds(ctx, len) + expRounds(ctx, opts.exp) + reciprocalRounds(ctx, reciprocalOptions(len)) + 1 + truncateRounds(ctx);
}

const GUARD = CHEB_GUARD_BITS;

/** 2^G/S from 2^G·S, S ∈ [1, 2^M]: domain [2^G, 2^(M+G)], factor 2^2G (result at scale f + G). */
function reciprocalOptions(len: number): ReciprocalOptions {
  return { minLog2: GUARD, maxLog2: softmaxSumLog2(len) + GUARD, factor: 2 ** (2 * GUARD) };
}

/** Rounds of the row maximum (protocols/select.ts maxCost): ⌈log2 len⌉ levels of coarse relu (the select folded in semi-honest mode). */
export function maxRounds(ctx: Pick<PartyContext, 'mode' | 'compareBits' | 'scaleBits'>, len: number): number {
  return Math.ceil(Math.log2(len)) * reluRounds(ctx, ctx.compareBits, maxLowBits(ctx, len));
}

/**
 * The mask as a ring tensor, after checking it; undefined when every entry is 1 (a decode step's
 * causal mask): masking with it would change nothing, so its products are skipped.
 */
function maskTensor(ctx: PartyContext, mask: ArrayLike<number>, shape: readonly number[]): RingTensor | undefined {
  const size = T.sizeOf(shape);
  if (mask.length !== size) throw new RangeError(`softmax: mask has ${mask.length} entries, scores ${size}`);
  let excluded = false;
  for (let i = 0; i < size; i++) {
    if (mask[i] !== 0 && mask[i] !== 1) throw new RangeError(`softmax: mask entries must be 0 or 1, got ${mask[i]} at ${i}`);
    if (mask[i] === 0) excluded = true;
  }
  if (!excluded) return undefined;
  const t = T.zeros(ctx.ring, shape);
  for (let i = 0; i < size; i++) if (mask[i] === 1) T.setElement(t, i, 1n);
  return t;
}

/** Softmax along the last axis. */
export async function softmax(ctx: PartyContext, x: SecretTensor, opts: SoftmaxOptions = {}): Promise<SecretTensor> {
  const { rows, len } = rowsOf(x.shape);
  const shape = [rows, len];
  let scores = L.reshapeS(x, shape);
  const mask = opts.mask === undefined ? undefined : maskTensor(ctx, opts.mask, shape);
  if (mask) {
    const low = -(1n << BigInt(ctx.compareBits - 2));
    const fillMasked = T.mulScalar(T.addScalar(T.neg(mask), 1n), low); // (1 − mask)·(−2^(ℓ−2))
    scores = L.addSP(ctx, L.mulSP(scores, mask), fillMasked);
  }
  const m = await max(ctx, scores, ctx.compareBits, maxLowBits(ctx, len));
  // e, S and r = 1/S keep G = 3 guard bits (scale f + 3): read as a scale-f number, S is 8× the sum.
  let e = await expForRows(ctx, L.subSS(scores, broadcastRows(ctx, m, rows, len)), opts.exp ?? {}, GUARD, rows, len);
  if (mask) e = maskTruncatedRows(e, mask);
  const r = await reciprocal(ctx, rowSums(ctx, e.value, rows, len), reciprocalOptions(len));
  const out = await truncate(ctx, await mulTruncatedRows(ctx, e, r), ctx.scaleBits + 2 * GUARD);
  return L.reshapeS(out, x.shape);
}
