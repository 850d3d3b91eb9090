/**
 * The cached one-token-at-a-time GPT-2 reference against a naive whole-sequence forward
 * (full causal attention matrix, no cache) on a tiny random model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../base/errors.ts';
import type { FloatTensor, Gpt2LayerWeights, Gpt2Weights, ModelConfig } from '../formats/model-spec.ts';
import { referenceGenerate } from './generate.ts';
import { createReferenceModel } from './index.ts';
import { activate, addInPlace, layernorm, matmul, softmax } from './ops.ts';

const [dim, nHeads, hidden, vocab, maxSeqLen, nLayers] = [12, 3, 20, 17, 9, 2];

function tinyGpt2(activation: ModelConfig['activation']): { config: ModelConfig; weights: Gpt2Weights } {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.8;
  const t = (...shape: number[]): FloatTensor => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b) }, rand),
  });
  const layer = (): Gpt2LayerWeights => ({
    ln1Weight: t(dim),
    ln1Bias: t(dim),
    qkvWeight: t(dim, 3 * dim),
    qkvBias: t(3 * dim),
    projWeight: t(dim, dim),
    projBias: t(dim),
    ln2Weight: t(dim),
    ln2Bias: t(dim),
    fcWeight: t(dim, hidden),
    fcBias: t(hidden),
    fcProjWeight: t(hidden, dim),
    fcProjBias: t(dim),
  });
  const config: ModelConfig = {
    arch: 'gpt2',
    dim,
    nLayers,
    nHeads,
    nKvHeads: nHeads,
    headDim: dim / nHeads,
    hiddenDim: hidden,
    vocabSize: vocab,
    maxSeqLen,
    normEps: 1e-5,
    ropeTheta: 0,
    ropeStyle: 'half',
    tiedEmbeddings: false,
    activation,
    bosId: undefined,
    eosId: undefined,
  };
  const weights: Gpt2Weights = {
    arch: 'gpt2',
    tokenEmbedding: t(vocab, dim),
    positionEmbedding: t(maxSeqLen, dim),
    layers: Array.from({ length: nLayers }, layer),
    finalNormWeight: t(dim),
    finalNormBias: t(dim),
    outputEmbedding: t(vocab, dim),
  };
  return { config, weights };
}

/** Whole-sequence forward: logits (vocab) at every position. */
function naiveForward(c: ModelConfig, w: Gpt2Weights, ids: number[]): Float64Array[] {
  const hd = c.headDim;
  let xs: Float64Array[] = ids.map((id, p) =>
    Float64Array.from({ length: dim }, (_, i) => w.tokenEmbedding.data[id * dim + i] + w.positionEmbedding.data[p * dim + i]),
  );
  for (const l of w.layers) {
    const qkv = xs.map((x) => matmul(layernorm(x, l.ln1Weight, l.ln1Bias, c.normEps), l.qkvWeight, l.qkvBias));
    xs = xs.map((x, t) => {
      const y = new Float64Array(dim);
      for (let h = 0; h < nHeads; h++) {
        const dot = (s: number) => qkv[t].slice(h * hd, (h + 1) * hd).reduce((a, q, i) => a + q * qkv[s][dim + h * hd + i], 0);
        const att = softmax(Float64Array.from({ length: t + 1 }, (_, s) => dot(s) / Math.sqrt(hd)));
        for (let s = 0; s <= t; s++) for (let i = 0; i < hd; i++) y[h * hd + i] += att[s] * qkv[s][2 * dim + h * hd + i];
      }
      return addInPlace(Float64Array.from(x), matmul(y, l.projWeight, l.projBias));
    });
    xs = xs.map((x) => {
      const a = activate(matmul(layernorm(x, l.ln2Weight, l.ln2Bias, c.normEps), l.fcWeight, l.fcBias), c.activation);
      return addInPlace(x, matmul(a, l.fcProjWeight, l.fcProjBias));
    });
  }
  const head = {
    shape: [dim, vocab],
    data: Float32Array.from({ length: dim * vocab }, (_, k) => w.outputEmbedding.data[(k % vocab) * dim + Math.floor(k / vocab)]),
  };
  return xs.map((x) => matmul(layernorm(x, w.finalNormWeight, w.finalNormBias, c.normEps), head));
}

for (const activation of ['gelu_tanh', 'gelu_erf'] as const) {
  test(`GPT-2 (${activation}): cached forward equals the whole-sequence forward`, () => {
    const { config, weights } = tinyGpt2(activation);
    const ids = [3, 16, 0, 7, 7, 2, 11, 5, 9];
    const expected = naiveForward(config, weights, ids);
    const names = new Set<string>();
    const model = createReferenceModel(
      { config, weights, tokenizer: undefined, source: 'tiny' },
      { onActivation: (name) => names.add(name) },
    );
    ids.forEach((id, p) => {
      const logits = model.forward(id, p);
      logits.forEach((v, i) => assert.ok(Math.abs(v - expected[p][i]) < 1e-12, `pos ${p} logit ${i}: ${v} vs ${expected[p][i]}`));
    });
    assert.deepEqual([...names].sort(), ['attn', 'attn_out', 'final_norm', 'mlp_hidden', 'mlp_out']);
    assert.throws(() => model.forward(1, maxSeqLen), ValidationError);
  });
}

test('GPT-2: greedy generation picks the argmax of the whole-sequence logits', () => {
  const { config, weights } = tinyGpt2('gelu_tanh');
  const loaded = { config, weights, tokenizer: undefined, source: 'tiny' };
  const out = referenceGenerate(loaded, [4, 1], 5, { greedy: true });
  const seq = [4, 1];
  for (let i = 0; i < 5; i++) {
    const logits = naiveForward(config, weights, seq).at(-1)!;
    seq.push(logits.indexOf(Math.max(...logits)));
  }
  assert.deepEqual(out, seq.slice(2));
});

test('GPT-2: wrong weight shapes are a ValidationError naming the tensor', () => {
  const { config, weights } = tinyGpt2('gelu_tanh');
  const bad = {
    ...weights,
    layers: [weights.layers[0], { ...weights.layers[1], fcBias: { shape: [3], data: new Float32Array(3) } }],
  };
  assert.throws(
    () => createReferenceModel({ config, weights: bad, tokenizer: undefined, source: 'tiny' }),
    /weights\.layers\.1\.fcBias: weight has shape \[3\] with 3 values; expected \[20\]/,
  );
});
