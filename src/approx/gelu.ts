/**
 * GeLU on secret fixed-point values: exact (erf) form x·Φ(x) = x/2·(1 + erf(x/√2)), or tanh
 * form x/2·(1 + tanh(√(2/π)(x + 0.044715x³))) (GPT-2's "gelu_new").
 *
 * Method (relu-tails.ts): gelu(x) − x/2 = x·(Φ(x) − ½) is even and gelu → ReLU quickly, so:
 * ReLU outside [−B, B]; inside, x/2 + a Chebyshev interpolant of degree d_u in u = 2x²/B² − 1
 * (an even polynomial of degree 2d_u in x). One batched pair of comparisons, one square,
 * ⌈log2 d_u⌉ product levels, one selection product. B = 4 makes 2/B² = 2^−3, so u comes out of
 * the square's truncation for free.
 * Parameters (defaults B = 4, d_u = 8), chosen by error vs rounds (float64 errors):
 *     form   sup_{|x|>4} |gelu − ReLU|   fit, B = 4: d_u = 6 / 8 / 12     B = 4√2, d_u = 16
 *     erf    1.3e−4                      1.1e−3 / 4.9e−5 / 3.6e−8          4.4e−8 (tail 4.4e−8)
 *     tanh   7.0e−5                      1.2e−3 / 5.9e−5 / 1.7e−7          4.1e−7 (tail 1.7e−9)
 *   d_u = 8 is the largest degree with 3 levels; beyond it only the tail term (fixed by B)
 *   remains, so B = 4, d_u = 8 is the cheapest setting under the 1e−3 target. One more level
 *   (B = 4√2, d_u = 16) gives 2.4e−5 end to end (see gelu.test.ts).
 * Measured max abs error (2 and 3 parties, semi-honest and malicious, both truncations; ten runs
 * of gelu.test.ts: 3,400 points on [−12, 12] incl. ±B ± 1 LSB, plus random points in
 * [−1000, 1000] and ±5e5): erf form 1.27e−4 (the tail at |x| = B), tanh form 7.5e−5;
 * asserted ≤ GELU_MAX_ABS_ERROR = 1.5e−4 (erf) / 1e−4 (tanh), valid on the whole real line.
 * Valid domain: |x| < 2^(ℓ−f−1) (comparison bound, 2^23 at ℓ = 40, f = 16).
 * Cost (rounds): ltz (compare.ts ltzRounds: 4 semi-honest, 7 malicious at ℓ = 40) + (1 + tr) + chebyshevRounds
 * + 1 = 12 with 'local' truncation (ℓ = 40) and 16 with 'dealer' in malicious mode, 9 and 11 (fused
 * Chebyshev levels) in semi-honest mode; see {@link geluRounds}. Bytes per element and party (2 parties): 2.6 KB with the
 * arithmetic comparator (malicious mode: 4× that, Z_2^128 and MACs), mostly the two comparisons;
 * in semi-honest mode with the binary comparator, 'dealer' truncation, the fused basis and the
 * select folded into the comparisons and both comparisons on one masked opening (relu-tails.ts,
 * compare.ts reluAndCompare): 86.8 B (`npm run bench:nonlinear`, 3,072 elements; 94.8 B with an
 * opening per comparison, 110.8 B with two select products) — the comparisons ≈ 15, the square
 * and its truncation 16, the basis 40, the sum's truncation 8, the select 16.
 * Citation: Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", 2016; the
 * ReLU-outside / polynomial-inside split as in PUMA (Dong et al., 2023) and BOLT (Pang et al.,
 * IEEE S&P 2024).
 */
import type { PartyContext } from '../protocols/context.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { reluTailApprox, reluTailRounds } from './relu-tails.ts';
import { geluErfRef, geluTanhRef } from './special.ts';

export type GeluForm = 'erf' | 'tanh';
export const DEFAULT_GELU_BOUND = 4;
export const DEFAULT_GELU_DEGREE = 8;
/** Max abs error (whole real line) measured for the defaults at f = 16 (asserted by the tests). */
export const GELU_MAX_ABS_ERROR: Readonly<Record<GeluForm, number>> = { erf: 1.5e-4, tanh: 1e-4 };

export interface GeluOptions {
  /** 'erf' (exact GeLU, default) or 'tanh'. */
  readonly form?: GeluForm;
  /** B (default 4). */
  readonly bound?: number;
  /** Chebyshev degree in u (default 8). */
  readonly degree?: number;
}

/** Documented round cost of {@link gelu}. */
export function geluRounds(ctx: Pick<PartyContext, 'mode' | 'truncation' | 'compareBits' | 'scaleBits'>, opts: GeluOptions = {}): number {
  return reluTailRounds(ctx, opts.bound ?? DEFAULT_GELU_BOUND, opts.degree ?? DEFAULT_GELU_DEGREE);
}

/** GeLU elementwise. */
export async function gelu(ctx: PartyContext, x: SecretTensor, opts: GeluOptions = {}): Promise<SecretTensor> {
  const form = opts.form ?? 'erf';
  if (form !== 'erf' && form !== 'tanh') throw new RangeError(`gelu: form must be 'erf' or 'tanh', got ${String(form)}`);
  return reluTailApprox(ctx, x, {
    key: `gelu-${form}`,
    fn: form === 'erf' ? geluErfRef : geluTanhRef,
    bound: opts.bound ?? DEFAULT_GELU_BOUND,
    degree: opts.degree ?? DEFAULT_GELU_DEGREE,
  });
}
