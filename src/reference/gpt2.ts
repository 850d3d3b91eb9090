/**
 * Plaintext float64 GPT-2 forward (nanoGPT `model.py`), block for block as the secure model
 * computes it, one token at a time with a KV cache:
 *
 *   x = wte[token] + wpe[pos]
 *   per layer:  h = ln_1(x);  q,k,v = split(h·W_attn + b);  cache[pos] = k, v
 *               x += attention(q, cache[0..pos]) · W_proj + b
 *               h = ln_2(x);  x += act(h·W_fc + b) · W_fcproj + b
 *   logits = ln_f(x) · outputEmbeddingᵀ
 */
import { ValidationError } from '../base/errors.ts';
import type { Gpt2LayerWeights, Gpt2Weights, ModelConfig } from '../formats/model-spec.ts';
import { attention, type KvCache } from './attention.ts';
import { activate, addInPlace, layernorm, matmul, matmulTransposed } from './ops.ts';
import {
  checkReferenceConfig,
  expectLayerCount,
  expectShape,
  referenceModelFromStep,
  type ReferenceModel,
  type ReferenceOptions,
} from './reference-model.ts';

/** Builds the GPT-2 reference for `config` and `weights` (shapes are checked once here). */
export function createGpt2Reference(config: ModelConfig, weights: Gpt2Weights, options: ReferenceOptions = {}): ReferenceModel {
  checkReferenceConfig(config);
  checkGpt2Shapes(config, weights);
  const { dim, nLayers, nHeads, headDim, normEps: eps } = config;
  const trace = options.onActivation ?? (() => {});

  /** x = wte[token] + wpe[pos] (dim). */
  const embed = (token: number, pos: number): Float64Array => {
    const x = Float64Array.from(weights.tokenEmbedding.data.subarray(token * dim, (token + 1) * dim));
    const p = weights.positionEmbedding.data;
    for (let i = 0; i < dim; i++) x[i] += p[pos * dim + i];
    return x;
  };

  /** Attention sub-block: attn(ln_1(x)) · W_proj + b (dim); writes k, v into the cache. */
  const attentionBlock = (x: Float64Array, w: Gpt2LayerWeights, l: number, pos: number, cache: KvCache) => {
    const h = layernorm(x, w.ln1Weight, w.ln1Bias, eps); // (dim)
    const qkv = matmul(h, w.qkvWeight, w.qkvBias); // (3*dim) = [q | k | v]
    const q = qkv.slice(0, dim);
    cache.write(l, pos, qkv.slice(dim, 2 * dim), qkv.slice(2 * dim));
    const att = attention(q, cache.keysOf(l), cache.valuesOf(l), pos, nHeads, nHeads, headDim); // (dim)
    trace('attn', l, att);
    return matmul(att, w.projWeight, w.projBias); // (dim)
  };

  /** MLP sub-block: act(ln_2(x) · W_fc + b) · W_fcproj + b (dim). */
  const mlpBlock = (x: Float64Array, w: Gpt2LayerWeights, l: number) => {
    const h = layernorm(x, w.ln2Weight, w.ln2Bias, eps); // (dim)
    const act = activate(matmul(h, w.fcWeight, w.fcBias), config.activation); // (hidden)
    trace('mlp_hidden', l, act);
    return matmul(act, w.fcProjWeight, w.fcProjBias); // (dim)
  };

  return referenceModelFromStep(config, (token, pos, cache) => {
    const x = embed(token, pos); // (dim)
    for (let l = 0; l < nLayers; l++) {
      const w = weights.layers[l];
      trace('attn_out', l, addInPlace(x, attentionBlock(x, w, l, pos, cache)));
      trace('mlp_out', l, addInPlace(x, mlpBlock(x, w, l)));
    }
    const xf = layernorm(x, weights.finalNormWeight, weights.finalNormBias, eps); // (dim)
    trace('final_norm', -1, xf);
    return matmulTransposed(xf, weights.outputEmbedding); // (vocab)
  });
}

function checkGpt2Shapes(c: ModelConfig, w: Gpt2Weights): void {
  const { dim, hiddenDim: hid, vocabSize: vocab } = c;
  if (c.nHeads * c.headDim !== dim || c.nKvHeads !== c.nHeads) {
    throw new ValidationError(
      `GPT-2 needs nHeads·headDim = dim and nKvHeads = nHeads; got nHeads ${c.nHeads}, headDim ${c.headDim}, ` +
        `nKvHeads ${c.nKvHeads}, dim ${dim}`,
      'config',
    );
  }
  expectShape(w.tokenEmbedding, [vocab, dim], 'weights.tokenEmbedding');
  expectShape(w.positionEmbedding, [c.maxSeqLen, dim], 'weights.positionEmbedding');
  expectShape(w.finalNormWeight, [dim], 'weights.finalNormWeight');
  expectShape(w.finalNormBias, [dim], 'weights.finalNormBias');
  expectShape(w.outputEmbedding, [vocab, dim], 'weights.outputEmbedding');
  expectLayerCount(w.layers.length, c.nLayers);
  w.layers.forEach((layer, l) => {
    const p = `weights.layers.${l}`;
    const shapes: [keyof Gpt2LayerWeights, number[]][] = [
      ['ln1Weight', [dim]],
      ['ln1Bias', [dim]],
      ['qkvWeight', [dim, 3 * dim]],
      ['qkvBias', [3 * dim]],
      ['projWeight', [dim, dim]],
      ['projBias', [dim]],
      ['ln2Weight', [dim]],
      ['ln2Bias', [dim]],
      ['fcWeight', [dim, hid]],
      ['fcBias', [hid]],
      ['fcProjWeight', [hid, dim]],
      ['fcProjBias', [dim]],
    ];
    for (const [name, shape] of shapes) expectShape(layer[name], shape, `${p}.${name}`);
  });
}
