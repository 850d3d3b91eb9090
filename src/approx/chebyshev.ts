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
 * Cost: levels = ⌈log2 d⌉; rounds = levels·(1 + tr) + tr, tr = 0 ('local') or 1 ('dealer')
 * truncation, minus 1 when the last level stays wide ({@link chebyshevRounds}). Openings per
 * element: malicious mode, 2(d − 1) (one Beaver mul call per level, every product sacrificed);
 * semi-honest mode, one per factor of the doubling plan (d = 8: 4, d = 16: 8) against the
 * dealer's basis masks (`basisProducts`). Truncated elements per input: one per product below
 * the last level (d = 8: 3, d = 16: 7; all d − 1 with 'local' truncation, which costs no bytes),
 * plus one per sum.
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { chebyshevPlan, type ChebyshevPlan } from '../preprocessing/chebyshev-plan.ts';
import { mul } from '../protocols/beaver.ts';
import { open } from '../protocols/open.ts';
import type { PartyContext } from '../protocols/context.ts';
import { truncate, truncateRounds } from '../protocols/truncate.ts';

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
  ctx: Pick<PartyContext, 'truncation'>,
  degree: number,
  fit?: { readonly scale: number; readonly valueBound: number },
): number {
  const tr = truncateRounds(ctx);
  const levels = chebyshevLevels(degree);
  const wide = fit !== undefined && keepsWideLevel(ctx, degree) && wideSumBits(fit.scale, fit.valueBound) !== undefined;
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
  const s = basis.scale;
  const f = ctx.scaleBits;
  if (!Number.isInteger(outScale) || outScale < 1 || outScale > s)
    throw new RangeError(`chebyshevSums: outScale ${outScale} not in [1, ${s}]`);
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
  const out = await truncate(ctx, L.concatS(accs), S - outScale);
  return L.splitS(
    out,
    sums.map(() => b.shape),
  );
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
  return Number.isInteger(alpha * 2 ** (scale - ctx.scaleBits)) ? 0 : truncateRounds(ctx);
}

/**
 * α·x + β for x at scale f, returned at `scale` fractional bits. Local and exact when
 * α·2^(scale−f) is an integer (e.g. α a power of two and scale large enough); otherwise one
 * truncation (x·round(α·2^scale) at scale f + scale, then shifted by f).
 */
export async function affineToScale(ctx: PartyContext, x: SecretTensor, alpha: number, beta: number, scale: number): Promise<SecretTensor> {
  const f = ctx.scaleBits;
  const m = alpha * 2 ** (scale - f);
  const y = Number.isInteger(m)
    ? L.mulScalarS(x, BigInt(m))
    : await truncate(ctx, L.mulScalarS(x, BigInt(Math.round(alpha * 2 ** scale))), f);
  return L.addScalarS(ctx, y, BigInt(Math.round(beta * 2 ** scale)));
}
