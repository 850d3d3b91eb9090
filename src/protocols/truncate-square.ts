/**
 * Dealer truncation whose output is squared in the same round (semi-honest mode, Z_2^64): the
 * squarings of exp's range reduction (approx/exp.ts).
 *
 * The dealer truncation by k (truncate.ts) opens c = x + 2^62 + r and returns
 *   y = P + N,  P = ⌊(c mod 2^63)/2^k⌋ + c_63·K − 2^(62−k)   (public),
 *               N = Q·[rMsb] − [rHigh],  Q = (1 − 2·c_63)·K,  K = 2^(63−k)
 * (truncate.ts truncationParts). With the dealer's rHigh² and rHigh·rMsb (`truncSquare` material,
 * material.ts TruncSquareMasks) the square is local, since rMsb is a bit (rMsb² = rMsb):
 *   y² = P² + 2P·N + N²,   N² = Q²·[rMsb] − 2Q·[rHigh·rMsb] + [rHigh²].
 * Every term is computed mod 2^64, so y² is the square of y's ring element: exact whenever
 * |y²| < 2^63 (the caller's bound); y itself is ⌊x/2^k⌋ + {0, 1} as in truncate.ts, for |x| < 2^62.
 * Steps: 1. open c (one round); 2. y and y² locally.
 * Reveals: c, uniform over the ring (the truncation's own opening) — nothing more.
 * Cost: 1 round; one opened ring element per element and peer; dealt: 5 ring elements per element.
 * A truncation followed by a Beaver square costs 2 rounds and 2 openings for the same 5.
 * Semi-honest only: the dealt products are not checked (no sacrifice), like the fused Chebyshev
 * basis (approx/chebyshev.ts), which uses the same identity for its factors.
 * Citation: the truncation of Escudero et al. (CRYPTO 2020, §4); the square is Beaver's product
 * (CRYPTO 1991) with the truncation's opening c in place of the factor's masked opening.
 */
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { PartyContext } from './context.ts';
import { openTruncation, truncationParts } from './truncate.ts';

/** ⌊x/2^k⌋ + {0, 1} and its square (at twice its scale). */
export interface TruncatedSquare {
  readonly value: SecretTensor;
  readonly square: SecretTensor;
}

/** Largest shift: the offset 2^(62 − k) must be an integer. */
export const MAX_SQUARE_SHIFT = 62;

/** Does {@link truncateAndSquare} run in this context (semi-honest mode with dealer truncation)? */
export function truncatesAndSquares(ctx: Pick<PartyContext, 'mode' | 'truncation'>): boolean {
  return ctx.mode === 'semi-honest' && ctx.truncation === 'dealer';
}

/** y = ⌊x/2^shift⌋ + {0, 1} (|x| < 2^62) and y² (exact mod 2^64) in one round. */
export async function truncateAndSquare(ctx: PartyContext, x: SecretTensor, shift: number): Promise<TruncatedSquare> {
  if (!truncatesAndSquares(ctx) || ctx.ring.limbs !== 1)
    throw new RangeError('truncateAndSquare: semi-honest Z_2^64 with dealer truncation only');
  if (!Number.isInteger(shift) || shift < 1 || shift > MAX_SQUARE_SHIFT)
    throw new RangeError(`truncateAndSquare: shift must be an integer in [1, ${MAX_SQUARE_SHIFT}], got ${shift}`);
  const size = T.sizeOf(x.shape);
  const m = await ctx.material.truncSquareMasks(size, shift);
  const { p, q, n } = truncationParts(await openTruncation(ctx, L.reshapeS(x, [size]), m.r), m, shift);
  // y² = P² + 2P·N + Q²·rMsb − 2Q·(rHigh·rMsb) + rHigh²
  const cross = L.addSS(L.mulSP(n, T.mulScalar(p, 2n)), L.mulSP(m.rMsb, T.mul(q, q)));
  const square = L.addSP(ctx, L.addSS(L.subSS(cross, L.mulSP(m.highMsb, T.mulScalar(q, 2n))), m.highSquared), T.mul(p, p));
  return { value: L.reshapeS(L.addSP(ctx, n, p), x.shape), square: L.reshapeS(square, x.shape) };
}
