/**
 * c/x (c = 1 unless `factor` is given) on secret fixed-point values x ∈ [2^m, 2^M]
 * (m = minLog2 ≥ −f, default 0; M = maxLog2 < ℓ − f).
 *
 * Method (normalize to [1, 2], approximate, scale back; pow2.ts and chebyshev.ts):
 *   1. ind_j = [2^j ≤ x < 2^(j+1)], j = m..M−1: ONE batched comparison of x against the public
 *      powers 2^(m+1) .. 2^(M−1) (the outer buckets are open-ended);
 *   2. x̃ = Σ_j ind_j·x·2^−j ∈ [1, 2]                   one mul (bits × x) + one truncation;
 *   3. r = Σ_{k≤d} c_k T_k(2x̃ − 3) ≈ 1/x̃               Chebyshev interpolant of 1/x on [1, 2];
 *      the map is local and exact; r keeps 3 guard bits. Optional Newton steps
 *      r ← r·(2 − x̃·r) (2 rounds each) for the classical "initial guess + Newton" variant;
 *   4. c/x = Σ_j ind_j·r·c·2^−j                          one mul (bits × r) + one truncation
 *      (c = 2^a·c', c' ∈ [1, 2) folded into the coefficients, 2^a into the exact shifts).
 * Why not the textbook "y0 = Σ_j ind_j/(1.5·2^j) (linear in the bits), then Newton
 * y ← y(2 − x·y) on x itself": from |1 − x·y0| ≤ 1/3 it takes 4 steps (8 rounds + truncations)
 * to reach 2^−16, against 1 + 3 + 1 = 5 rounds here for the same comparisons; and over a wide
 * range y ≈ 2^−M has almost no significant bits at scale f (for M = 16, y0 is one LSB), so
 * Newton on x cannot converge there, while the normalized core always has full precision.
 * The coefficients of 1/x on [1, 2] decay like (3 + √8)^−k: the fit error of degree d is
 * ≈ 1.4·5.83^−(d+1), 1.8e−7 for d = 8.
 * Measured (2 parties, f = 16, 'local' truncation; ~1,900 log-spaced and random points on
 * [1, 2^10] incl. every power of two ± 1 LSB), error = |y − 1/x| / max(1, 1/x):
 *     degree 8 (default, 3 levels): 12 rounds, 1.5e−5      degree 6: 12 rounds, 2.0e−5
 *     degree 4 (2 levels):          11 rounds, 3.1e−4      degree 10: 13 rounds, 1.5e−5
 *     degree 2 + 2 Newton steps:    14 rounds, 2.0e−5      degree 3 + 1 Newton: 13 rounds, 2.1e−5
 * Over ten runs of reciprocal.test.ts (domains [1, 2^10], [2^−16, 2^16], [1, 2], [8, 128] with
 * factor 8; 2 and 3 parties, semi-honest and malicious, both truncations): max 2.1e−5 (1.4 LSB),
 * absolute where 1/x ≤ 1 and relative where 1/x > 1; asserted ≤ RECIPROCAL_MAX_ERROR = 3e−5.
 * Valid domain: x ∈ [2^m, 2^M]; a few LSB outside is harmless; x ≤ 0 gives garbage.
 * Magnitudes before truncation: ≤ 2^(f + M + 5) (2^31 for M = 10).
 * Cost (rounds): ltz (compare.ts ltzRounds: 4 semi-honest, 7 malicious at ℓ = 40; none if M − m = 1) + (1 + tr·[M > 1])
 *   + chebyshevRounds (⌈log2 d⌉·(1 + tr) + tr, one tr fewer with the last level wide; ⌈log2 d⌉ + 1 with the fused levels of semi-honest 'dealer' mode)
 *   + newton·2·(1 + tr) + (1 + tr·[some shift is negative]); 12 ('local') / 17 ('dealer')
 *   in malicious mode, 9 / 12 in semi-honest mode, for the defaults at ℓ = 40 — see {@link reciprocalRounds}. Comparisons: (M − m − 1) per
 *   element (≈ 1.3 KB each, 2 parties semi-honest); Beaver products: 2(M − m) + d − 1.
 * Citation: Newton–Raphson reciprocal as in CrypTen (Knott et al., NeurIPS 2021); normalization
 * before a polynomial core as in SiRnn (Rathee et al., IEEE S&P 2021); Chebyshev interpolation:
 * Trefethen, ATAP (SIAM 2013).
 */
import type { PartyContext } from '../protocols/context.ts';
import { mulFx } from '../protocols/fixed-arith.ts';
import { truncateRounds } from '../protocols/truncate.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { affineToScale, cachedChebyshevFit, CHEB_GUARD_BITS, chebyshevEval, chebyshevRounds, coefficientBound } from './chebyshev.ts';
import { checkPow2Domain, pow2BucketRounds, pow2Buckets, scaleByBuckets, scaleByBucketsRounds } from './pow2.ts';

export const DEFAULT_RECIPROCAL_DEGREE = 8;
/** Max of |y − c/x| / max(1, c/x) for the defaults at f = 16, from the measurements above. */
export const RECIPROCAL_MAX_ERROR = 3e-5;
/** The same for the Newton variants (degree 2–3 + 1–2 steps), which run without guard bits. */
export const RECIPROCAL_NEWTON_MAX_ERROR = 5e-5;

export interface ReciprocalOptions {
  /** m: smallest valid input is 2^m (default 0). */
  readonly minLog2?: number;
  /** M: largest valid input is 2^M. */
  readonly maxLog2: number;
  /** Degree of the Chebyshev core on [1, 2] (default 8). */
  readonly degree?: number;
  /** Newton steps after the core (default 0). */
  readonly newton?: number;
  /**
   * Public c > 0: returns c/x. Free: c = 2^a·c' with c' ∈ [1, 2); c' is folded into the core
   * coefficients (so Newton steps need c' = 1) and 2^a into the exact output shifts. softmax.ts
   * uses it to read a sum kept at f + 3 bits as 8× its value.
   */
  readonly factor?: number;
}

export function splitFactor(factor: number): { a: number; c: number } {
  if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`factor must be a positive number, got ${factor}`);
  const a = Math.floor(Math.log2(factor));
  return { a, c: factor / 2 ** a };
}

function bucketExps(lo: number, hi: number, a = 0): number[] {
  return Array.from({ length: hi - lo }, (_, i) => a - (lo + i));
}

/** Fractional bits the core output keeps beyond f. */
export function coreGuard(newton: number): number {
  return newton > 0 ? 0 : CHEB_GUARD_BITS;
}

interface Resolved {
  lo: number;
  hi: number;
  degree: number;
  newton: number;
  a: number;
  c: number;
}

function resolve(ctx: Pick<PartyContext, 'scaleBits' | 'compareBits'>, opts: ReciprocalOptions): Resolved {
  const lo = opts.minLog2 ?? 0;
  const hi = opts.maxLog2;
  checkPow2Domain(ctx, lo, hi, 'reciprocal');
  const newton = opts.newton ?? 0;
  if (!Number.isInteger(newton) || newton < 0 || newton > 4)
    throw new RangeError(`reciprocal: newton must be an integer in [0, 4], got ${newton}`);
  const { a, c } = splitFactor(opts.factor ?? 1);
  if (newton > 0 && c !== 1) throw new RangeError('reciprocal: Newton steps need a power-of-two factor');
  return { lo, hi, degree: opts.degree ?? DEFAULT_RECIPROCAL_DEGREE, newton, a, c };
}

const reciprocalFit = (degree: number): Float64Array => cachedChebyshevFit('reciprocal', (v) => 1 / v, 1, 2, degree);

/** Documented round cost of {@link reciprocal}. */
export function reciprocalRounds(
  ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'>,
  opts: ReciprocalOptions,
): number {
  const { lo, hi, degree, newton, a, c } = resolve(ctx, opts);
  const tr = truncateRounds(ctx);
  return (
    pow2BucketRounds(ctx, lo, hi) +
    scaleByBucketsRounds(ctx, bucketExps(lo, hi)) +
    chebyshevRounds(ctx, degree, { scale: ctx.scaleBits + CHEB_GUARD_BITS, valueBound: coefficientBound(reciprocalFit(degree)) * c }) +
    newton * 2 * (1 + tr) +
    scaleByBucketsRounds(ctx, bucketExps(lo, hi, a - coreGuard(newton)))
  );
}

/** c/x elementwise (c = opts.factor, default 1) for x ∈ [2^minLog2, 2^maxLog2]. */
export async function reciprocal(ctx: PartyContext, x: SecretTensor, opts: ReciprocalOptions): Promise<SecretTensor> {
  const { lo, hi, degree, newton, a, c } = resolve(ctx, opts);
  const size = T.sizeOf(x.shape);
  const flat = L.reshapeS(x, [size]);
  const ind = await pow2Buckets(ctx, flat, lo, hi);
  const xt = await scaleByBuckets(
    ctx,
    ind,
    ind.map(() => flat),
    bucketExps(lo, hi),
  );
  const s = ctx.scaleBits + CHEB_GUARD_BITS;
  const t = await affineToScale(ctx, xt, 2, -3, s);
  const fit = reciprocalFit(degree);
  // The core keeps CHEB_GUARD_BITS below the output LSB (dropped by the final shifts), except
  // when Newton steps (written for scale f) follow.
  const guard = coreGuard(newton);
  let r = await chebyshevEval(
    ctx,
    t,
    s,
    Array.from(fit, (k) => k * c),
    ctx.scaleBits + guard,
  );
  for (let i = 0; i < newton; i++) {
    const xr = await mulFx(ctx, xt, r);
    r = await mulFx(ctx, r, L.subPS(ctx, T.fill(ctx.ring, [size], 2n << BigInt(ctx.scaleBits)), xr));
  }
  const y = await scaleByBuckets(
    ctx,
    ind,
    ind.map(() => r),
    bucketExps(lo, hi, a - guard),
  );
  return L.reshapeS(y, x.shape);
}
