/**
 * RMSNorm and LayerNorm over the last axis of secret fixed-point x [.., d], WITHOUT the gain γ
 * (and bias β): callers fold γ into the following matmul (and β into its bias).
 *     rmsNorm(x)   = x · 1/√(mean(x²) + eps)
 *     layerNorm(x) = (x − μ) · 1/√(mean((x − μ)²) + eps),  μ = mean(x)
 *
 * Method:
 *   (LayerNorm) μ = Σx·(1/d) with 1/d carried at f + 8 bits (common.ts mulConstPrecise; plain
 *     mulConstFx encodes 1/768 with 0.4 % error), c = x − μ; (RMSNorm) c = x;
 *   z = Σ_row c² + d·eps                  (squares at scale 2f, local row sum, ONE truncation per
 *                                          row; semi-honest: protocols/row-product.ts squareRows);
 *   y = √d·2^6/√z = 2^6/√(mean + eps)     (rsqrt.ts over [2^m, 2^M], m = max(−f, ⌊log2(d·eps)⌋),
 *                                          M = ℓ − f − 1 = 23; the factor √d·2^6 is folded into
 *                                          its coefficients and shifts for free, so 1/d costs no
 *                                          truncation and y keeps 6 extra bits: 1/√(mean) of a
 *                                          large row is small and would lose its precision at f);
 *   out = c ⊙ y                           (one product, truncated by f + 6; semi-honest: c's masked
 *                                          opening from the squares serves it, so only y is opened,
 *                                          once per row — mulMaskedRows).
 *   Option prescaleLog2 = p normalizes x·2^p instead (eps·4^p): p > 0 is exact and free and
 *   gains precision for small activations, p < 0 costs one truncation and widens the range.
 * Valid domain: d·(mean square + eps)·4^p ≤ 2^M = 2^(ℓ−f−1): mean square ≤ 2^23/d at p = 0
 * (1.1e4 for d = 768, 2048 for d = 4096), the comparison bound; raise ctx.compareBits or use
 * p < 0 beyond. Squares need |x| < 2^15 and, with 'local' truncation, the row sum of squares
 * fails with probability ≈ Σx²·2^(2f−64) per row (the union bound of truncating each square). For LayerNorm |μ| ≲ 4 keeps the mean's
 * truncation below 2^42.
 * Error: the rsqrt approximation and, for LayerNorm, the rounding of μ (±1 LSB, times y), which
 * grows as the spread σ shrinks (use p > 0); the squares are rounded once per row (before the
 * row product, once per element: relative error of y ≈ 2^−f/(√(6d)·mean)).
 *   Measured max abs output error (ten runs of norms.test.ts: d ∈ {8, 64, 768}, Gaussian rows
 *   with σ ∈ [1/4, 64] (dealer) / [1/4, 16] (local) and means 0 and 1.5σ, d·mean square ≤ 2^23;
 *   2 and 3 parties, semi-honest and malicious), while each square was rounded: RMSNorm 7.0e−5,
 *   LayerNorm 1.1e−4; one run with one rounding per row: RMSNorm 4.6e−5, LayerNorm 5.5e−5; asserted ≤
 *   RMS_NORM_MAX_ABS_ERROR = 1.2e−4 and LAYER_NORM_MAX_ABS_ERROR = 2e−4. Outputs are O(1) (≤ √d),
 *   so this is ≈ 2^−13 of a typical output. With σ = 1/64 and p = 5: 2.4e−5. For reference,
 *   stories260K's norm inputs have σ ∈ [0.18, 2.9] (max |x| = 12).
 * Cost (rounds): rms: [tr if p < 0] + (1 + tr) + rsqrtRounds + (1 + tr); layer: rms + tr
 *   (= 14 / 21 rounds for RMSNorm and 14 / 22 for LayerNorm with 'local' / 'dealer' truncation
 *   at ℓ = 40, malicious mode); rsqrt runs on one value per row, so its ~30 comparisons are per row, not per
 *   element: 0.7 KB per element for d = 64 (2 parties semi-honest).
 * Citation: Zhang & Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019; Ba, Kiros &
 * Hinton, "Layer Normalization", 2016; secure LayerNorm via rsqrt as in CrypTen (Knott et al.,
 * NeurIPS 2021) and PUMA (Dong et al., 2023).
 */
import type { PartyContext } from '../protocols/context.ts';
import { mulMaskedRows, squareRows } from '../protocols/row-product.ts';
import { truncate, truncateRounds } from '../protocols/truncate.ts';
import { encodeScalar } from '../ring/fixed-point.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { broadcastRows, mulConstPrecise, rowSums, rowsOf } from './common.ts';
import { rsqrt, rsqrtRounds, type RsqrtOptions } from './rsqrt.ts';

/** Max abs output error at f = 16 on the tested domain, from the measurements above. */
export const RMS_NORM_MAX_ABS_ERROR = 1.2e-4;
export const LAYER_NORM_MAX_ABS_ERROR = 2e-4;

export interface NormOptions {
  /**
   * p: normalize x·2^p instead of x (same result in exact arithmetic; eps is scaled by 4^p).
   * p > 0 is exact and free and gains precision for small activations; p < 0 costs one
   * truncation and widens the valid mean-square range by 4^−p. Default 0.
   */
  readonly prescaleLog2?: number;
  /** Largest log2 of d·(mean square + eps) (default ℓ − f − 1). */
  readonly maxLog2?: number;
}

/** The rsqrt options used for rows of length d. */
export function normRsqrtOptions(
  ctx: Pick<PartyContext, 'scaleBits' | 'compareBits'>,
  d: number,
  eps: number,
  opts: NormOptions = {},
): RsqrtOptions {
  const p = opts.prescaleLog2 ?? 0;
  const floorEps = eps > 0 ? Math.floor(Math.log2(d * eps * 4 ** p)) : -Infinity;
  const maxLog2 = opts.maxLog2 ?? ctx.compareBits - ctx.scaleBits - 1;
  const minLog2 = Math.min(maxLog2 - 1, Math.max(-ctx.scaleBits, floorEps));
  return { minLog2, maxLog2, factor: Math.sqrt(d) * 2 ** NORM_Y_GUARD_BITS };
}

/** y = 1/√(mean + eps) is produced at f + 6 fractional bits (free: a power-of-two factor). */
export const NORM_Y_GUARD_BITS = 6;

function checkNorm(eps: number, opts: NormOptions): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError(`norm: eps must be a finite number ≥ 0, got ${eps}`);
  const p = opts.prescaleLog2 ?? 0;
  if (!Number.isInteger(p) || p < -16 || p > 16) throw new RangeError(`norm: prescaleLog2 must be an integer in [−16, 16], got ${p}`);
}

/** Documented round cost of {@link rmsNorm} for rows of length d. */
export function rmsNormRounds(
  ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'>,
  d: number,
  eps: number,
  opts: NormOptions = {},
): number {
  const tr = truncateRounds(ctx);
  return ((opts.prescaleLog2 ?? 0) < 0 ? tr : 0) + (1 + tr) + rsqrtRounds(ctx, normRsqrtOptions(ctx, d, eps, opts)) + (1 + tr);
}

/** Documented round cost of {@link layerNorm} for rows of length d. */
export function layerNormRounds(
  ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'>,
  d: number,
  eps: number,
  opts: NormOptions = {},
): number {
  return rmsNormRounds(ctx, d, eps, opts) + truncateRounds(ctx);
}

async function prescale(ctx: PartyContext, x: SecretTensor, p: number): Promise<SecretTensor> {
  if (p >= 0) return L.mulScalarS(x, 1n << BigInt(p));
  return truncate(ctx, x, -p);
}

async function normalizeCentered(
  ctx: PartyContext,
  c: SecretTensor,
  rows: number,
  d: number,
  eps: number,
  opts: NormOptions,
): Promise<SecretTensor> {
  const p = opts.prescaleLog2 ?? 0;
  // The squares are summed at scale 2f and the row sum truncated once; c's masked opening for
  // the squares serves c ⊙ y too (row-product.ts: y is masked once per row).
  const { square, rowsMasked } = await squareRows(ctx, c, rows, d);
  const sumSquares = await truncate(ctx, rowSums(ctx, square, rows, d), ctx.scaleBits);
  const z = L.addScalarS(ctx, sumSquares, encodeScalar(d * eps * 4 ** p, ctx.scaleBits));
  const y = await rsqrt(ctx, z, normRsqrtOptions(ctx, d, eps, opts));
  return truncate(ctx, await mulMaskedRows(ctx, rowsMasked, y), ctx.scaleBits + NORM_Y_GUARD_BITS);
}

/** x / √(mean(x²) + eps) over the last axis (no gain). */
export async function rmsNorm(ctx: PartyContext, x: SecretTensor, eps: number, opts: NormOptions = {}): Promise<SecretTensor> {
  checkNorm(eps, opts);
  const { rows, len } = rowsOf(x.shape);
  const v = await prescale(ctx, L.reshapeS(x, [rows, len]), opts.prescaleLog2 ?? 0);
  return L.reshapeS(await normalizeCentered(ctx, v, rows, len, eps, opts), x.shape);
}

/** (x − mean) / √(var + eps) over the last axis (no gain, no bias). */
export async function layerNorm(ctx: PartyContext, x: SecretTensor, eps: number, opts: NormOptions = {}): Promise<SecretTensor> {
  checkNorm(eps, opts);
  const { rows, len } = rowsOf(x.shape);
  const v = await prescale(ctx, L.reshapeS(x, [rows, len]), opts.prescaleLog2 ?? 0);
  const mean = await mulConstPrecise(ctx, rowSums(ctx, v, rows, len), 1 / len);
  const c = L.subSS(v, broadcastRows(ctx, mean, rows, len));
  return L.reshapeS(await normalizeCentered(ctx, c, rows, len, eps, opts), x.shape);
}
