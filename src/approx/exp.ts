/**
 * exp(x) on secret fixed-point values, for x ≤ 1 (softmax inputs x − max ≤ 0, with a margin).
 *
 * Method: clip below at −T, a Chebyshev interpolant (chebyshev.ts) of exp(x/2^k) on [−T, U],
 * then k squarings (range reduction by 2^k; default k = 0):
 *   1. b = [x < −T]                          one ltz on x + T
 *   2. t = (2x + T − U)/(T + U)              local when (T + U) divides 16 (see below)
 *      t ← t + b·(−1 − t)                    one Beaver mul (bit × value: exact, no truncation);
 *                                            free in semi-honest mode with a local map: t is
 *                                            affine in z = x + T, so b·(−1 − t) is affine in
 *                                            b and b·z = z − relu(z), which compare.ts relu
 *                                            returns with the comparison
 *   3. y = Σ_{k≤d} c_k T_k(t)                 ⌈log2 d⌉ product levels, d = `cheby.deg`
 *   4. y ← y² (k times)
 * With the defaults T + U = 16 the map is t = x/8 + 7/8: the ring integer of x at scale f IS
 * x/8 at scale f + 3, so t costs nothing and brings 3 guard bits into the basis.
 * Clipped inputs (x < −T, t = −1) give exactly 0: c_0's encoding is adjusted so that the
 * polynomial is exactly 0 at t = −1 (exp(−15) = 3e−7 is 0.02 LSB), so that the many clipped
 * entries of a softmax row do not add up to a bias.
 *
 * Defaults: T = 15, U = 1, k = 0, d = DEFAULT_CHEBY_DEG = 16 (4 levels). Range reduction by
 * squaring does not pay here: each squaring is one more round (two with dealer truncation) and
 * doubles the error near x = 1, while one more Chebyshev level doubles the degree.
 *   Fit error of exp on [−15, 1] (float64, max |exp(x) − p(x)^(2^k)|):
 *     k \ d    6       8       10      12      14      16      20
 *     0      8.5e−2  1.2e−2  1.3e−3  1.0e−4  6.4e−6  3.2e−7  4.6e−10
 *     1      1.3e−2  6.1e−4  2.0e−5  4.6e−7  8.2e−9  1.1e−10
 *     2      8.4e−4  1.1e−5  9.4e−8  5.8e−10
 *     4      6.9e−7  5.9e−10
 *   Measured end to end (2 parties, f = 16, 'local' truncation, ℓ = 40; 4,000 points on
 *   [−20, 1]; rounds include the 7-round comparison and the clip):
 *     k = 0, d = 16 (default): 12 rounds, max abs error 2.0e−5
 *     k = 0, d = 14: 12 rounds, 2.6e−5;  k = 0, d = 12: 12 rounds, 1.4e−4;  k = 0, d = 20: 13, 1.7e−5
 *     k = 1, d = 12: 13 rounds, 4.5e−5;  k = 2, d = 8: 13 rounds, 1.6e−4;  k = 3, d = 7: 14, 2.4e−4
 *     k = 4, d = 6 (the classical "square 4 times" choice): 15 rounds, 5.5e−4
 * Measured error of the defaults over ten runs of exp.test.ts (x ∈ [−20, 1] incl. −15 ± 1 LSB,
 * 0, 1, and −2^22): max abs error 2.2e−5 (1.4 LSB) in every mode; asserted ≤ EXP_MAX_ABS_ERROR
 * = 3e−5. Relative error on [−4, 1]: ≤ 7.6e−4 (it is 1 LSB / exp(x): not meaningful below
 * exp(x) ≈ 2^−8). With 3 guard bits kept (expWithGuardBits, used by softmax) the error is
 * 4.5e−6 (0.3 LSB of f).
 * Valid domain: x ≤ U = 1, any x below −T; |x + T| < 2^(ℓ−f) for the comparison. Above U the
 * polynomial extrapolates and the error grows quickly: callers must not pass x > U.
 * Magnitudes: products ≤ 2^38, final sums ≤ 2^42 (local-truncation failure ≤ 2^−22 per element).
 * Cost (rounds): ltz (compare.ts ltzRounds: 4 semi-honest, 7 malicious at ℓ = 40) + 1 (the clip; 0 when folded) + [0, or tr for a general map]
 *   + chebyshevRounds (⌈log2 d⌉·(1 + tr) + tr, one tr fewer with the last level wide; ⌈log2 d⌉ + 1 with the fused levels of semi-honest 'dealer' mode, chebyshev.ts)
 *   + k·(1 + tr), tr = 0 ('local') or 1 ('dealer') truncation: 12 (local) / 16 (dealer) for the
 *   defaults at ℓ = 40 in malicious mode, 8 / 9 in semi-honest mode; see {@link expRounds}.
 *   Bytes per element (2 parties semi-honest, 'dealer'): 83.4 measured — the comparison ≈ 11,
 *   the fused basis 72 (δ_1, 7 truncated T_k, the sum); the folded clip sends nothing (it was a
 *   16-byte product).
 * Citation: Chebyshev interpolation: Trefethen, "Approximation Theory and Approximation
 * Practice" (SIAM 2013); squaring-based range reduction as in CrypTen (Knott et al.,
 * NeurIPS 2021); clipping the exp input below as in SecretFlow-SPU / PUMA (Dong et al., 2023).
 */
import { ltz, relu, reluFolds } from '../protocols/compare.ts';
import type { PartyContext } from '../protocols/context.ts';
import { addConstFx, fx } from '../protocols/fixed-arith.ts';
import { mul, square } from '../protocols/beaver.ts';
import { truncate, truncateRounds } from '../protocols/truncate.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { ltzRounds } from './common.ts';
import {
  affineRounds,
  affineToScale,
  cachedChebyshevFit,
  CHEB_GUARD_BITS,
  chebyshevEval,
  chebyshevRounds,
  coefficientBound,
  localAffine,
} from './chebyshev.ts';

/** Default Chebyshev degree of exp (the `cheby.deg` tunable). */
export const DEFAULT_CHEBY_DEG = 16;
export const DEFAULT_EXP_LOWER = 15;
export const DEFAULT_EXP_UPPER = 1;
export const DEFAULT_EXP_SQUARINGS = 0;
/** Max abs error of the defaults at f = 16, from the measurements above (asserted by exp.test.ts). */
export const EXP_MAX_ABS_ERROR = 3e-5;

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
    ltzRounds(ctx) +
    (foldsClip(ctx, o, s) ? 0 : 1) +
    affineRounds(ctx, 2 / (o.lower + o.upper), s) +
    chebyshevRounds(ctx, o.degree, { scale: s, valueBound: bound }) +
    o.squarings * (1 + tr)
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
    const { geq, relu: above } = await relu(ctx, z);
    const raw = await affineToScale(ctx, x, 2 / width, (o.lower - o.upper) / width, s);
    const m = map.factor;
    const k = m * fx(ctx, o.lower) - map.offset - (1n << BigInt(s));
    const below = L.subPS(ctx, T.fill(ctx.ring, geq.shape, 1n), geq);
    t = L.addSS(L.subSS(raw, L.mulScalarS(L.subSS(z, above), m)), L.mulScalarS(below, k));
  } else {
    const below = await ltz(ctx, z);
    const raw = await affineToScale(ctx, x, 2 / width, (o.lower - o.upper) / width, s);
    // t = raw + b·(−1 − raw): −1 at scale s for clipped elements (garbage raw is multiplied by 0).
    const toEdge = L.subPS(ctx, T.fill(ctx.ring, raw.shape, -(1n << BigInt(s))), raw);
    t = L.addSS(raw, await mul(ctx, below, toEdge));
  }
  const k = o.squarings;
  const coeffs = expFit(o);
  // Clipped inputs (t = −1) give exactly 0 (k = 0; exp(−T) < 2^−21 is below any LSB) so that they
  // do not add up in a softmax row; with squarings, exp(−T/2^k) (whose 2^k-th power is ≈ 0).
  const anchor = { t: -1 as const, value: k === 0 ? 0 : Math.exp(-o.lower / 2 ** k) };
  let y = await chebyshevEval(ctx, t, s, coeffs, outScale, anchor);
  for (let i = 0; i < k; i++) y = await truncate(ctx, await square(ctx, y), outScale);
  return L.reshapeS(y, x.shape);
}
