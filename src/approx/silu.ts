/**
 * SiLU (swish) x·σ(x) on secret fixed-point values (LLaMA's SwiGLU gate).
 *
 * Method (relu-tails.ts): silu(x) − x/2 = (x/2)·tanh(x/2) is even and silu → ReLU: ReLU outside
 * [−B, B]; inside, x/2 + a Chebyshev interpolant of degree d_u in u = 2x²/B² − 1. tanh(x/2)
 * has poles at x = ±iπ, so the coefficients decay only geometrically and SiLU needs a wider
 * interval and a higher degree than GeLU.
 * Parameters (defaults B = 8√2 ≈ 11.31, d_u = 16; float64 errors):
 *     B      sup_{|x|>B} |silu − ReLU|   fit d_u = 12 / 16 / 20 / 24
 *     10     4.5e−4                      1.3e−3 / 1.1e−4 / 9.2e−6 / 7.7e−7
 *     8√2    1.4e−4                      3.2e−3 / 3.6e−4 / 4.0e−5 / 4.4e−6
 *     12     7.4e−5                      4.8e−3 / 6.0e−4 / 7.6e−5 / 9.6e−6
 *   d_u = 16 is the largest degree with 4 levels. B = 8√2 makes 2/B² = 2^−6, so u comes out of
 *   the square's truncation for free (B = 10 has a similar max error, 4.4e−4 measured, but
 *   costs one more truncation: one more round with dealer truncation). d_u = 20 or 24 (one more
 *   level) brings the error down to 1.4e−4 (the tail).
 * Measured max abs error (2 and 3 parties, semi-honest and malicious, both truncations; ten runs
 * of silu.test.ts: 3,400 points on [−24, 24] incl. ±B ± 1 LSB, plus random points in
 * [−1000, 1000] and ±5e5): 3.9e−4 (the fit error near 0); asserted ≤ SILU_MAX_ABS_ERROR = 5e−4,
 * valid on the whole real line.
 * Valid domain: |x| < 2^(ℓ−f−1) (comparison bound, 2^23 at ℓ = 40, f = 16).
 * Cost (rounds): ltz (compare.ts ltzRounds: 4 semi-honest, 7 malicious at ℓ = 40) + (1 + tr) + chebyshevRounds
 * + 1 = 13 with 'local' truncation (ℓ = 40) and 18 with 'dealer' in malicious mode, 10 and 15 in
 * semi-honest mode; see {@link siluRounds}. Bytes per element (2 parties): 2.8 KB with the arithmetic
 * comparator; about a tenth of that in semi-honest mode (binary comparator, as for GeLU).
 * Citation: Elfwing, Uchibe & Doya, "Sigmoid-weighted linear units for neural network function
 * approximation in reinforcement learning", Neural Networks 2018; Shazeer, "GLU variants improve
 * Transformer", 2020; the ReLU-tails split as in PUMA (Dong et al., 2023).
 */
import type { PartyContext } from '../protocols/context.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { reluTailApprox, reluTailRounds } from './relu-tails.ts';
import { siluRef } from './special.ts';

export const DEFAULT_SILU_BOUND = 8 * Math.SQRT2;
export const DEFAULT_SILU_DEGREE = 16;
/** Max abs error measured for the defaults at f = 16 (asserted by the tests). */
export const SILU_MAX_ABS_ERROR = 5e-4;

export interface SiluOptions {
  /** B (default 8√2). */
  readonly bound?: number;
  /** Chebyshev degree in u (default 16). */
  readonly degree?: number;
}

/** Documented round cost of {@link silu}. */
export function siluRounds(ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'>, opts: SiluOptions = {}): number {
  return reluTailRounds(ctx, opts.bound ?? DEFAULT_SILU_BOUND, opts.degree ?? DEFAULT_SILU_DEGREE);
}

/** SiLU elementwise. */
export async function silu(ctx: PartyContext, x: SecretTensor, opts: SiluOptions = {}): Promise<SecretTensor> {
  return reluTailApprox(ctx, x, {
    key: 'silu',
    fn: siluRef,
    bound: opts.bound ?? DEFAULT_SILU_BOUND,
    degree: opts.degree ?? DEFAULT_SILU_DEGREE,
  });
}
