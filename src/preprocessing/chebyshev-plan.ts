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

/**
 * A dealer value of the fused basis (`chebTrunc` material): the mask a_1 of T_1 ('a'), or the
 * parts rHigh ('high') and rMsb ('msb') of the truncation mask of factor T_k, k ≥ 2.
 */
export interface FusedPart {
  readonly k: number;
  readonly part: 'a' | 'high' | 'msb';
}

/**
 * Layout of the fused basis material (semi-honest, dealer truncation; approx/chebyshev.ts):
 * every T_k computed below the last level is the output of a dealer truncation by `shift`,
 *   T_k = P_k + N_k,  P_k public (from the opened c_k),  N_k = Q_k·rMsb_k − rHigh_k,
 *   Q_k = (1 − 2·c_k,63)·2^(63−shift)   (public),
 * and T_1 = δ_1 + a_1 (opened once). A product T_m·T_j = P_m·P_j + P_m·N_j + P_j·N_m + N_m·N_j
 * then needs no opening: N_m·N_j is a public combination of the dealt products of parts listed
 * in `terms`. With shift ≤ 31, Q_m·Q_j = ±2^(2(63−shift)) ≡ 0 mod 2^64, so rMsb_m·rMsb_j is never
 * needed; for m = j the symmetric term rHigh_m·rMsb_m appears once (it counts twice).
 */
export interface FusedChebyshevLayout {
  readonly degree: number;
  readonly shift: number;
  /** T_k computed below the last level (ascending): each gets a truncation mask r, rMsb, rHigh, in this order. */
  readonly truncated: readonly number[];
  /** Per plan pair (m, j), in plan order: the dealt products of parts, in order. */
  readonly terms: readonly (readonly (readonly [FusedPart, FusedPart])[])[];
}

/** Largest truncation shift of a fused basis: Q_m·Q_j ≡ 0 mod 2^64 needs 2·(63 − shift) ≥ 64. */
export const MAX_FUSED_SHIFT = 31;

/** The {@link FusedChebyshevLayout} of a degree-`degree` basis truncated by `shift` bits. */
export function fusedChebyshevLayout(degree: number, shift: number): FusedChebyshevLayout {
  const plan = chebyshevPlan(degree);
  if (!Number.isInteger(shift) || shift < 1 || shift > MAX_FUSED_SHIFT)
    throw new RangeError(`fusedChebyshevLayout: shift must be an integer in [1, ${MAX_FUSED_SHIFT}], got ${shift}`);
  const truncated = plan.levels.slice(0, -1).flatMap(({ m, js }) => js.map((j) => m + j));
  const parts = (k: number): FusedPart[] =>
    k === 1
      ? [{ k, part: 'a' }]
      : [
          { k, part: 'high' },
          { k, part: 'msb' },
        ];
  const terms = plan.pairs.map(([m, j]) => {
    const out: [FusedPart, FusedPart][] = [];
    parts(m).forEach((p, ip) =>
      parts(j).forEach((q, iq) => {
        if (m === j && iq < ip) return; // the symmetric duplicate
        if (p.part === 'msb' && q.part === 'msb') return; // Q_m·Q_j ≡ 0
        out.push([p, q]);
      }),
    );
    return out;
  });
  return { degree, shift, truncated, terms };
}

/** Tensors of a `chebTrunc` request: a_1, three per truncated factor, one per term. */
export function fusedChebyshevTensors(layout: FusedChebyshevLayout): number {
  return 1 + 3 * layout.truncated.length + layout.terms.reduce((s, t) => s + t.length, 0);
}

/** The tensors of a `chebTrunc` request in dealt order split by the layout. */
export function splitFusedChebyshevMasks<T>(
  parts: readonly T[],
  layout: FusedChebyshevLayout,
): { a1: T; trunc: { r: T; rMsb: T; rHigh: T }[]; terms: T[][] } {
  const a1 = parts[0];
  const trunc = layout.truncated.map((_, i) => ({ r: parts[1 + 3 * i], rMsb: parts[2 + 3 * i], rHigh: parts[3 + 3 * i] }));
  let at = 1 + 3 * layout.truncated.length;
  const terms = layout.terms.map((list) => {
    const out = parts.slice(at, at + list.length);
    at += list.length;
    return out;
  });
  return { a1, trunc, terms };
}
