/**
 * Power-of-two bucketing of positive secret values: the range reduction shared by reciprocal
 * and rsqrt.
 *
 * pow2Buckets: bits c_j = [x ≥ 2^j] for every threshold j = lo+1 .. hi−1 in ONE batched
 * comparison (nonNegative of x − 2^j), then the bucket indicators
 *     ind_j = c_j − c_{j+1}   (c_lo := 1, c_hi := 0),   j = lo .. hi−1,
 * exactly one of which is 1: ind_j = 1 ⇔ 2^j ≤ x < 2^(j+1), with the outer buckets open-ended
 * (x < 2^(lo+1) → lo, x ≥ 2^(hi−1) → hi − 1). Exact: comparisons are exact on ring integers.
 *
 * scaleByBuckets: Σ_j ind_j ⊙ v_j · 2^(e_j) for secret per-bucket values v_j and public integer
 * exponents e_j, in ONE Beaver mul call (bit × value products are exact) and at most ONE
 * truncation: terms with e_j ≥ 0 are shifted left exactly; the others are summed as
 * Σ P_j·2^(e_j − e_min) and truncated by −e_min. Used to normalize x̃ = x·2^−j ∈ [1, 2) and to
 * scale the result back, so that the core approximation only ever sees [1, 2] and keeps
 * full relative precision over the whole range.
 *
 * Domain: −f ≤ lo < hi, 2^hi < 2^(ℓ−f) (comparison bound). Magnitudes: the truncated sum of
 * scaleByBuckets is the result times 2^(−e_min); for the normalization (result x̃ ≤ 2,
 * e_min = 1 − hi) that is ≤ 2^(f + hi) (2^39 at hi = 23).
 * Measured (pow2.test.ts, both truncations): indicators exact at 2^j − 1 LSB, 2^j, 2^j + 1 LSB
 * for every threshold; x̃ within 1 LSB of x·2^−j.
 * Cost: pow2Buckets = ltz rounds (compare.ts ltzRounds; 0 if hi − lo = 1), (hi − lo − 1)·size
 * comparisons; scaleByBuckets = 1 + [tr if some e_j < 0] rounds, mulBytes((hi − lo)·size).
 * Citation: bucketing by comparisons with public powers of two as in Rathee et al., "SiRnn",
 * IEEE S&P 2021 (normalization before the core approximation).
 */
import { mul } from '../protocols/beaver.ts';
import { nonNegative } from '../protocols/compare.ts';
import type { PartyContext } from '../protocols/context.ts';
import { truncate, truncateRounds } from '../protocols/truncate.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { ltzRounds } from './common.ts';

/** Checks a power-of-two domain [2^lo, 2^hi] against the context. */
export function checkPow2Domain(ctx: Pick<PartyContext, 'scaleBits' | 'compareBits'>, lo: number, hi: number, what: string): void {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < -ctx.scaleBits || hi <= lo || hi >= ctx.compareBits - ctx.scaleBits) {
    throw new RangeError(
      `${what}: need integers −f ≤ minLog2 < maxLog2 < ℓ − f (f = ${ctx.scaleBits}, ℓ = ${ctx.compareBits}), got [${lo}, ${hi}]`,
    );
  }
}

/** Rounds of {@link pow2Buckets}. */
export function pow2BucketRounds(ctx: Pick<PartyContext, 'mode' | 'compareBits'>, lo: number, hi: number): number {
  return hi - lo > 1 ? ltzRounds(ctx) : 0;
}

/** Bucket indicators ind_j (j = lo..hi−1, each of shape [size]) of x (flattened). */
export async function pow2Buckets(ctx: PartyContext, x: SecretTensor, lo: number, hi: number): Promise<SecretTensor[]> {
  const size = T.sizeOf(x.shape);
  const flat = L.reshapeS(x, [size]);
  const ones = T.fill(ctx.ring, [size], 1n);
  const k = hi - lo - 1;
  if (k === 0) return [L.publicAsShared(ctx, ones)];
  const shifted: SecretTensor[] = [];
  for (let j = lo + 1; j < hi; j++) shifted.push(L.addScalarS(ctx, flat, -(1n << BigInt(j + ctx.scaleBits))));
  const c = L.splitS(
    await nonNegative(ctx, L.concatS(shifted)),
    shifted.map(() => [size]),
  );
  // c[i] = [x ≥ 2^(lo+1+i)]
  const ind: SecretTensor[] = [];
  for (let j = lo; j < hi; j++) {
    const cj = j === lo ? undefined : c[j - lo - 1];
    const cNext = j + 1 === hi ? undefined : c[j - lo];
    if (cj === undefined) ind.push(L.subPS(ctx, ones, cNext as SecretTensor));
    else ind.push(cNext === undefined ? cj : L.subSS(cj, cNext));
  }
  return ind;
}

/** Rounds of {@link scaleByBuckets}. */
export function scaleByBucketsRounds(ctx: Pick<PartyContext, 'truncation'>, exps: readonly number[]): number {
  return 1 + (exps.some((e) => e < 0) ? truncateRounds(ctx) : 0);
}

/** Σ_j ind_j ⊙ values_j · 2^(exps_j) (values at scale f, each [size]; result [size] at scale f). */
export async function scaleByBuckets(
  ctx: PartyContext,
  ind: readonly SecretTensor[],
  values: readonly SecretTensor[],
  exps: readonly number[],
): Promise<SecretTensor> {
  const size = T.sizeOf(ind[0].shape);
  const prods = L.splitS(
    await mul(ctx, L.concatS(ind), L.concatS(values.map((v) => L.reshapeS(v, [size])))),
    ind.map(() => [size]),
  );
  const eMin = Math.min(...exps);
  let exact: SecretTensor | undefined;
  let shifted: SecretTensor | undefined;
  prods.forEach((p, j) => {
    const e = exps[j];
    if (e >= 0) {
      const term = L.mulScalarS(p, 1n << BigInt(e));
      exact = exact ? L.addSS(exact, term) : term;
    } else {
      const term = L.mulScalarS(p, 1n << BigInt(e - eMin));
      shifted = shifted ? L.addSS(shifted, term) : term;
    }
  });
  const low = shifted ? await truncate(ctx, shifted, -eMin) : undefined;
  if (exact && low) return L.addSS(exact, low);
  return (exact ?? low) as SecretTensor;
}
