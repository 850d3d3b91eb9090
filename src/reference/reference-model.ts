/**
 * The plaintext reference model interface (llama2.c style: one token per call, the KV cache
 * lives in the object) and the plumbing shared by the LLaMA and GPT-2 references.
 */
import { ValidationError } from '../base/errors.ts';
import { aint } from '../base/validate.ts';
import type { FloatTensor, ModelConfig } from '../formats/model-spec.ts';
import { KvCache } from './attention.ts';

export interface ReferenceModel {
  readonly config: ModelConfig;
  /** Positions currently held by the KV cache. */
  readonly length: number;
  /**
   * Feeds `tokenId` at position `pos` and returns the logits (vocab). `pos` may be at most
   * `length` (append) or rewind to an earlier position, which discards the later ones.
   */
  forward(tokenId: number, pos: number): Float64Array;
  /** Feeds `ids` at positions startPos.. (default 0); returns the logits of the last one. */
  prefill(ids: readonly number[], startPos?: number): Float64Array;
  /** Empties the KV cache. */
  reset(): void;
}

export interface ReferenceOptions {
  /**
   * Called with intermediate activations (e.g. 'attn_out', 'mlp_out', 'residual') for
   * layer-by-layer comparison with the secure model; `layer` is -1 outside the blocks.
   */
  readonly onActivation?: (name: string, layer: number, value: Float64Array) => void;
}

/** One decoder step: token at pos → logits, reading and writing `cache`. */
export type StepFn = (tokenId: number, pos: number, cache: KvCache) => Float64Array;

/** Wraps a step function with input checks, the cache and `prefill`. */
export function referenceModelFromStep(config: ModelConfig, step: StepFn): ReferenceModel {
  const cache = new KvCache(config.nLayers);
  const forward = (tokenId: number, pos: number): Float64Array => {
    aint(tokenId, 'tokenId', 0, config.vocabSize - 1);
    aint(pos, 'pos', 0, Math.min(cache.length, config.maxSeqLen - 1));
    return step(tokenId, pos, cache);
  };
  return {
    config,
    get length() {
      return cache.length;
    },
    forward,
    prefill(ids: readonly number[], startPos = 0): Float64Array {
      if (ids.length === 0) throw new ValidationError('prefill: expected at least one token id, got none');
      let logits: Float64Array = new Float64Array(0);
      ids.forEach((id, i) => (logits = forward(id, startPos + i)));
      return logits;
    },
    reset: () => cache.reset(),
  };
}

/** Checks a weight's shape at the API edge (weights may come from any loader). */
export function expectShape(t: FloatTensor, shape: readonly number[], name: string): FloatTensor {
  const ok = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (!ok || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new ValidationError(
      `weight has shape [${t.shape.join(', ')}] with ${t.data.length} values; expected [${shape.join(', ')}]`,
      name,
    );
  }
  return t;
}

/** Checks the number of layer weight sets against `nLayers`. */
export function expectLayerCount(actual: number, nLayers: number): void {
  if (actual !== nLayers) {
    throw new ValidationError(`has ${actual} layers; expected config.nLayers = ${nLayers}`, 'weights.layers');
  }
}

/** Checks the config fields the reference relies on (head grouping, RoPE pairs). */
export function checkReferenceConfig(c: ModelConfig): void {
  for (const key of ['dim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'hiddenDim', 'vocabSize', 'maxSeqLen'] as const) {
    aint(c[key], `config.${key}`, 1);
  }
  if (c.nHeads % c.nKvHeads !== 0) {
    throw new ValidationError(`nHeads ${c.nHeads} is not a multiple of nKvHeads ${c.nKvHeads}`, 'config.nKvHeads');
  }
  if (c.arch === 'llama' && c.headDim % 2 !== 0) {
    throw new ValidationError(`headDim ${c.headDim} is odd; RoPE needs an even head size`, 'config.headDim');
  }
}
