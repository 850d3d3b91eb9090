/**
 * Plaintext float64 LLaMA forward (llama2.c `run.c` `forward`), block for block as the
 * secure model computes it:
 *
 *   x = embedding[token]
 *   per layer:  h = rmsnorm(x);  q,k,v = h·Wq, h·Wk, h·Wv;  rope(q, k);  cache[pos] = k, v
 *               x += attention(q, cache[0..pos]) · Wo
 *               h = rmsnorm(x);  x += (silu(h·W1) ⊙ (h·W3)) · W2
 *   logits = rmsnorm(x) · outputEmbeddingᵀ
 */
import type { LlamaLayerWeights, LlamaWeights, ModelConfig } from '../formats/model-spec.ts';
import { attention, type KvCache } from './attention.ts';
import { addInPlace, matmul, matmulTransposed, rmsnorm, rope, silu } from './ops.ts';
import {
  checkReferenceConfig,
  expectLayerCount,
  expectShape,
  referenceModelFromStep,
  type ReferenceModel,
  type ReferenceOptions,
} from './reference-model.ts';

/** Builds the LLaMA reference for `config` and `weights` (shapes are checked once here). */
export function createLlamaReference(config: ModelConfig, weights: LlamaWeights, options: ReferenceOptions = {}): ReferenceModel {
  checkReferenceConfig(config);
  checkLlamaShapes(config, weights);
  const { nLayers, nHeads, nKvHeads, headDim, normEps: eps } = config;
  const trace = options.onActivation ?? (() => {});

  /** x = embedding[token] (dim). */
  const embed = (token: number): Float64Array =>
    Float64Array.from(weights.tokenEmbedding.data.subarray(token * config.dim, (token + 1) * config.dim));

  /** Attention sub-block: returns attn(rmsnorm(x)) · Wo (dim); writes k, v into the cache. */
  const attentionBlock = (x: Float64Array, w: LlamaLayerWeights, l: number, pos: number, cache: KvCache) => {
    const h = rmsnorm(x, w.attnNorm, eps); // (dim)
    const q = rope(matmul(h, w.wq), nHeads, headDim, pos, config.ropeTheta, config.ropeStyle); // (nHeads*headDim)
    const k = rope(matmul(h, w.wk), nKvHeads, headDim, pos, config.ropeTheta, config.ropeStyle); // (nKv*headDim)
    const v = matmul(h, w.wv); // (nKvHeads*headDim)
    cache.write(l, pos, k, v);
    const att = attention(q, cache.keysOf(l), cache.valuesOf(l), pos, nHeads, nKvHeads, headDim); // (nHeads*headDim)
    trace('attn', l, att);
    return matmul(att, w.wo); // (dim)
  };

  /** MLP sub-block: SwiGLU, (silu(h·W1) ⊙ (h·W3)) · W2 with h = rmsnorm(x) (dim). */
  const mlpBlock = (x: Float64Array, w: LlamaLayerWeights, l: number) => {
    const h = rmsnorm(x, w.ffnNorm, eps); // (dim)
    const gate = matmul(h, w.w1); // (hidden)
    const up = matmul(h, w.w3); // (hidden)
    const act = swiglu(gate, up); // (hidden)
    trace('mlp_hidden', l, act);
    return matmul(act, w.w2); // (dim)
  };

  return referenceModelFromStep(config, (token, pos, cache) => {
    const x = embed(token); // (dim)
    for (let l = 0; l < nLayers; l++) {
      const w = weights.layers[l];
      trace('attn_out', l, addInPlace(x, attentionBlock(x, w, l, pos, cache)));
      trace('mlp_out', l, addInPlace(x, mlpBlock(x, w, l)));
    }
    const xf = rmsnorm(x, weights.finalNorm, eps); // (dim)
    trace('final_norm', -1, xf);
    return matmulTransposed(xf, weights.outputEmbedding); // (vocab)
  });
}

/** SwiGLU gating: silu(gate) ⊙ up, in place on `gate`. */
export function swiglu(gate: Float64Array, up: Float64Array): Float64Array {
  for (let i = 0; i < gate.length; i++) gate[i] = silu(gate[i]) * up[i];
  return gate;
}

function checkLlamaShapes(c: ModelConfig, w: LlamaWeights): void {
  const { dim, hiddenDim: hid, vocabSize: vocab } = c;
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  expectShape(w.tokenEmbedding, [vocab, dim], 'weights.tokenEmbedding');
  expectShape(w.finalNorm, [dim], 'weights.finalNorm');
  expectShape(w.outputEmbedding, [vocab, dim], 'weights.outputEmbedding');
  expectLayerCount(w.layers.length, c.nLayers);
  w.layers.forEach((layer, l) => {
    const p = `weights.layers.${l}`;
    expectShape(layer.attnNorm, [dim], `${p}.attnNorm`);
    expectShape(layer.wq, [dim, qDim], `${p}.wq`);
    expectShape(layer.wk, [dim, kvDim], `${p}.wk`);
    expectShape(layer.wv, [dim, kvDim], `${p}.wv`);
    expectShape(layer.wo, [qDim, dim], `${p}.wo`);
    expectShape(layer.ffnNorm, [dim], `${p}.ffnNorm`);
    expectShape(layer.w1, [dim, hid], `${p}.w1`);
    expectShape(layer.w3, [dim, hid], `${p}.w3`);
    expectShape(layer.w2, [hid, dim], `${p}.w2`);
  });
}
