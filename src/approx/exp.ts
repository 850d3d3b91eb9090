/**
 * exp(x) on secret fixed-point values, for x ≤ 1 (softmax inputs x − max ≤ 0, with a margin).
 *
 * Method: clip below at −T, a Chebyshev interpolant (chebyshev.ts) of exp(x/2^k) on [−T, U],
 * then k squarings (range reduction by 2^k; default k = 2):
 *   1. b = [x < −T]                          one coarse ltz on x + T (compare.ts, the low f − 4
 *                                            bits left out: inputs in [−T − 1/16, −T) may go
 *                                            unclipped, which is harmless: see below)
 *   2. t = (2x + T − U)/(T + U)              local when (T + U) divides 16 (see below)
 *      t ← t + b·(−1 − t)                    one Beaver mul (bit × value: exact, no truncation);
 *                                            free in semi-honest mode with a local map: t is
 *                                            affine in z = x + T, so b·(−1 − t) is affine in
 *                                            b and b·z = z − relu(z), which compare.ts relu
 *                                            returns with the comparison
 *   3. y = Σ_{k≤d} c_k T_k(t)                 ⌈log2 d⌉ product levels, d = `cheby.deg`
 *   4. y ← y² (k times)                      semi-honest with dealer truncation: each squaring
 *                                            fused with the truncation before it
 *                                            (protocols/truncate-square.ts): y truncated to
 *                                            q = 28 fractional bits and squared locally in the
 *                                            truncation's round; the last square truncated to
 *                                            the output scale. Otherwise a Beaver square and a
 *                                            truncation back to the basis scale s = f + 3.
 * With the defaults T + U = 16 the map is t = x/8 + 7/8: the ring integer of x at scale f IS
 * x/8 at scale f + 3, so t costs nothing and brings 3 guard bits into the basis.
 * Clipped inputs (x < −T, t = −1) give 0, so that the many clipped entries of a softmax row do
 * not add up to a bias: without squarings c_0's encoding makes the polynomial exactly 0 at
 * t = −1 (exp(−15) = 3e−7 is 0.02 LSB); with squarings p(−1) is anchored at exp(−T/2^k) and
 * exp(−T) is subtracted at the wide scale before the last truncation (kept, it would average
 * 0.16 LSB at f + 3 per clipped entry: 4e−5 of a dominant probability at 128 entries). The
 * output is exp(max(x, −T)) − exp(−T) either way.
 * The clip's comparison is coarse (it leaves out the low f − 4 bits of x + T: 3 rounds instead of
 * 4 in semi-honest mode at ℓ = 40): an input in [−T − 2^−4, −T) is clipped or not depending on
 * the comparison's mask; unclipped, its t lies in [−1 − 2^−7, −1) where the interpolant
 * extrapolates smoothly (|T_k(t)| ≤ 1.6 there for k ≤ 8), and its output exp(x) − exp(−T) is
 * within 2·10^−8 of 0, as a clipped input's is.
 *
 * Defaults: T = 15, U = 1, k = 2, d = DEFAULT_CHEBY_DEG = 8 (3 levels). The squarings replace
 * one doubling level and half the degree: with the fused squarings the dealer deals 38 ring
 * elements per input for the basis, sum and squarings instead of 62 (d = 16, k = 0), and 7
 * elements are opened instead of 9, for one more round (10 instead of 9 with the comparison).
 * In-process (bench/nonlinear-costs.ts, 12 rows × 1,019 scores, dealer and both parties in one
 * thread): 35 ms per call instead of 42–47 ms, 67.4 instead of 83.4 bytes per score.
 *   Fit error of exp on [−15, 1] (float64, max |exp(x) − p(x)^(2^k)|):
 *     k \ d    6       8       10      12      14      16      20
 *     0      8.5e−2  1.2e−2  1.3e−3  1.0e−4  6.4e−6  3.2e−7  4.6e−10
 *     1      1.3e−2  6.1e−4  2.0e−5  4.6e−7  8.2e−9  1.1e−10
 *     2      8.4e−4  1.1e−5  9.4e−8  5.8e−10
 *     4      6.9e−7  5.9e−10
 *   (k = 2, d = 8 on [−15, 0], the softmax inputs: 2.8e−6. Its largest error is near x = 1,
 *   where the squarings multiply the error of p by 4·exp(3x/4).)
 *   Measured end to end before the squarings were fused and kept at the basis scale (2 parties,
 *   f = 16, 'local' truncation, ℓ = 40; 4,000 points on [−20, 1]; rounds include the 7-round
 *   comparison and the clip; squarings then truncated to f each time):
 *     k = 0, d = 16: 12 rounds, max abs error 2.0e−5
 *     k = 0, d = 14: 12 rounds, 2.6e−5;  k = 0, d = 12: 12 rounds, 1.4e−4;  k = 0, d = 20: 13, 1.7e−5
 *     k = 1, d = 12: 13 rounds, 4.5e−5;  k = 2, d = 8: 13 rounds, 1.6e−4;  k = 3, d = 7: 14, 2.4e−4
 *     k = 4, d = 6 (the classical "square 4 times" choice): 15 rounds, 5.5e−4
 * Measured error of the defaults over eight runs of exp.test.ts (x ∈ [−20, 1] incl. −15 ± 1 LSB,
 * 0, 1, and −2^22): max abs error 2.9e−5 (1.9 LSB) with dealer truncation, 3.6e−5 (2.3 LSB)
 * with 'local' (squares at f + 3, whose rounding the squarings multiply by 4); asserted
 * ≤ EXP_MAX_ABS_ERROR = 4e−5 (k = 0, d = 16 measured 2.2e−5). Relative error on [−4, 1]:
 * ≤ 7.1e−4 (it is 1 LSB / exp(x): not meaningful below exp(x) ≈ 2^−8). With 3 guard bits kept
 * (expWithGuardBits, used by softmax) on [−16, 0]: ≤ 7.0e−6 (0.46 LSB of f; k = 0, d = 16: 4.5e−6).
 * Valid domain: x ≤ U = 1, any x below −T; |x + T| < 2^(ℓ−f) for the comparison. Above U the
 * polynomial extrapolates and the error grows quickly: callers must not pass x > U.
 * Magnitudes: products ≤ 2^38, final sums ≤ 2^42 (local-truncation failure ≤ 2^−22 per element);
 * fused squarings: y ≤ e^(U/2^k) at q bits, y² < 2^61 (dealer truncation, exact below 2^62).
 * Cost (rounds): coarse ltz (compare.ts ltzRounds with low = f − 4: 3 semi-honest, 6 malicious at ℓ = 40, f = 16) + 1 (the clip; 0 when folded) + [0, or tr for a general map]
 *   + chebyshevRounds (⌈log2 d⌉·(1 + tr) + tr, one tr fewer with the last level wide; ⌈log2 d⌉ + 1 with the fused levels of semi-honest 'dealer' mode, chebyshev.ts)
 *   + k·(1 + tr), or k when the squarings are fused; tr = 0 ('local') or 1 ('dealer')
 *   truncation: 12 (local) / 17 (dealer) for the defaults at ℓ = 40 in malicious mode, 8 / 9 in
 *   semi-honest mode (one fewer than with an exact clip); see {@link expRounds}.
 *   Bytes per element (2 parties semi-honest, 'dealer'): 65.4 measured (67.4 with the exact
 *   clip) — the comparison ≈ 9,
 *   the fused basis 40 (δ_1, 3 truncated T_k, the sum), the two squarings' truncations 16; the
 *   folded clip sends nothing.
 * Citation: Chebyshev interpolation: Trefethen, "Approximation Theory and Approximation
 * Practice" (SIAM 2013); squaring-based range reduction as in CrypTen (Knott et al.,
 * NeurIPS 2021); clipping the exp input below as in SecretFlow-SPU / PUMA (Dong et al., 2023).
 */
import { ltz, ltzRounds, relu, reluFolds } from '../protocols/compare.ts';
import type { PartyContext } from '../protocols/context.ts';
import { addConstFx, fx } from '../protocols/fixed-arith.ts';
import { mul, square } from '../protocols/beaver.ts';
import { truncate, truncateRounds } from '../protocols/truncate.ts';
import { truncateForRows, type TruncatedRows } from '../protocols/truncate-row-product.ts';
import { truncateAndSquare, truncatesAndSquares } from '../protocols/truncate-square.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import {
  affineRounds,
  affineToScale,
  cachedChebyshevFit,
  CHEB_GUARD_BITS,
  chebyshevBasis,
  chebyshevEval,
  chebyshevRounds,
  chebyshevSums,
  chebyshevSumsUntruncated,
  coefficientBound,
  localAffine,
} from './chebyshev.ts';

/** Default Chebyshev degree of exp (the `cheby.deg` tunable). */
export const DEFAULT_CHEBY_DEG = 8;
export const DEFAULT_EXP_LOWER = 15;
export const DEFAULT_EXP_UPPER = 1;
export const DEFAULT_EXP_SQUARINGS = 2;
/** The clip's coarse comparison leaves out the low f − 4 bits (see the module header). */
const CLIP_SLACK_LOG2 = -4;

/** Low bits left out of the clip's comparison: f − 4, within [0, ℓ − 1]. */
function clipLowBits(ctx: Pick<PartyContext, 'scaleBits' | 'compareBits'>): number {
  return Math.min(ctx.compareBits - 1, Math.max(0, ctx.scaleBits + CLIP_SLACK_LOG2));
}

/** Max abs error of the defaults at f = 16, from the measurements above (asserted by exp.test.ts). */
export const EXP_MAX_ABS_ERROR = 4e-5;

export interface ExpOptions {
  /** Chebyshev degree d (`cheby.deg`), 1..64. */
  readonly degree?: number;
  /** Range reduction: fit exp(x/2^k), then square k times. */
  readonly squarings?: number;
  /** T: inputs below −T are clipped to −T. */
  readonly lower?: number;
  /** U: largest valid input. */
  readonly upper?: number;
}

interface ResolvedExp {
  degree: number;
  squarings: number;
  lower: number;
  upper: number;
}

function resolve(opts: ExpOptions, ctxDegree: number | undefined): ResolvedExp {
  const r = {
    degree: opts.degree ?? ctxDegree ?? DEFAULT_CHEBY_DEG,
    squarings: opts.squarings ?? DEFAULT_EXP_SQUARINGS,
    lower: opts.lower ?? DEFAULT_EXP_LOWER,
    upper: opts.upper ?? DEFAULT_EXP_UPPER,
  };
  if (!Number.isInteger(r.squarings) || r.squarings < 0 || r.squarings > 8)
    throw new RangeError(`exp: squarings must be an integer in [0, 8], got ${r.squarings}`);
  if (!(r.lower > 0) || !(r.upper > -r.lower)) throw new RangeError(`exp: need lower > 0 and upper > −lower, got ${r.lower}, ${r.upper}`);
  return r;
}

/** The Chebyshev coefficients of exp(x/2^k) on [−T, U]. */
const expFit = (o: ResolvedExp): Float64Array =>
  cachedChebyshevFit(`exp/${o.squarings}`, (v) => Math.exp(v / 2 ** o.squarings), -o.lower, o.upper, o.degree);

/**
 * Is the clip folded into the comparison (compare.ts relu)? Semi-honest Z_2^64 with a local map
 * to t (α·2^(s−f) an integer: T + U = 16 at 3 guard bits, the defaults).
 */
function foldsClip(ctx: Pick<PartyContext, 'mode' | 'scaleBits'>, o: ResolvedExp, s: number): boolean {
  return reluFolds(ctx) && tMap(ctx, o, s) !== undefined;
}

/** The local map from x to t at scale s (chebyshev.ts localAffine), if there is one. */
function tMap(ctx: Pick<PartyContext, 'scaleBits'>, o: ResolvedExp, s: number): { factor: bigint; offset: bigint } | undefined {
  const width = o.lower + o.upper;
  return localAffine(ctx.scaleBits, 2 / width, (o.lower - o.upper) / width, s);
}

/** Documented round cost of {@link exp}. */
export function expRounds(
  ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'> & { readonly chebyDeg?: number },
  opts: ExpOptions = {},
): number {
  const o = resolve(opts, ctx.chebyDeg);
  const tr = truncateRounds(ctx);
  const s = ctx.scaleBits + CHEB_GUARD_BITS;
  const bound = coefficientBound(expFit(o));
  return (
    ltzRounds(ctx.mode, ctx.compareBits, clipLowBits(ctx)) +
    (foldsClip(ctx, o, s) ? 0 : 1) +
    affineRounds(ctx, 2 / (o.lower + o.upper), s) +
    chebyshevRounds(ctx, o.degree, { scale: s, valueBound: bound }) +
    o.squarings * (fusesSquarings(ctx, o) ? 1 : 1 + tr)
  );
}

/** exp(x) elementwise (see the module header for domain and error). */
export async function exp(ctx: PartyContext, x: SecretTensor, opts: ExpOptions = {}): Promise<SecretTensor> {
  return expWithGuardBits(ctx, x, opts, 0);
}

/**
 * exp(x) at f + guard fractional bits (guard ≤ 3): the same protocol and cost, with the final
 * truncations shortened so that callers summing many values (softmax) keep the extra precision.
 */
export async function expWithGuardBits(ctx: PartyContext, x: SecretTensor, opts: ExpOptions, guard: number): Promise<SecretTensor> {
  return expWith(ctx, x, opts, guard, {
    truncate: (y, shift) => truncate(ctx, y, shift),
    wrap: (y) => y,
  });
}

/**
 * {@link expWithGuardBits} on x [rows, len] whose result is multiplied by one value per row
 * later (softmax): in the fused path (semi-honest, dealer truncation) the last truncation keeps
 * its form (protocols/truncate-row-product.ts), so that product opens one element per row instead
 * of every result again. The same values, rounds and openings as expWithGuardBits.
 */
export async function expForRows(
  ctx: PartyContext,
  x: SecretTensor,
  opts: ExpOptions,
  guard: number,
  rows: number,
  len: number,
): Promise<TruncatedRows> {
  return expWith(ctx, x, opts, guard, {
    truncate: (y, shift) => truncateForRows(ctx, y, shift, rows, len),
    wrap: (value) => ({ value, rows, len, form: undefined }),
  });
}

/** How the fused path's last truncation runs, and how the other paths' result is returned. */
interface ExpOutput<R> {
  truncate(y: SecretTensor, shift: number): Promise<R>;
  wrap(y: SecretTensor): R;
}

async function expWith<R>(ctx: PartyContext, x: SecretTensor, opts: ExpOptions, guard: number, output: ExpOutput<R>): Promise<R> {
  const o = resolve(opts, ctx.chebyDeg);
  if (!Number.isInteger(guard) || guard < 0 || guard > CHEB_GUARD_BITS)
    throw new RangeError(`exp: guard bits must be in [0, ${CHEB_GUARD_BITS}], got ${guard}`);
  const outScale = ctx.scaleBits + guard;
  const s = ctx.scaleBits + CHEB_GUARD_BITS;
  const width = o.lower + o.upper;
  const z = addConstFx(ctx, x, o.lower);
  let t: SecretTensor;
  const map = reluFolds(ctx) ? tMap(ctx, o, s) : undefined;
  if (map) {
    // raw = m·x + B is local (m = α·2^(s−f) an integer), so with E = T at scale f and b = 1 − g,
    // g = [z ≥ 0]: b·(−2^s − raw) = −m·b·z + K·b, K = m·E − B − 2^s (0 for the defaults), and
    // b·z = z − relu(z) comes with the comparison (compare.ts relu): the clip costs no round.
    const { geq, relu: above } = await relu(ctx, z, ctx.compareBits, clipLowBits(ctx));
    const raw = await affineToScale(ctx, x, 2 / width, (o.lower - o.upper) / width, s);
    const m = map.factor;
    const k = m * fx(ctx, o.lower) - map.offset - (1n << BigInt(s));
    const below = L.subPS(ctx, T.fill(ctx.ring, geq.shape, 1n), geq);
    t = L.addSS(L.subSS(raw, L.mulScalarS(L.subSS(z, above), m)), L.mulScalarS(below, k));
  } else {
    const below = await ltz(ctx, z, ctx.compareBits, clipLowBits(ctx));
    const raw = await affineToScale(ctx, x, 2 / width, (o.lower - o.upper) / width, s);
    // t = raw + b·(−1 − raw): −1 at scale s for clipped elements (garbage raw is multiplied by 0).
    const toEdge = L.subPS(ctx, T.fill(ctx.ring, raw.shape, -(1n << BigInt(s))), raw);
    t = L.addSS(raw, await mul(ctx, below, toEdge));
  }
  const k = o.squarings;
  const coeffs = expFit(o);
  // Clipped inputs (t = −1) give 0 so that they do not add up in a softmax row. Without squarings
  // the anchor makes p(−1) exactly 0 (exp(−T) < 2^−21 is below any LSB). With squarings p(−1) is
  // anchored at exp(−T/2^k), and exp(−T) — about 0.16 LSB at f + 3, which the final truncation
  // would keep in expectation — is subtracted at the wide scale before the final truncation: the
  // output is exp(max(x, −T)) − exp(−T) in both cases.
  const anchor = { t: -1 as const, value: k === 0 ? 0 : Math.exp(-o.lower / 2 ** k) };
  if (k === 0) return output.wrap(L.reshapeS(await chebyshevEval(ctx, t, s, coeffs, outScale, anchor), x.shape));
  const floorAt = (scale: number): bigint => -BigInt(Math.round(Math.exp(-o.lower) * 2 ** scale));
  const basis = await chebyshevBasis(ctx, t, s, o.degree);
  if (fusesSquarings(ctx, o)) {
    // The sum's truncation to scale q and every squaring but the last in one round each
    // (protocols/truncate-square.ts), then the last square's truncation to outScale.
    const q = squaringScale(o);
    const wide = await chebyshevSumsUntruncated(ctx, basis, [{ coeffs, anchor }]);
    let y = await truncateAndSquare(ctx, wide.sums[0], wide.scale - q);
    for (let i = 1; i < k; i++) y = await truncateAndSquare(ctx, y.square, q);
    return output.truncate(L.reshapeS(L.addScalarS(ctx, y.square, floorAt(2 * q)), x.shape), 2 * q - outScale);
  }
  // y at the basis scale s (its guard bits kept), each square truncated back to s, the last to outScale.
  let y = (await chebyshevSums(ctx, basis, [{ coeffs, anchor }], s))[0];
  for (let i = 0; i < k - 1; i++) y = await truncate(ctx, await square(ctx, y), s);
  y = await truncate(ctx, L.addScalarS(ctx, await square(ctx, y), floorAt(2 * s)), 2 * s - outScale);
  return output.wrap(L.reshapeS(y, x.shape));
}

/** Fractional bits of the squared values in the fused path: 28, or fewer so that y² = exp(2x/2^k) stays below 2^61. */
const MAX_SQUARING_SCALE = 28;

/** The fused path's squaring scale q for these options: y ≤ e^(U/2^k) at q bits needs 2q + 2·log2(e)·U/2^k ≤ 61. */
function squaringScale(o: ResolvedExp): number {
  return Math.min(MAX_SQUARING_SCALE, Math.floor((61 - (2 * Math.log2(Math.E) * Math.max(0, o.upper)) / 2 ** o.squarings) / 2));
}

/**
 * Are the squarings fused with their truncations (protocols/truncate-square.ts: semi-honest,
 * dealer truncation, and a squaring scale at least the basis scale)?
 */
function fusesSquarings(ctx: Pick<PartyContext, 'mode' | 'truncation' | 'scaleBits'>, o: ResolvedExp): boolean {
  return o.squarings > 0 && truncatesAndSquares(ctx) && squaringScale(o) >= ctx.scaleBits + CHEB_GUARD_BITS;
}
