import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FloatTensor, Gpt2Weights, LlamaWeights, ModelConfig } from '../formats/model-spec.ts';
import { randomGpt2 } from '../formats/random-gpt2.ts';
import { foldAll, foldedShapes, foldWeights } from './fold-weights.ts';

let state = 12345;
/** Deterministic values in [-1, 1) (test data, not secrets). */
function values(shape: number[]): FloatTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    data[i] = state / 2 ** 31 - 1;
  }
  return { shape, data };
}

/** A random GPT-2 whose norm gains and biases are not 1 and 0 (so row scalings show). */
function gpt2(): { config: ModelConfig; weights: Gpt2Weights } {
  const m = randomGpt2('gpt2-random:2x12x3x20x30');
  if (m.weights.arch !== 'gpt2') throw new Error('expected gpt2');
  const { dim: d, hiddenDim: h } = m.config;
  const layers = m.weights.layers.map((l) => ({
    ...l,
    ln1Weight: values([d]),
    ln1Bias: values([d]),
    qkvBias: values([3 * d]),
    ln2Weight: values([d]),
    ln2Bias: values([d]),
    fcBias: values([h]),
  }));
  return { config: m.config, weights: { ...m.weights, layers, finalNormWeight: values([d]), finalNormBias: values([d]) } };
}

function llama(): { config: ModelConfig; weights: LlamaWeights } {
  const [d, h, v, heads, kvHeads] = [8, 12, 10, 4, 2];
  const headDim = d / heads;
  const config: ModelConfig = {
    ...gpt2().config,
    arch: 'llama',
    dim: d,
    nLayers: 2,
    nHeads: heads,
    nKvHeads: kvHeads,
    headDim,
    hiddenDim: h,
    vocabSize: v,
  };
  const layers = Array.from({ length: 2 }, () => ({
    attnNorm: values([d]),
    wq: values([d, heads * headDim]),
    wk: values([d, kvHeads * headDim]),
    wv: values([d, kvHeads * headDim]),
    wo: values([heads * headDim, d]),
    ffnNorm: values([d]),
    w1: values([d, h]),
    w2: values([h, d]),
    w3: values([d, h]),
  }));
  return {
    config,
    weights: { arch: 'llama', tokenEmbedding: values([v, d]), layers, finalNorm: values([d]), outputEmbedding: values([v, d]) },
  };
}

test('every row block of every folded tensor equals the same rows of the whole fold (GPT-2 and LLaMA)', () => {
  for (const { config, weights } of [gpt2(), llama()]) {
    const specs = foldedShapes(config);
    const folded = foldWeights(config, weights);
    assert.equal(folded.length, specs.length);
    specs.forEach((spec, i) => {
      const whole = foldAll(folded[i], spec);
      assert.equal(
        whole.length,
        spec.shape.reduce((a, b) => a * b, 1),
        spec.name,
      );
      if (spec.kind !== 'matrix') return;
      const [k, n] = spec.shape;
      for (const step of [1, 3, k - 1]) {
        if (step < 1) continue;
        for (let s = 0; s < k; s += step) {
          const e = Math.min(k, s + step);
          assert.deepEqual(folded[i](s, e), whole.subarray(s * n, e * n), `${config.arch} ${spec.name} rows [${s}, ${e})`);
        }
      }
    });
  }
});

test('folding follows its definition: diag(γ)·W, the attention scale on Q, β·W + b', () => {
  const { config, weights } = gpt2();
  const specs = foldedShapes(config);
  const folded = foldWeights(config, weights);
  const d = config.dim;
  const q = 1 / Math.sqrt(config.headDim);
  const at = (name: string): Float64Array => {
    const i = specs.findIndex((s) => s.name === name);
    return foldAll(folded[i], specs[i]);
  };
  const l = weights.layers[1];
  const wqkv = at('layers.1.wqkv');
  const bqkv = at('layers.1.bqkv');
  for (const [i, j] of [
    [0, 0],
    [5, d - 1],
    [d - 1, d],
    [7, 3 * d - 1],
  ]) {
    const want = l.ln1Weight.data[i] * l.qkvWeight.data[i * 3 * d + j] * (j < d ? q : 1);
    assert.ok(Math.abs(wqkv[i * 3 * d + j] - want) < 1e-12, `wqkv[${i},${j}]`);
  }
  for (const j of [0, d - 1, d, 3 * d - 1]) {
    let want = l.qkvBias.data[j];
    for (let i = 0; i < d; i++) want += l.ln1Bias.data[i] * l.qkvWeight.data[i * 3 * d + j];
    assert.ok(Math.abs(bqkv[j] - want * (j < d ? q : 1)) < 1e-9, `bqkv[${j}]`);
  }
  const head = at('lmHead');
  const v = config.vocabSize;
  // Folded LM head [d, v] = diag(γ)·Eᵀ for the output embedding E [v, d].
  assert.ok(Math.abs(head[3 * v + 7] - weights.finalNormWeight.data[3] * weights.outputEmbedding.data[7 * d + 3]) < 1e-12);
  const headBias = at('lmHeadBias');
  for (const j of [0, 7, v - 1]) {
    let want = 0;
    for (let i = 0; i < d; i++) want += weights.finalNormBias.data[i] * weights.outputEmbedding.data[j * d + i];
    assert.ok(Math.abs(headBias[j] - want) < 1e-9, `lmHeadBias[${j}]`);
  }
});
