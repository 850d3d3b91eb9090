/**
 * Autoregressive generation with a reference model: greedy (argmax, lowest index on ties)
 * or top-k sampling with temperature and a seeded xorshift64* generator (llama2.c's).
 */
import { ValidationError } from '../base/errors.ts';
import { aint, anumber } from '../base/validate.ts';
import type { LoadedModel } from '../formats/model-spec.ts';
import { createReferenceModel } from './index.ts';
import { argmax, softmax } from './ops.ts';
import type { ReferenceModel } from './reference-model.ts';

interface CommonOptions {
  /** Stop after emitting one of these ids (it is included in the result). */
  readonly stopIds?: readonly number[];
  /** Sees the logits that chose generated token `step` (0-based). */
  readonly onLogits?: (logits: Float64Array, step: number) => void;
}

export type GenerateOptions =
  | ({ readonly greedy: true } & CommonOptions)
  | ({ readonly topk: number; readonly temperature: number; readonly seed: number } & CommonOptions);

/**
 * Feeds `promptIds` from position 0, then generates up to `maxNewTokens` ids and returns
 * them (without the prompt). A `ReferenceModel` argument has its cache overwritten.
 */
export function referenceGenerate(
  model: LoadedModel | ReferenceModel,
  promptIds: readonly number[],
  maxNewTokens: number,
  options: GenerateOptions,
): number[] {
  const ref = 'forward' in model ? model : createReferenceModel(model);
  const { maxSeqLen } = ref.config;
  aint(maxNewTokens, 'maxNewTokens', 0);
  if (promptIds.length === 0) throw new ValidationError('expected at least one prompt id (e.g. BOS)', 'promptIds');
  if (promptIds.length + maxNewTokens - 1 > maxSeqLen) {
    throw new ValidationError(
      `${promptIds.length} prompt ids + ${maxNewTokens} new tokens need ${promptIds.length + maxNewTokens - 1} ` +
        `positions; the model has maxSeqLen ${maxSeqLen}`,
      'maxNewTokens',
    );
  }
  const pick = 'greedy' in options ? argmax : topkSampler(options.topk, options.temperature, options.seed);
  const out: number[] = [];
  if (maxNewTokens === 0) return out;
  let logits = ref.prefill(promptIds);
  for (let step = 0; ; step++) {
    options.onLogits?.(logits, step);
    const next = pick(logits);
    out.push(next);
    if (out.length === maxNewTokens || options.stopIds?.includes(next)) return out;
    logits = ref.forward(next, promptIds.length + step);
  }
}

/** Top-k sampling: softmax(logits/temperature) over the k largest (lowest index first on ties). */
export function topkSampler(topk: number, temperature: number, seed: number): (logits: Float64Array) => number {
  aint(topk, 'topk', 1);
  anumber(temperature, 'temperature', Number.MIN_VALUE);
  const random = xorshiftF32(seed);
  return (logits) => {
    const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
    const top = order.slice(0, Math.min(topk, order.length));
    const probs = softmax(Float64Array.from(top, (i) => logits[i] / temperature));
    const coin = random();
    let cdf = 0;
    for (let i = 0; i < top.length; i++) {
      cdf += probs[i];
      if (coin < cdf) return top[i];
    }
    return top[top.length - 1]; // rounding
  };
}

/** llama2.c's `random_f32`: xorshift64* → uniform in [0, 1) with 24 bits. */
export function xorshiftF32(seed: number): () => number {
  aint(seed, 'seed', 1);
  let state = BigInt.asUintN(64, BigInt(seed));
  return () => {
    state ^= state >> 12n;
    state = BigInt.asUintN(64, state ^ (state << 25n));
    state ^= state >> 27n;
    const u32 = Number(BigInt.asUintN(64, state * 0x2545f4914f6cdd1dn) >> 32n);
    return (u32 >>> 8) / 16777216;
  };
}
