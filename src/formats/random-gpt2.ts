/**
 * Seeded random GPT-2 models for benchmarks: the architecture and shapes of a real checkpoint,
 * weights drawn like GPT-2's initialisation (matrices N(0, 0.02²), the residual projections
 * N(0, (0.02/√(2L))²), position embeddings N(0, 0.01²), LayerNorm gains 1 and biases 0; tied LM
 * head). Deterministic: the same spec and seed give bit-identical weights in every process, so a
 * party node and a benchmark's plaintext reference agree without sharing a file.
 *
 * Spec strings (accepted wherever a model path is, see load-model.ts):
 *   gpt2-small-random[@SEED]                           12 layers, d 768, 12 heads, MLP 3072, vocab 50,257, 1,024 positions
 *   gpt2-random:LAYERSxDIMxHEADSxMLPxVOCAB[@SEED]      any GPT-2 shape (positions 1,024)
 * The random stream is AES-128-CTR keyed by SHA-256(spec, seed) (public test data, not a secret).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { ValidationError } from '../base/errors.ts';
import type { FloatTensor, Gpt2LayerWeights, LoadedModel, ModelConfig } from './model-spec.ts';

export const GPT2_SMALL_SPEC = 'gpt2-small-random';
const SHAPE_RE = /^gpt2-random:(\d{1,3})x(\d{1,5})x(\d{1,3})x(\d{1,6})x(\d{1,7})$/;

/** Is `path` a random-model spec (rather than a file)? */
export function isRandomModelSpec(path: string): boolean {
  const base = path.split('@')[0];
  return base === GPT2_SMALL_SPEC || base.startsWith('gpt2-random:');
}

/** The config of a spec, without generating weights. */
export function randomGpt2Config(spec: string): { config: ModelConfig; seed: number } {
  const [base, seedText, extra] = spec.split('@');
  if (extra !== undefined || (seedText !== undefined && !/^\d{1,9}$/.test(seedText)))
    throw new ValidationError(
      `expected ${GPT2_SMALL_SPEC}[@SEED] or gpt2-random:LxDxHxMLPxVOCAB[@SEED], got ${JSON.stringify(spec)}`,
      '--model',
    );
  const m = base === GPT2_SMALL_SPEC ? ['', '12', '768', '12', '3072', '50257'] : SHAPE_RE.exec(base);
  if (!m) throw new ValidationError(`expected gpt2-random:LAYERSxDIMxHEADSxMLPxVOCAB, got ${JSON.stringify(base)}`, '--model');
  const [nLayers, dim, nHeads, hiddenDim, vocabSize] = m.slice(1).map(Number);
  if (!(nLayers >= 1 && dim >= 2 && nHeads >= 1 && dim % nHeads === 0 && hiddenDim >= 1 && vocabSize >= 2))
    throw new ValidationError(`bad shape in ${JSON.stringify(spec)}: need layers ≥ 1, heads dividing dim, vocab ≥ 2`, '--model');
  const config: ModelConfig = {
    arch: 'gpt2',
    dim,
    nLayers,
    nHeads,
    nKvHeads: nHeads,
    headDim: dim / nHeads,
    hiddenDim,
    vocabSize,
    maxSeqLen: 1024,
    normEps: 1e-5,
    ropeTheta: 0,
    ropeStyle: 'half',
    tiedEmbeddings: true,
    activation: 'gelu_tanh',
    bosId: undefined,
    eosId: undefined,
  };
  return { config, seed: seedText === undefined ? 1 : Number(seedText) };
}

/** Generates the model of a spec (≈ 1 s per 50M parameters). */
export function randomGpt2(spec: string): LoadedModel {
  const { config: c, seed } = randomGpt2Config(spec);
  const key = createHash('sha256')
    .update(`${spec.split('@')[0]}@${seed}`)
    .digest()
    .subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const normal = (shape: number[], std: number): FloatTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const u = new Uint32Array(new Uint8Array(cipher.update(Buffer.alloc(4 * (n + (n % 2))))).buffer);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      // Box–Muller on two uniforms in (0, 1].
      const r = Math.sqrt(-2 * Math.log((u[i] + 1) / 4294967296)) * std;
      const t = (2 * Math.PI * u[i + 1]) / 4294967296;
      data[i] = r * Math.cos(t);
      if (i + 1 < n) data[i + 1] = r * Math.sin(t);
    }
    return { shape, data };
  };
  const constant = (n: number, v: number): FloatTensor => ({ shape: [n], data: new Float32Array(n).fill(v) });
  const { dim: d, hiddenDim: h, vocabSize: v } = c;
  const proj = 0.02 / Math.sqrt(2 * c.nLayers);
  const tokenEmbedding = normal([v, d], 0.02);
  const positionEmbedding = normal([c.maxSeqLen, d], 0.01);
  const layers: Gpt2LayerWeights[] = Array.from({ length: c.nLayers }, () => ({
    ln1Weight: constant(d, 1),
    ln1Bias: constant(d, 0),
    qkvWeight: normal([d, 3 * d], 0.02),
    qkvBias: constant(3 * d, 0),
    projWeight: normal([d, d], proj),
    projBias: constant(d, 0),
    ln2Weight: constant(d, 1),
    ln2Bias: constant(d, 0),
    fcWeight: normal([d, h], 0.02),
    fcBias: constant(h, 0),
    fcProjWeight: normal([h, d], proj),
    fcProjBias: constant(d, 0),
  }));
  return {
    config: c,
    weights: {
      arch: 'gpt2',
      tokenEmbedding,
      positionEmbedding,
      layers,
      finalNormWeight: constant(d, 1),
      finalNormBias: constant(d, 0),
      outputEmbedding: tokenEmbedding, // tied, as in GPT-2
    },
    tokenizer: undefined,
    source: spec,
  };
}
