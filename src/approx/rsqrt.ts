/**
 * c/√x (c = 1 unless `factor` is given) on secret fixed-point values x ∈ [2^m, 2^M]
 * (defaults m = −f, i.e. one LSB, and M = 16).
 *
 * Method (as reciprocal.ts: normalize to [1, 2], approximate, scale back):
 *   1. ind_j = [2^j ≤ x < 2^(j+1)], j = m..M−1, in ONE batched comparison;
 *   2. x̃ = Σ_j ind_j·x·2^−j ∈ [1, 2]                     one mul + one truncation;
 *   3. over ONE Chebyshev basis of t = 2x̃ − 3 (local map), two sums sharing one truncation:
 *        r_even ≈ c'/√x̃,  r_odd ≈ c'/√(2x̃)             (odd j need the extra factor 2^−½),
 *      kept with 3 guard bits; optional Newton steps r ← r·(3 − z·r²)/2 on both (z = x̃, 2x̃),
 *      computed as (3r − (z·r)·r²)/2: 2 rounds per step;
 *   4. c/√x = Σ_j ind_j·r_(j mod 2)·2^(a − ⌊j/2⌋)          one mul + one truncation
 *      (c = 2^a·c', c' ∈ [1, 2) folded into the coefficients; norms.ts passes c = √d·2^6).
 * Why not "y0 ≈ 2^(−j/2)·const (linear in the bits), then Newton y ← y(3 − x·y²)/2 on x":
 * each step costs 2–3 rounds and only squares the error (e' = ¾e² + ¼e³: from |e0| ≤ ⅓, four
 * steps for 2^−16), and on x itself y² reaches 2^48 as a ring product for small x (y = 2^8),
 * where local truncation fails with probability 2^−16. Here the core costs 3 rounds and every
 * product stays below 2^42. The fit error of 1/√x on [1, 2] with degree 8 is ≈ 1e−7.
 * Measured (2 parties, f = 16, 'local' truncation; ~1,900 log-spaced and random points on
 * [2^−16, 2^16] incl. every power of two ± 1 LSB), error = |y − 1/√x| / max(1, 1/√x):
 *     degree 8 (default): 12 rounds, 1.5e−5     degree 6: 12 rounds, 1.5e−5
 *     degree 4:           11 rounds, 8.6e−5     degree 10: 13 rounds, 1.6e−5
 *     degree 3 + 1 Newton step: 13 rounds, 4.4e−5;  degree 2 + 2 Newton steps: 14 rounds, 4.2e−5
 *   (Newton steps run at scale f without guard bits and are less precise here.)
 * Over ten runs of rsqrt.test.ts (default domain, [2^−4, 2^12], [2^−10, 2^23] with factor
 * √768·64, [1, 2]; 2 and 3 parties, semi-honest and malicious, both truncations): max 1.8e−5
 * (1.2 LSB); asserted ≤ RSQRT_MAX_ERROR = 3e−5. The reference is 1/√ of the encoded input.
 * Valid domain: x ∈ [2^m, 2^M] with −f ≤ m < M < ℓ − f. x = 0 gives a finite garbage value.
 * Cost (rounds): ltz (compare.ts ltzRounds: 4 semi-honest, 7 malicious at ℓ = 40) + (1 + tr·[M > 1])
 *   + chebyshevRounds (⌈log2 d⌉·(1 + tr) + tr, one tr fewer with the last level wide; ⌈log2 d⌉ + 1 with the fused levels of semi-honest 'dealer' mode)
 *   + newton·2·(1 + tr) + (1 + tr·[some shift is negative]); 12 ('local') / 17 ('dealer') in
 *   malicious mode, 9 / 12 in semi-honest mode, for the defaults at ℓ = 40 — see {@link rsqrtRounds}. Comparisons: (M − m − 1) per element;
 *   Beaver products: 2(M − m) + d − 1 per element.
 * Citation: Newton rsqrt as in CrypTen (Knott et al., NeurIPS 2021) and PUMA (Dong et al.,
 * 2023); normalization as in SiRnn (Rathee et al., IEEE S&P 2021); Chebyshev: Trefethen, ATAP.
 */
import type { PartyContext } from '../protocols/context.ts';
import { mul } from '../protocols/beaver.ts';
import { truncate, truncateRounds } from '../protocols/truncate.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import {
  affineToScale,
  cachedChebyshevFit,
  CHEB_GUARD_BITS,
  chebyshevBasis,
  chebyshevRounds,
  chebyshevSums,
  coefficientBound,
} from './chebyshev.ts';
import { coreGuard, splitFactor } from './reciprocal.ts';
import { checkPow2Domain, pow2BucketRounds, pow2Buckets, scaleByBuckets, scaleByBucketsRounds } from './pow2.ts';

export const DEFAULT_RSQRT_DEGREE = 8;
export const DEFAULT_RSQRT_MAX_LOG2 = 16;
/** Max of |y − c/√x| / max(1, c/√x) for the defaults at f = 16, from the measurements above. */
export const RSQRT_MAX_ERROR = 3e-5;
/** The same for the Newton variants (degree 2–3 + 1–2 steps), which run without guard bits. */
export const RSQRT_NEWTON_MAX_ERROR = 8e-5;

export interface RsqrtOptions {
  /** m: smallest valid input is 2^m (default −f). */
  readonly minLog2?: number;
  /** M: largest valid input is 2^M (default 16). */
  readonly maxLog2?: number;
  /** Degree of the Chebyshev core on [1, 2] (default 8). */
  readonly degree?: number;
  /** Newton steps after the core (default 0). */
  readonly newton?: number;
  /**
   * Public c > 0: returns c/√x. Free: c = 2^a·c' with c' ∈ [1, 2); c' is folded into the core
   * coefficients (so Newton steps need c' = 1) and 2^a into the exact output shifts (norms.ts
   * passes √d here).
   */
  readonly factor?: number;
}

function resolve(
  ctx: Pick<PartyContext, 'scaleBits' | 'compareBits'>,
  opts: RsqrtOptions,
): { lo: number; hi: number; degree: number; newton: number; a: number; c: number } {
  const lo = opts.minLog2 ?? -ctx.scaleBits;
  const hi = opts.maxLog2 ?? DEFAULT_RSQRT_MAX_LOG2;
  checkPow2Domain(ctx, lo, hi, 'rsqrt');
  const newton = opts.newton ?? 0;
  if (!Number.isInteger(newton) || newton < 0 || newton > 4)
    throw new RangeError(`rsqrt: newton must be an integer in [0, 4], got ${newton}`);
  const { a, c } = splitFactor(opts.factor ?? 1);
  if (newton > 0 && c !== 1) throw new RangeError('rsqrt: Newton steps need a power-of-two factor');
  return { lo, hi, degree: opts.degree ?? DEFAULT_RSQRT_DEGREE, newton, a, c };
}

const normExps = (lo: number, hi: number): number[] => Array.from({ length: hi - lo }, (_, i) => -(lo + i));
const outExps = (lo: number, hi: number, a: number): number[] => Array.from({ length: hi - lo }, (_, i) => a - Math.floor((lo + i) / 2));

const rsqrtFit = (degree: number): Float64Array => cachedChebyshevFit('rsqrt', (v) => 1 / Math.sqrt(v), 1, 2, degree);

/** Documented round cost of {@link rsqrt}. */
export function rsqrtRounds(ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'>, opts: RsqrtOptions = {}): number {
  const { lo, hi, degree, newton, a, c } = resolve(ctx, opts);
  const tr = truncateRounds(ctx);
  return (
    pow2BucketRounds(ctx, lo, hi) +
    scaleByBucketsRounds(ctx, normExps(lo, hi)) +
    chebyshevRounds(ctx, degree, { scale: ctx.scaleBits + CHEB_GUARD_BITS, valueBound: coefficientBound(rsqrtFit(degree)) * c }) +
    newton * 2 * (1 + tr) +
    scaleByBucketsRounds(ctx, outExps(lo, hi, a - coreGuard(newton)))
  );
}

/** c/√x elementwise (c = opts.factor, default 1) for x ∈ [2^minLog2, 2^maxLog2]. */
export async function rsqrt(ctx: PartyContext, x: SecretTensor, opts: RsqrtOptions = {}): Promise<SecretTensor> {
  const { lo, hi, degree, newton, a, c } = resolve(ctx, opts);
  const size = T.sizeOf(x.shape);
  const f = ctx.scaleBits;
  const flat = L.reshapeS(x, [size]);
  const ind = await pow2Buckets(ctx, flat, lo, hi);
  const xt = await scaleByBuckets(
    ctx,
    ind,
    ind.map(() => flat),
    normExps(lo, hi),
  );
  const s = f + CHEB_GUARD_BITS;
  const basis = await chebyshevBasis(ctx, await affineToScale(ctx, xt, 2, -3, s), s, degree);
  const fit = rsqrtFit(degree);
  const even = Array.from(fit, (k) => k * c);
  const odd = Array.from(fit, (k) => k * c * Math.SQRT1_2);
  const guard = coreGuard(newton);
  let [rEven, rOdd] = await chebyshevSums(ctx, basis, [{ coeffs: even }, { coeffs: odd }], f + guard);
  for (let i = 0; i < newton; i++) {
    // r' = 1.5·r − 0.5·(z·r)·r², z = x̃ (even) and 2x̃ (odd); both problems in the same calls.
    const r = L.concatS([rEven, rOdd]);
    const z = L.concatS([xt, L.mulScalarS(xt, 2n)]);
    const [zr, rr] = L.splitS(await truncate(ctx, await mul(ctx, L.concatS([z, r]), L.concatS([r, r])), f), [[2 * size], [2 * size]]);
    const zr3 = await mul(ctx, zr, rr); // z·r³ at scale 2f
    const next = await truncate(ctx, L.subSS(L.mulScalarS(r, 3n << BigInt(f)), zr3), f + 1);
    [rEven, rOdd] = L.splitS(next, [[size], [size]]);
  }
  const y = await scaleByBuckets(
    ctx,
    ind,
    ind.map((_, i) => ((lo + i) % 2 === 0 ? rEven : rOdd)),
    outExps(lo, hi, a - guard),
  );
  return L.reshapeS(y, x.shape);
}
