/**
 * Chebyshev approximation of a real function on [a, b], evaluated on secret fixed-point values.
 * Building block of exp, reciprocal, rsqrt, GeLU and SiLU (this folder).
 *
 * Fit (public, float64, cached by key): interpolation at the d+1 Chebyshev nodes of the first
 * kind, x_j = cos θ_j, θ_j = π(j + ½)/(d+1):
 *     c_k = (2/(d+1)) Σ_j f(x_j)·cos(k·θ_j)   (c_0 halved),   p(t) = Σ_{k≤d} c_k·T_k(t).
 * This is near-minimax: ‖f − p‖∞ ≤ (2 + (2/π)·ln(d+1))·E*_d, E*_d the minimax error, and
 * ‖f − p‖∞ ≤ 2·Σ_{k>d} |a_k| for the Chebyshev series coefficients a_k of f (Trefethen,
 * "Approximation Theory and Approximation Practice", SIAM 2013, Thms. 4.2 and 15.2). For every
 * function of this folder at the chosen degrees, either the fit error is far below the output
 * LSB 2^−16 or it is dominated by a non-polynomial term (the ReLU tails of GeLU/SiLU), so a
 * Remez step would not change any measured error.
 *
 * Secure evaluation, never in the monomial basis (|T_k| ≤ 1 on [−1, 1], so nothing grows):
 *   input t ∈ [−1, 1] at an internal scale s (chosen by the caller; this folder uses s = f + 3,
 *   three guard bits below the output LSB); T_0 = 1 (public), T_1 = t; level by level, with m
 *   the highest index known so far,
 *       T_k = 2·T_m·T_{k−m} − T_{2m−k}   for every k ∈ (m, min(2m, d)]   (T_{2m} = 2T_m² − 1),
 *   all products of one level in ONE Beaver `mul` call and ONE truncation by s − 1 (the factor 2
 *   is absorbed into the shift: no extra rounding). Then Σ_k c_k·T_k with the coefficients
 *   encoded at scale g = s + 2 (lower if the values are large, see below; local), optional
 *   secret linear terms, and ONE truncation by s + g − outScale (outScale = f by default).
 *   Several coefficient sets over the same basis share that final truncation. `anchor` makes
 *   the value at t = ±1 exact (T_k(±1) = (±1)^k is computed exactly): c_0's encoding absorbs
 *   the rounding of the other coefficients there.
 * Domain: |t| ≤ 1 (slightly outside is harmless: T_k(1 + ε) ≈ 1 + k²ε).
 * Magnitudes (local truncation fails with probability ≈ |value|/2^64 per element): level
 * products ≤ 2^(2s) (2^38 at f = 16), final sums ≤ 2^42 (g is lowered for large values).
 * Error: T_k carries ≤ k²·2^−(s+1) (derivative of T_k; 2e−6..1.3e−4 measured for k = 2..16 at
 * s = 19), weighted by |c_k|, plus the final rounding; measured end to end per function.
 * Measured here: a degree-16 sum with coefficients ±1/(k+1) on 1,001 points of [−1, 1]:
 * 1.7e−5 (1.1 LSB) in both truncation modes.
 * Last level kept wide ('dealer' truncation): the products of the last doubling level are
 *   never factors of another product, so they are not truncated at all: those T_k stay exact at
 *   scale 2s (2·T_m·T_j − T_(m−j)·2^s) and enter the final sum with coefficients at g_w bits, the
 *   whole sum at scale 2s + g_w, g_w = min(s + 2, 61 − 2s − ⌈log2 bound⌉) (the dealer truncation
 *   is exact for |x| < 2^62; s = 19 and bound 4 give g_w = 21 = s + 2, the precision of the other
 *   coefficients). This saves the last level's truncation round and its d − (highest factor)
 *   truncated elements (d = 8: 4 of 7; d = 16: 8 of 15) per input, and removes their rounding.
 *   When g_w < s (large values or scale) the wide terms are truncated first, as before.
 *   'local' truncation keeps every level truncated (its failure probability grows with |x|).
 * Fused truncation (semi-honest mode, 'dealer' truncation, d ≥ 3; `fusedBasis`): the dealer
 *   knows each level's truncation mask, and a dealer-truncated T_k is a public value plus a
 *   public combination of the mask's parts, so the dealer also deals the products of those
 *   parts that the next levels need (preprocessing/chebyshev-plan.ts `fusedChebyshevLayout`):
 *   a level's truncation opening doubles as the opening of its outputs as factors, and no factor
 *   is opened twice. T_1 is opened once (δ_1 = t − a_1); every later level's products are local.
 * Cost: levels = ⌈log2 d⌉, tr = 0 ('local') or 1 ('dealer') truncation ({@link chebyshevRounds}):
 *   malicious mode: levels·(1 + tr) + tr rounds, minus 1 when the last level stays wide; one
 *     Beaver mul call per level (2(d − 1) openings per element, every product sacrificed);
 *   semi-honest, 'local': levels rounds, one opening per factor of the doubling plan (d = 8: 4,
 *     d = 16: 8) against the dealer's basis masks (`basisProducts`), truncations free;
 *   semi-honest, 'dealer' (fused): 1 + (levels − 1) + 1 rounds with a wide last level (d = 16:
 *     5 instead of 8; d = 8: 4 instead of 6); openings per element: δ_1, one per T_k below the
 *     last level and one per sum (d = 16: 9 instead of 16; d = 8: 5 instead of 8). It costs the
 *     dealer more: 1 + 3·(T_k below the last level) + Σ_pairs (1..3) products of mask parts per
 *     element (d = 16: 59 ring elements instead of 44; d = 8: 25 instead of 20).
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import {
  chebyshevPlan,
  fusedChebyshevLayout,
  MAX_FUSED_SHIFT,
  type ChebyshevPlan,
  type FusedPart,
} from '../preprocessing/chebyshev-plan.ts';
import type { ChebyshevTruncMasks } from '../preprocessing/material.ts';
import { mul } from '../protocols/beaver.ts';
import { open } from '../protocols/open.ts';
import type { PartyContext } from '../protocols/context.ts';
import { openTruncation, truncate, truncateRounds, truncationParts } from '../protocols/truncate.ts';

/** Guard bits the callers of this folder keep in the Chebyshev basis (internal scale f + 3). */
export const CHEB_GUARD_BITS = 3;
/** Coefficients are encoded at the basis scale s plus these bits (2^−(s+3) rounding each)... */
export const CHEB_COEFF_EXTRA_BITS = 2;
/** ...as long as the truncated sums stay below 2^42 (local-truncation failure ≤ 2^−22 per element). */
export const CHEB_MAX_SUM_BITS = 42;
export const MAX_CHEB_DEGREE = 64;

const fits = new Map<string, Float64Array>();

function checkDegree(degree: number): void {
  if (!Number.isInteger(degree) || degree < 1 || degree > MAX_CHEB_DEGREE) {
    throw new RangeError(`Chebyshev degree must be an integer in [1, ${MAX_CHEB_DEGREE}], got ${degree}`);
  }
}

/** Chebyshev interpolation coefficients c_0..c_d of fn on [a, b] (variable t = (2x − a − b)/(b − a)). */
export function chebyshevFit(fn: (x: number) => number, a: number, b: number, degree: number): Float64Array {
  checkDegree(degree);
  if (!(b > a)) throw new RangeError(`chebyshevFit: need a < b, got [${a}, ${b}]`);
  const n = degree + 1;
  const values = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const t = Math.cos((Math.PI * (j + 0.5)) / n);
    values[j] = fn(((b - a) * t + a + b) / 2);
  }
  const c = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += values[j] * Math.cos((Math.PI * k * (j + 0.5)) / n);
    c[k] = ((k === 0 ? 1 : 2) * s) / n;
  }
  return c;
}

/** {@link chebyshevFit}, computed once per (key, a, b, degree) and cached. Do not mutate the result. */
export function cachedChebyshevFit(key: string, fn: (x: number) => number, a: number, b: number, degree: number): Float64Array {
  const id = `${key}|${a}|${b}|${degree}`;
  let c = fits.get(id);
  if (!c) {
    c = chebyshevFit(fn, a, b, degree);
    fits.set(id, c);
  }
  return c;
}

/** Σ c_k T_k(t) in float64 (Clenshaw), for analysis and tests. */
export function chebyshevValue(c: ArrayLike<number>, t: number): number {
  let b1 = 0;
  let b2 = 0;
  for (let k = c.length - 1; k >= 1; k--) {
    const b0 = 2 * t * b1 - b2 + c[k];
    b2 = b1;
    b1 = b0;
  }
  return t * b1 - b2 + c[0];
}

/** Multiplicative levels needed for T_1..T_d. */
export function chebyshevLevels(degree: number): number {
  checkDegree(degree);
  return Math.ceil(Math.log2(degree));
}

/**
 * Rounds of {@link chebyshevBasis} + {@link chebyshevSums}: the levels, then one combined final
 * truncation; with 'dealer' truncation the last level's own truncation is saved when the sums fit
 * wide (`fit`: the basis scale s and the bound on |sum|, see {@link wideSumBits}).
 */
export function chebyshevRounds(
  ctx: Pick<PartyContext, 'truncation' | 'mode'>,
  degree: number,
  fit?: { readonly scale: number; readonly valueBound: number },
): number {
  const tr = truncateRounds(ctx);
  const levels = chebyshevLevels(degree);
  const wide = fit !== undefined && keepsWideLevel(ctx, degree) && wideSumBits(fit.scale, fit.valueBound) !== undefined;
  // Fused: δ_1, one truncation per level below the last, the final sum's (+ narrowing if not wide).
  if (fusesTruncation(ctx, degree, fit?.scale)) return levels + 1 + (wide ? 0 : 1);
  return levels * (1 + tr) + tr - (wide ? tr : 0);
}

/** The dealer truncation is exact for |x| < 2^62; wide sums stay below 2^61. */
const WIDE_SUM_MAX_BITS = 61;

/** Does {@link chebyshevBasis} leave the last level untruncated (wide)? With 'dealer' truncation and d ≥ 2. */
function keepsWideLevel(ctx: Pick<PartyContext, 'truncation'>, degree: number): boolean {
  return ctx.truncation === 'dealer' && degree >= 2;
}

/**
 * Coefficient bits g_w of the wide terms when sums bounded by `valueBound` over a basis at scale
 * s are formed at scale 2s + g_w: min(s + 2, 61 − 2s − ⌈log2 bound⌉), or undefined when that is
 * below s (then the wide terms are truncated to scale s first).
 */
export function wideSumBits(scale: number, valueBound: number): number | undefined {
  const g = Math.min(scale + CHEB_COEFF_EXTRA_BITS, WIDE_SUM_MAX_BITS - 2 * scale - Math.ceil(Math.log2(Math.max(1, valueBound))));
  return g >= scale ? g : undefined;
}

/** T_1..T_d of a secret t (flattened), all at the scale of t. */
export interface ChebyshevBasis {
  /**
   * basis[k] = T_k at `scale` for k = 1..d, except the wide ones (basis[0] unused: T_0 = 1 is
   * public).
   */
  readonly basis: readonly SecretTensor[];
  /** Fractional bits of every T_k in `basis`. */
  readonly scale: number;
  /** The last level's T_k, untruncated at scale 2·`scale` ('dealer' truncation; else empty). */
  readonly wide: ReadonlyMap<number, SecretTensor>;
  /** Shape of t. */
  readonly shape: readonly number[];
}

/**
 * Computes T_1..T_degree of t (given at `scale` fractional bits) by the doubling identities; with
 * 'dealer' truncation the last level stays wide (see the module header).
 */
export async function chebyshevBasis(ctx: PartyContext, t: SecretTensor, scale: number, degree: number): Promise<ChebyshevBasis> {
  checkDegree(degree);
  if (!Number.isInteger(scale) || scale < 2 || scale > 40) throw new RangeError(`chebyshevBasis: bad scale ${scale}`);
  const size = T.sizeOf(t.shape);
  const basis: SecretTensor[] = new Array<SecretTensor>(degree + 1);
  const wide = new Map<number, SecretTensor>();
  basis[1] = L.reshapeS(t, [size]);
  const one = 1n << BigInt(scale);
  if (degree === 1) return { basis, scale, wide, shape: t.shape };
  const plan = chebyshevPlan(degree);
  if (fusesTruncation(ctx, degree, scale)) return fusedBasis(ctx, basis[1], scale, plan, size, t.shape);
  // Semi-honest: every factor opened once against the dealer's basis masks (products below).
  const shared = ctx.mode === 'semi-honest' ? await basisProducts(ctx, plan, size) : undefined;
  const last = plan.levels[plan.levels.length - 1];
  for (const level of plan.levels) {
    const { m, js } = level;
    const products = shared
      ? await shared(basis, level)
      : await mul(ctx, L.concatS(js.map(() => basis[m])), L.concatS(js.map((j) => basis[j])));
    if (level === last && keepsWideLevel(ctx, degree)) {
      // T_{m+j} = 2·T_m·T_j − T_{m−j}·2^s at scale 2s, exact (T_0·2^s = 2^2s).
      const parts = L.splitS(
        products,
        js.map(() => [size]),
      );
      js.forEach((j, i) => {
        const twice = L.mulScalarS(parts[i], 2n);
        wide.set(m + j, j === m ? L.addScalarS(ctx, twice, -(one * one)) : L.subSS(twice, L.mulScalarS(basis[m - j], one)));
      });
      break;
    }
    const parts = L.splitS(
      await truncate(ctx, products, scale - 1),
      js.map(() => [size]),
    );
    // T_{m+j} = 2·T_m·T_j − T_{m−j} (the factor 2 absorbed into the shift; T_0 = 1).
    js.forEach((j, i) => {
      basis[m + j] = j === m ? L.addScalarS(ctx, parts[i], -one) : L.subSS(parts[i], basis[m - j]);
    });
  }
  return { basis, scale, wide, shape: t.shape };
}

/**
 * Does {@link chebyshevBasis} fuse each level's truncation with the next level's openings?
 * Semi-honest mode (Z_2^64) with 'dealer' truncation, for degrees with a truncated level (d ≥ 3)
 * and basis scales s ≤ 32 (shift s − 1 ≤ MAX_FUSED_SHIFT; at larger s the level products
 * T_m·T_j at scale 2s would not fit the dealer truncation's 2^62 bound anyway).
 */
function fusesTruncation(ctx: Pick<PartyContext, 'mode' | 'truncation'>, degree: number, scale: number | undefined): boolean {
  // An unknown scale (chebyshevRounds without `fit`) is taken as valid for Z_2^64 products (≤ 32).
  const fits = scale === undefined || scale - 1 <= MAX_FUSED_SHIFT;
  return ctx.mode === 'semi-honest' && ctx.truncation === 'dealer' && degree >= 3 && fits;
}

/** The dealer's truncation mask of one truncated T_k. */
type TruncMask = ChebyshevTruncMasks['trunc'][number];

/** A factor T_k = P + N: P public, N the secret part; Q = (1 − 2·c_63)·2^(63−shift) for a truncated factor. */
interface FactorForm {
  readonly p: RingTensor;
  readonly n: SecretTensor;
  readonly q?: RingTensor;
}

/**
 * The basis with fused truncations (semi-honest, 'dealer' truncation; the dealt layout is
 * preprocessing/chebyshev-plan.ts `fusedChebyshevLayout`):
 *   1. open δ_1 = t − a_1 (T_1 = δ_1 + a_1);
 *   2. per level below the last, with every product T_m·T_j local (see `product`), in ONE round:
 *        open c_k = T_m·T_j − T_{m−j}·2^(s−1) + 2^62 + r_k   for k = m + j (T_0 = 1)
 *      — the dealer truncation of 2·T_m·T_j − T_{m−j} by s − 1 (the subtraction of a multiple of
 *      2^(s−1) commutes exactly with the floor), whose output is
 *        T_k = P_k + N_k,  P_k = ⌊(c_k mod 2^63)/2^(s−1)⌋ + c_k,63·2^(64−s) − 2^(63−s),
 *                          N_k = Q_k·rMsb_k − rHigh_k,  Q_k = (1 − 2·c_k,63)·2^(64−s);
 *   3. the last level's products, local, stay wide as in the unfused basis.
 * A product of two factors is then P_m·P_j + P_m·N_j + P_j·N_m + N_m·N_j, where N_m·N_j is a
 * public combination of dealt products of mask parts: no factor is ever opened again, so each
 * level's truncation opening is also the opening of its outputs as factors.
 * Reveals: δ_1 and the c_k, each masked by its own uniform dealer value (a_1, r_k).
 * Cost: 1 + (levels − 1) rounds (the final sum's truncation follows in chebyshevSums); one
 * opened element per input and per truncated T_k (d = 16: 8; unfused: 15).
 */
async function fusedBasis(
  ctx: PartyContext,
  t: SecretTensor,
  scale: number,
  plan: ChebyshevPlan,
  size: number,
  shape: readonly number[],
): Promise<ChebyshevBasis> {
  const shift = scale - 1;
  const layout = fusedChebyshevLayout(plan.degree, shift);
  const material = await ctx.material.chebyshevTruncMasks(size, plan.degree, shift);
  const truncMask = new Map(layout.truncated.map((k, i) => [k, material.trunc[i]]));
  const basis: SecretTensor[] = new Array<SecretTensor>(plan.degree + 1);
  const wide = new Map<number, SecretTensor>();
  const one = 1n << BigInt(scale);
  basis[1] = t;
  const forms = new Map<number, FactorForm>();
  const [d1] = await open(ctx, [L.subSS(t, material.a1)]);
  forms.set(1, { p: d1, n: material.a1 });
  // A dealt term's public coefficient: ±1 or ±2 times the Q of its 'msb' parts (cached per factor and sign).
  const scaledQ = new Map<string, RingTensor>();
  const qTimes = (k: number, sign: bigint): RingTensor => {
    const key = `${k}:${sign}`;
    let q = scaledQ.get(key);
    if (!q) scaledQ.set(key, (q = T.mulScalar((forms.get(k) as FactorForm).q as RingTensor, sign)));
    return q;
  };
  const sign = (part: FusedPart): bigint => (part.part === 'high' ? -1n : 1n);
  // T_m·T_j = P_m·P_j + P_m·N_j + P_j·N_m + N_m·N_j, N_m·N_j from the dealt products of parts.
  const product = (pair: number, m: number, j: number): SecretTensor => {
    const fm = forms.get(m) as FactorForm;
    const fj = forms.get(j) as FactorForm;
    let acc = L.addSP(ctx, L.addSS(L.mulSP(fj.n, fm.p), L.mulSP(fm.n, fj.p)), T.mul(fm.p, fj.p));
    layout.terms[pair].forEach(([a, b], i) => {
      const term = material.terms[pair][i];
      const c = sign(a) * sign(b) * (m === j && a.part !== b.part ? 2n : 1n);
      // At most one part is an rMsb (Q_m·Q_j ≡ 0 mod 2^64 for shift ≤ 31, including Q_m²·rMsb_m).
      const msb = a.part === 'msb' ? a : b.part === 'msb' ? b : undefined;
      if (msb) acc = L.addSS(acc, L.mulSP(term, qTimes(msb.k, c)));
      else acc = c === 1n ? L.addSS(acc, term) : c === -1n ? L.subSS(acc, term) : L.addSS(acc, L.mulScalarS(term, c));
    });
    return acc;
  };
  let pair = 0;
  for (const [index, { m, js }] of plan.levels.entries()) {
    const products = js.map((j) => product(pair++, m, j));
    if (index === plan.levels.length - 1) {
      // T_{m+j} = 2·T_m·T_j − T_{m−j}·2^s at scale 2s, exact (T_0·2^s = 2^2s).
      js.forEach((j, i) => {
        const twice = L.mulScalarS(products[i], 2n);
        wide.set(m + j, j === m ? L.addScalarS(ctx, twice, -(one * one)) : L.subSS(twice, L.mulScalarS(basis[m - j], one)));
      });
      break;
    }
    const half = 1n << BigInt(shift);
    const inputs = js.map((j, i) =>
      j === m ? L.addScalarS(ctx, products[i], -(one * half)) : L.subSS(products[i], L.mulScalarS(basis[m - j], half)),
    );
    const masks = js.map((j) => truncMask.get(m + j) as TruncMask);
    const c = await openTruncation(ctx, L.concatS(inputs), L.concatS(masks.map((r) => r.r)));
    js.forEach((j, i) => {
      // The dealer truncation's local step (protocols/truncate.ts) split into P_k and N_k.
      const form = truncationParts(T.sliceFlat(c, i * size, (i + 1) * size), masks[i], shift);
      forms.set(m + j, form);
      basis[m + j] = L.addSP(ctx, form.n, form.p);
    });
  }
  return { basis, scale, wide, shape };
}

/**
 * The products of each doubling level from the dealer's basis masks (semi-honest mode;
 * preprocessing/chebyshev-plan.ts): at level m, the factors not opened before are opened in one
 * round as δ_j = T_j − a_j, and with every δ public
 *   T_m·T_j = δ_m·δ_j + δ_m·[a_j] + δ_j·[a_m] + [a_m·a_j]   (party 0 adds δ_m·δ_j).
 * Each a_j masks one opening only (reused across products like a fixed operand's mask, SecureML
 * §4.1); the products' correctness is not checked (no sacrifice), hence semi-honest only.
 * Returns a function giving the level-m products T_m·T_1, ..., T_m·T_min(m, d−m), concatenated.
 */
async function basisProducts(
  ctx: PartyContext,
  plan: ChebyshevPlan,
  size: number,
): Promise<(basis: readonly SecretTensor[], level: ChebyshevPlan['levels'][number]) => Promise<SecretTensor>> {
  const material = await ctx.material.chebyshevMasks(size, plan.degree);
  const mask = new Map(plan.factors.map((j, i) => [j, material.masks[i]]));
  const product = new Map(plan.pairs.map(([m, j], i) => [`${m}:${j}`, material.products[i]]));
  const delta = new Map<number, RingTensor>();
  return async (basis, { m, js }) => {
    const fresh = [...new Set([m, ...js])].filter((j) => !delta.has(j));
    const opened = await open(
      ctx,
      fresh.map((j) => L.subSS(basis[j], mask.get(j) as SecretTensor)),
    );
    fresh.forEach((j, i) => delta.set(j, opened[i]));
    const dm = delta.get(m) as RingTensor;
    const am = mask.get(m) as SecretTensor;
    return L.concatS(
      js.map((j) => {
        const dj = delta.get(j) as RingTensor;
        const cross = L.addSS(L.mulSP(mask.get(j) as SecretTensor, dm), L.mulSP(am, dj));
        return L.addSP(ctx, L.addSS(cross, product.get(`${m}:${j}`) as SecretTensor), T.mul(dm, dj));
      }),
    );
  };
}

/** One polynomial over a basis: Σ c_k T_k, plus optional secret terms coeff·x (x at scale f). */
export interface ChebyshevSum {
  readonly coeffs: ArrayLike<number>;
  readonly linear?: readonly { readonly x: SecretTensor; readonly coeff: number }[];
  /**
   * Make the value at t = ±1 exact: c_0's encoding absorbs the rounding of the other encoded
   * coefficients there (T_k(±1) = (±1)^k is computed exactly). exp uses it at t = −1, where
   * every clipped input lands, so that the rounding bias there does not add up over a row.
   */
  readonly anchor?: { readonly t: 1 | -1; readonly value: number };
  /** Bound on |sum| over the domain (default Σ|c_k|); sets the coefficient precision. */
  readonly valueBound?: number;
}

/** Σ|c_k|: a bound on |Σ c_k T_k| over [−1, 1]. */
export const coefficientBound = (coeffs: ArrayLike<number>): number => Array.from(coeffs).reduce((a, c) => a + Math.abs(c), 0);

/** Bound on |sum| (valueBound, default Σ|c_k|). */
const sumBound = (sum: ChebyshevSum): number => sum.valueBound ?? coefficientBound(sum.coeffs);

/** Coefficient scale g for sums over a basis at scale s: s + 2, or less for large values. */
export function coefficientScale(s: number, sums: readonly ChebyshevSum[]): number {
  const bound = Math.max(1, ...sums.map(sumBound));
  return Math.min(s + CHEB_COEFF_EXTRA_BITS, Math.floor(CHEB_MAX_SUM_BITS - s - Math.log2(bound)));
}

/**
 * Evaluates each sum over the basis and truncates all of them in one call (one round in
 * 'dealer' mode). Over a narrow basis the sums are formed at scale s + g, g =
 * {@link coefficientScale} (s + 2 unless the values are large); over a basis with wide terms at
 * 2s + g_w ({@link wideSumBits}), or, if they do not fit, after truncating the wide terms to s
 * (one more round). Results are at `outScale` fractional bits (default f; at most s). Terms of
 * degree above the basis degree are not allowed.
 */
export async function chebyshevSums(
  ctx: PartyContext,
  basis: ChebyshevBasis,
  sums: readonly ChebyshevSum[],
  outScale = ctx.scaleBits,
): Promise<SecretTensor[]> {
  if (!Number.isInteger(outScale) || outScale < 1 || outScale > basis.scale)
    throw new RangeError(`chebyshevSums: outScale ${outScale} not in [1, ${basis.scale}]`);
  const wide = await chebyshevSumsUntruncated(ctx, basis, sums);
  const out = await truncate(ctx, L.concatS(wide.sums), wide.scale - outScale);
  return L.splitS(
    out,
    sums.map(() => basis.shape),
  );
}

/**
 * {@link chebyshevSums} before its final truncation: each sum flat [size] at `scale` fractional
 * bits (s + g over a narrow basis, 2s + g_w over a wide one; below 2^61 in magnitude), for
 * callers that truncate it themselves (exp's fused squarings). No round unless the wide terms
 * must be narrowed first.
 */
export async function chebyshevSumsUntruncated(
  ctx: PartyContext,
  basis: ChebyshevBasis,
  sums: readonly ChebyshevSum[],
): Promise<{ sums: SecretTensor[]; scale: number }> {
  const s = basis.scale;
  const f = ctx.scaleBits;
  const degree = basis.basis.length - 1;
  for (const sum of sums)
    if (sum.coeffs.length > degree + 1) throw new RangeError(`chebyshevSums: ${sum.coeffs.length - 1} > basis degree ${degree}`);
  const gWide = basis.wide.size > 0 ? wideSumBits(s, Math.max(1, ...sums.map(sumBound))) : undefined;
  const b = basis.wide.size > 0 && gWide === undefined ? await narrowed(ctx, basis) : basis;
  // Scale of the sums: S = s + g over a narrow basis, 2s + g_w over a wide one.
  const S = gWide === undefined ? s + coefficientScale(s, sums) : 2 * s + gWide;
  const termScale = (k: number): number => (b.wide.has(k) ? 2 * s : s);
  const term = (k: number): SecretTensor => (b.wide.get(k) ?? b.basis[k]) as SecretTensor;
  const size = T.sizeOf(b.shape);
  const accs = sums.map((sum) => {
    // Σ_k round(c_k·2^(S − scale of T_k))·T_k at scale S; c_0 as a public constant at that scale.
    const ck = Array.from(sum.coeffs, (c, k) => (k === 0 ? 0n : BigInt(Math.round(c * 2 ** (S - termScale(k))))));
    let c0 = BigInt(Math.round(sum.coeffs[0] * 2 ** S));
    if (sum.anchor) {
      // Σ_{k≥1} C_k·(±1)^k·2^(scale of T_k) + C_0 = round(value·2^S)
      let rest = 0n;
      for (let k = 1; k < ck.length; k++) rest += (sum.anchor.t === -1 && k % 2 === 1 ? -ck[k] : ck[k]) << BigInt(termScale(k));
      c0 = BigInt(Math.round(sum.anchor.value * 2 ** S)) - rest;
    }
    let acc = L.publicAsShared(ctx, T.fill(ctx.ring, [size], c0));
    for (let k = 1; k < ck.length; k++) {
      if (ck[k] !== 0n) acc = L.addSS(acc, L.mulScalarS(term(k), ck[k]));
    }
    for (const lin of sum.linear ?? []) {
      const w = lin.coeff * 2 ** (S - f);
      if (!Number.isInteger(w)) throw new RangeError(`chebyshevSums: linear coefficient ${lin.coeff} is not a multiple of 2^${f - S}`);
      acc = L.addSS(acc, L.mulScalarS(L.reshapeS(lin.x, [size]), BigInt(w)));
    }
    return acc;
  });
  return { sums: accs, scale: S };
}

/** The basis with its wide terms truncated to its scale (one truncation). */
async function narrowed(ctx: PartyContext, b: ChebyshevBasis): Promise<ChebyshevBasis> {
  const ks = [...b.wide.keys()];
  const size = T.sizeOf(b.shape);
  const parts = L.splitS(
    await truncate(ctx, L.concatS(ks.map((k) => b.wide.get(k) as SecretTensor)), b.scale),
    ks.map(() => [size]),
  );
  const basis = [...b.basis];
  ks.forEach((k, i) => (basis[k] = parts[i]));
  return { basis, scale: b.scale, wide: new Map(), shape: b.shape };
}

/** Σ c_k T_k(t) for t at `scale` fractional bits; result at `outScale` (default f). */
export async function chebyshevEval(
  ctx: PartyContext,
  t: SecretTensor,
  scale: number,
  coeffs: ArrayLike<number>,
  outScale = ctx.scaleBits,
  anchor?: ChebyshevSum['anchor'],
): Promise<SecretTensor> {
  const b = await chebyshevBasis(ctx, t, scale, coeffs.length - 1);
  return (await chebyshevSums(ctx, b, [{ coeffs, anchor }], outScale))[0];
}

/** Rounds of {@link affineToScale}: 0 when α·2^(s−f) is an integer, else one truncation. */
export function affineRounds(ctx: Pick<PartyContext, 'truncation' | 'scaleBits'>, alpha: number, scale: number): number {
  return localAffine(ctx.scaleBits, alpha, 0, scale) ? 0 : truncateRounds(ctx);
}

/**
 * {@link affineToScale}'s map as ring integers when it is local: y = factor·x + offset with
 * factor = α·2^(scale−f) (an integer) and offset = round(β·2^scale); undefined otherwise.
 */
export function localAffine(f: number, alpha: number, beta: number, scale: number): { factor: bigint; offset: bigint } | undefined {
  const m = alpha * 2 ** (scale - f);
  return Number.isInteger(m) ? { factor: BigInt(m), offset: BigInt(Math.round(beta * 2 ** scale)) } : undefined;
}

/**
 * α·x + β for x at scale f, returned at `scale` fractional bits. Local and exact when
 * α·2^(scale−f) is an integer (e.g. α a power of two and scale large enough); otherwise one
 * truncation (x·round(α·2^scale) at scale f + scale, then shifted by f).
 */
export async function affineToScale(ctx: PartyContext, x: SecretTensor, alpha: number, beta: number, scale: number): Promise<SecretTensor> {
  const f = ctx.scaleBits;
  const local = localAffine(f, alpha, beta, scale);
  if (local) return L.addScalarS(ctx, L.mulScalarS(x, local.factor), local.offset);
  const y = await truncate(ctx, L.mulScalarS(x, BigInt(Math.round(alpha * 2 ** scale))), f);
  return L.addScalarS(ctx, y, BigInt(Math.round(beta * 2 ** scale)));
}
