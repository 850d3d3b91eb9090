/**
 * Shared evaluator for activations φ that equal x/2 + (an even function) and tend to ReLU:
 * GeLU (gelu.ts) and SiLU (silu.ts). With h(x) = φ(x) − x/2 even,
 *     φ(x) ≈ x            for x > B,
 *     φ(x) ≈ 0            for x < −B,
 *     φ(x) ≈ x/2 + G(u)   for |x| ≤ B,   u = 2x²/B² − 1 ∈ [−1, 1],
 * where G(u) = h(B·√((u + 1)/2)) is smooth (h is even and analytic), so a Chebyshev
 * interpolant in u of degree d_u equals a degree-2d_u even polynomial in x at half the products.
 *
 * Steps:
 *   1. p = [x > B], n = [x < −B]: ONE batched ltz on (B − x, x + B) (semi-honest: see step 4);
 *   2. u at scale s = f + 3: when B² is a power of two (B = 2^k or 2^k·√2) u = x²·(2/B²) − 1
 *      comes straight out of one square and one truncation; otherwise x·√2/B is formed first
 *      (one more truncation);
 *   3. g = x/2 + Σ c_k T_k(u) (chebyshev.ts; x/2 joins the final sum before its truncation);
 *   4. φ = g + p·(x − g) − n·g: ONE mul of two bit × value products (exact). In semi-honest mode
 *      step 1 is compare.ts reluAndCompare: ONE masked opening of x serves p = [x − B − 1 ≥ 0]
 *      with its folded product p·(x − B − 1) and 1 − n = [x + B ≥ 0] (the same dealt digits
 *      of the mask), so φ = p·x + (1 − p − n)·g with p·x = p·(x − B − 1) + (B + 1)·p local:
 *      the same round with ONE product (the same ring values).
 * Outside [−B, B], u and g are garbage (x² wraps around the ring) but are multiplied by an
 * exact 0, so any |x| < 2^(ℓ−f−1) is valid.
 * Cost (rounds): ltz (compare.ts ltzRounds: 4 semi-honest, 7 malicious at ℓ = 40) + [tr if B² is not a power of two] + (1 + tr)
 *   + chebyshevRounds (⌈log2 d⌉·(1 + tr) + tr, one tr fewer with the last level wide; ⌈log2 d⌉ + 1 with the fused levels of semi-honest 'dealer' mode) + 1; tr = 0 ('local') or 1 ('dealer').
 * Error: max(fit error of G, sup_{|x|≥B} |φ(x) − ReLU(x)|) + rounding; measured per activation
 * in gelu.ts / silu.ts.
 * Magnitudes (inside [−B, B]): x²·2^(2f) ≤ B²·2^32, basis products ≤ 2^38, the final sum ≤ 2^42
 * (its coefficient precision is chosen from the bound |φ| ≤ B).
 * Citation: ReLU outside, polynomial inside, as in PUMA (Dong et al., 2023) and BOLT (Pang et
 * al., IEEE S&P 2024); evaluating an even polynomial in x² is standard (Horner-in-x²).
 */
import { mul, square } from '../protocols/beaver.ts';
import { ltz, reluAndCompare, reluFolds } from '../protocols/compare.ts';
import type { PartyContext } from '../protocols/context.ts';
import { addConstFx, fx } from '../protocols/fixed-arith.ts';
import { truncate, truncateRounds } from '../protocols/truncate.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import {
  affineRounds,
  affineToScale,
  cachedChebyshevFit,
  CHEB_GUARD_BITS,
  chebyshevBasis,
  chebyshevRounds,
  chebyshevSums,
} from './chebyshev.ts';
import { ltzRounds } from './common.ts';

export interface ReluTailFit {
  /** Cache key of the fit. */
  readonly key: string;
  /** The activation φ in float64. */
  readonly fn: (x: number) => number;
  /** B: φ is replaced by ReLU outside [−B, B]. */
  readonly bound: number;
  /** Degree d_u of the Chebyshev interpolant in u (= half the degree in x). */
  readonly degree: number;
}

/** log2(2/B²) as a non-positive integer −q when 2/B² is a power of two, else undefined. */
function squareShift(bound: number): number | undefined {
  const q = Math.log2((bound * bound) / 2);
  const r = Math.round(q);
  return Math.abs(q - r) < 1e-12 && r >= 0 ? r : undefined;
}

/** Documented round cost of {@link reluTailApprox}. */
export function reluTailRounds(
  ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'>,
  bound: number,
  degree: number,
): number {
  const tr = truncateRounds(ctx);
  const s = ctx.scaleBits + CHEB_GUARD_BITS;
  const pre = squareShift(bound) === undefined ? affineRounds(ctx, Math.SQRT2 / bound, s) : 0;
  return ltzRounds(ctx) + pre + 1 + tr + chebyshevRounds(ctx, degree, { scale: s, valueBound: bound }) + 1;
}

/** φ(x) elementwise, for the fit described by `fit`. */
export async function reluTailApprox(ctx: PartyContext, x: SecretTensor, fit: ReluTailFit): Promise<SecretTensor> {
  const f = ctx.scaleBits;
  const s = f + CHEB_GUARD_BITS;
  const B = fit.bound;
  const size = T.sizeOf(x.shape);
  const flat = L.reshapeS(x, [size]);
  // p = [x > B] = [x − B − 1 ≥ 0] (ring integers), n = [x < −B] = 1 − [x + B ≥ 0]. Semi-honest:
  // both from ONE masked opening of x, with p·(x − B − 1) folded in (compare.ts reluAndCompare).
  const bFx = fx(ctx, B);
  const folded = reluFolds(ctx) ? await reluAndCompare(ctx, flat, -(bFx + 1n), bFx) : undefined;
  const bits = folded ? undefined : await ltz(ctx, L.concatS([L.negS(addConstFx(ctx, flat, -B)), addConstFx(ctx, flat, B)]));
  const q = squareShift(B);
  let u2: SecretTensor; // 2x²/B² at scale s
  if (q !== undefined && 2 * f + q - s >= 1) {
    u2 = await truncate(ctx, await square(ctx, flat), 2 * f + q - s);
  } else {
    const v = await affineToScale(ctx, flat, Math.SQRT2 / B, 0, s);
    u2 = await truncate(ctx, await square(ctx, v), s);
  }
  const u = L.addScalarS(ctx, u2, -(1n << BigInt(s)));
  const h = (v: number): number => fit.fn(v) - v / 2;
  const coeffs = cachedChebyshevFit(`relu-tail/${fit.key}/${B}`, (w) => h(B * Math.sqrt(Math.max(0, (w + 1) / 2))), -1, 1, fit.degree);
  const basis = await chebyshevBasis(ctx, u, s, fit.degree);
  const [g] = await chebyshevSums(ctx, basis, [{ coeffs, linear: [{ x: flat, coeff: 0.5 }], valueBound: B }]);
  if (folded) {
    // φ = p·x + (1 − p − n)·g with p·x = p·(x − B − 1) + (B + 1)·p local: one product instead of two.
    const p = folded.geq;
    const px = L.addSS(folded.relu, L.mulScalarS(p, bFx + 1n));
    const inside = L.subSS(folded.geqSecond, p);
    return L.reshapeS(L.addSS(px, await mul(ctx, inside, g)), x.shape);
  }
  const [p, n] = L.splitS(bits as SecretTensor, [[size], [size]]);
  const prods = await mul(ctx, L.concatS([p, n]), L.concatS([L.subSS(flat, g), g]));
  const [px, ng] = L.splitS(prods, [[size], [size]]);
  return L.reshapeS(L.subSS(L.addSS(g, px), ng), x.shape);
}
