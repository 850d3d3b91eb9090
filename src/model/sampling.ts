/**
 * Sampling inside MPC: only the chosen token id is revealed.
 *
 * Greedy: argmax over the logits (protocols/select.ts; lowest index on ties), reveal the index.
 *
 * Top-k with temperature T (cf. CipherGPT, eprint 2023/1147, for secure top-k sampling):
 *   1. z = logits / T                                   (public scale)
 *   2. k passes: (m_j, i_j) = argmax(z); every entry ≥ m_j is pushed down by 2^30 ring units
 *      (one comparison per vocabulary entry), so pass j+1 finds the next value. m_1 ≥ … ≥ m_k.
 *      Entries tied with m_j leave together; i_j is the lowest of them.
 *   3. p_j = exp(m_j − m_1) / Σ_i exp(m_i − m_1)           (approx/exp, approx/reciprocal)
 *   4. a joint uniform u ∈ [0, 1): every party inputs a random fraction u_i; u = frac(Σ u_i) via
 *      n−1 comparisons. Uniform if any one party is honest: no party controls the draw.
 *   5. b_j = [u < p_1 + … + p_j];  token = Σ_j (b_j − b_{j−1})·i_j;  reveal token.
 * Reproducible for a fixed seed (the parties' u_i derive from it), up to the ±1-LSB noise of
 * probabilistic truncation in the rare case u lands within 2^−f of a boundary.
 */
import { createHash } from 'node:crypto';
import { exp } from '../approx/exp.ts';
import { reciprocal } from '../approx/reciprocal.ts';
import { mul } from '../protocols/beaver.ts';
import { nonNegative, ltz } from '../protocols/compare.ts';
import type { PartyContext } from '../protocols/context.ts';
import { mulConstFx, mulFx } from '../protocols/fixed-arith.ts';
import { input } from '../protocols/input.ts';
import { reveal } from '../protocols/reveal.ts';
import { argmax } from '../protocols/select.ts';
import { Prg, randomSeed } from '../crypto/prg.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

export type Sampler =
  | { readonly kind: 'greedy' }
  | { readonly kind: 'topk'; readonly k: number; readonly temperature: number; readonly seed: string | undefined };

/** Reveals argmax(logits [1, vocab]). */
export async function sampleGreedy(ctx: PartyContext, logits: SecretTensor): Promise<number> {
  const { index } = await argmax(ctx, logits);
  const [id] = await reveal(ctx, [index]);
  return Number(BigInt.asIntN(64, id.data[0]));
}

/**
 * A party's randomness for draw number `step`: from the seed when given (reproducible runs), else
 * fresh from the OS CSPRNG.
 */
export function partyRandomness(seed: string | undefined, party: number, step: number): Prg {
  if (seed === undefined) return new Prg(randomSeed());
  const digest = createHash('sha256').update(`mpc-prompt/topk/${seed}/${party}/${step}`).digest();
  return new Prg(new Uint8Array(digest.subarray(0, 16)));
}

/** Top-k sampling from softmax(logits / T); reveals only the sampled id. */
export async function sampleTopK(ctx: PartyContext, logits: SecretTensor, k: number, temperature: number, rng: Prg): Promise<number> {
  const vocab = T.sizeOf(logits.shape);
  const kk = Math.min(k, vocab);
  let z = L.reshapeS(temperature === 1 ? logits : await mulConstFx(ctx, logits, 1 / temperature), [1, vocab]);
  const values: SecretTensor[] = [];
  const indices: SecretTensor[] = [];
  for (let j = 0; j < kk; j++) {
    const { max: m, index } = await argmax(ctx, z);
    values.push(m);
    indices.push(index);
    if (j + 1 < kk) {
      const tiled = L.gatherS(m, new Int32Array(vocab), [1, vocab]);
      const taken = await nonNegative(ctx, L.subSS(z, tiled));
      z = L.subSS(z, L.mulScalarS(taken, 1n << 30n));
    }
  }
  // p_j = exp(m_j − m_1) / Σ exp(m_i − m_1)
  const top = L.concatS(values);
  const first = L.gatherS(values[0], new Int32Array(kk), [kk]);
  const e = await exp(ctx, L.subSS(top, first));
  const sum = L.reshapeS(sumAll(e), [1]);
  const inv = await reciprocal(ctx, sum, { maxLog2: Math.ceil(Math.log2(kk)) + 1 });
  const p = await mulFx(ctx, e, L.gatherS(inv, new Int32Array(kk), [kk]));
  const cumulative = prefixSums(p);

  const u = await jointUniform(ctx, rng);
  const below = await ltz(ctx, L.subSS(L.gatherS(u, new Int32Array(kk - 1), [kk - 1]), L.sliceS(cumulative, 0, kk - 1)));
  // b_j = [u < c_j] for j < k, b_k = 1;  onehot_j = b_j − b_{j−1}
  const b = L.concatS([below, L.publicAsShared(ctx, T.fill(ctx.ring, [1], 1n))]);
  const prev = L.concatS([L.publicAsShared(ctx, T.zeros(ctx.ring, [1])), L.sliceS(b, 0, kk - 1)]);
  const onehot = L.subSS(b, prev);
  const picked = await mul(ctx, onehot, L.concatS(indices));
  const [id] = await reveal(ctx, [L.reshapeS(sumAll(picked), [1])]);
  return Number(BigInt.asIntN(64, id.data[0]));
}

/** u = frac(Σ_i u_i) for random fractions u_i input by every party. */
async function jointUniform(ctx: PartyContext, rng: Prg): Promise<SecretTensor> {
  const mine = rng.words(1)[0] & ((1n << BigInt(ctx.scaleBits)) - 1n);
  const parts = await input(
    ctx,
    Array.from({ length: ctx.n }, (_, owner) => ({
      owner,
      shape: [1],
      value: owner === ctx.id ? T.fromBigInts(ctx.ring, [1], [mine]) : undefined,
    })),
  );
  const s = parts.reduce((acc, x) => L.addSS(acc, x));
  if (ctx.n === 1) return s;
  // s ∈ [0, n): subtract 1 for every threshold t = 1..n−1 it reaches.
  const one = 1n << BigInt(ctx.scaleBits);
  const shifted = L.concatS(Array.from({ length: ctx.n - 1 }, (_, t) => L.addScalarS(ctx, s, -BigInt(t + 1) * one)));
  const reached = await nonNegative(ctx, shifted);
  return L.subSS(s, L.mulScalarS(L.reshapeS(sumAll(reached), [1]), one));
}

function sumAll(x: SecretTensor): SecretTensor {
  const size = T.sizeOf(x.shape);
  let acc = L.sliceS(x, 0, 1);
  for (let i = 1; i < size; i++) acc = L.addSS(acc, L.sliceS(x, i, i + 1));
  return acc;
}

function prefixSums(x: SecretTensor): SecretTensor {
  const size = T.sizeOf(x.shape);
  const parts = [L.sliceS(x, 0, 1)];
  for (let i = 1; i < size; i++) parts.push(L.addSS(parts[i - 1], L.sliceS(x, i, i + 1)));
  return L.concatS(parts);
}
