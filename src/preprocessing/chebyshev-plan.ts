/**
 * The products of the Chebyshev basis T_2..T_d computed by doubling (approx/chebyshev.ts), as
 * the dealer and the parties both need them for the basis masks (`chebMasks` material):
 * level by level, with m the highest index known so far, T_k = 2·T_m·T_{k−m} − T_{2m−k} for
 * k ∈ (m, min(2m, d)], i.e. the products T_m·T_j for j = 1..min(m, d − m).
 *
 * With masks a_j for every factor T_j (each opened once as T_j − a_j) and the dealer's products
 * a_m·a_j, every product of the basis costs no opening beyond its factors' (d = 8: 4 openings
 * per element instead of 14).
 */

export interface ChebyshevPlan {
  readonly degree: number;
  /** Levels in order: the left factor m and the right factors j. */
  readonly levels: readonly { readonly m: number; readonly js: readonly number[] }[];
  /** Every factor index (left or right), ascending: the masks a_j dealt, in this order. */
  readonly factors: readonly number[];
  /** Every product (m, j), level by level: the dealt products a_m·a_j, in this order. */
  readonly pairs: readonly (readonly [number, number])[];
}

/** Highest degree of a plan (the approximation layer's MAX_CHEB_DEGREE). */
export const MAX_PLAN_DEGREE = 64;

/** The doubling plan of T_2..T_degree (degree ≥ 2). */
export function chebyshevPlan(degree: number): ChebyshevPlan {
  if (!Number.isInteger(degree) || degree < 2 || degree > MAX_PLAN_DEGREE)
    throw new RangeError(`chebyshevPlan: degree must be an integer in [2, ${MAX_PLAN_DEGREE}], got ${degree}`);
  const levels: { m: number; js: number[] }[] = [];
  for (let m = 1; m < degree; m = Math.min(2 * m, degree)) {
    levels.push({ m, js: Array.from({ length: Math.min(m, degree - m) }, (_, i) => i + 1) });
  }
  const factors = [...new Set(levels.flatMap(({ m, js }) => [m, ...js]))].sort((a, b) => a - b);
  const pairs = levels.flatMap(({ m, js }) => js.map((j) => [m, j] as const));
  return { degree, levels, factors, pairs };
}

/** The tensors of a `chebMasks` request in dealt order (masks, then products) split by the plan. */
export function splitChebyshevMasks<T>(parts: readonly T[], degree: number): { masks: T[]; products: T[] } {
  const factors = chebyshevPlan(degree).factors.length;
  return { masks: parts.slice(0, factors), products: parts.slice(factors) };
}
