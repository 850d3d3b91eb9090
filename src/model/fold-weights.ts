/**
 * Plaintext weight preparation by the model owner, before the weights enter MPC. Exact algebraic
 * rewrites that save secure operations (the plaintext reference keeps the textbook form):
 *   - norm gains fold into the next matrix: (x̂ ⊙ γ)·W = x̂·(diag(γ)·W); a LayerNorm bias β
 *     becomes a bias β·W (+ b);
 *   - the attention scale 1/√headDim folds into Wq (and bq) — RoPE is linear, so it commutes;
 *   - Q, K, V (LLaMA) and W1, W3 fuse into one matrix each, so each is one fixed operand.
 * The list of matrices and their shapes depends on the config only, so every party can call
 * {@link foldedShapes} without holding the weights.
 */
import type { FloatTensor, Gpt2Weights, LlamaWeights, ModelConfig, ModelWeights } from '../formats/model-spec.ts';

export interface FoldedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /** 'matrix' → a fixed operand; 'vector' → a secret bias. */
  readonly kind: 'matrix' | 'vector';
}

/** Names and shapes, in input order. */
export function foldedShapes(c: ModelConfig): FoldedTensor[] {
  const { dim: d, hiddenDim: hid, vocabSize: v } = c;
  const qkv = (c.nHeads + 2 * c.nKvHeads) * c.headDim;
  const out: FoldedTensor[] = [{ name: 'embedding', shape: [v, d], kind: 'matrix' }];
  if (c.arch === 'gpt2') out.push({ name: 'positions', shape: [c.maxSeqLen, d], kind: 'matrix' });
  for (let l = 0; l < c.nLayers; l++) {
    const p = `layers.${l}`;
    if (c.arch === 'llama') {
      out.push({ name: `${p}.wqkv`, shape: [d, qkv], kind: 'matrix' });
      out.push({ name: `${p}.wo`, shape: [c.nHeads * c.headDim, d], kind: 'matrix' });
      out.push({ name: `${p}.w13`, shape: [d, 2 * hid], kind: 'matrix' });
      out.push({ name: `${p}.w2`, shape: [hid, d], kind: 'matrix' });
    } else {
      out.push({ name: `${p}.wqkv`, shape: [d, 3 * d], kind: 'matrix' }, { name: `${p}.bqkv`, shape: [3 * d], kind: 'vector' });
      out.push({ name: `${p}.wo`, shape: [d, d], kind: 'matrix' }, { name: `${p}.bo`, shape: [d], kind: 'vector' });
      out.push({ name: `${p}.wfc`, shape: [d, hid], kind: 'matrix' }, { name: `${p}.bfc`, shape: [hid], kind: 'vector' });
      out.push({ name: `${p}.wproj`, shape: [hid, d], kind: 'matrix' }, { name: `${p}.bproj`, shape: [d], kind: 'vector' });
    }
  }
  out.push({ name: 'lmHead', shape: [d, v], kind: 'matrix' });
  if (c.arch === 'gpt2') out.push({ name: 'lmHeadBias', shape: [v], kind: 'vector' });
  return out;
}

/** Folded float values in the order of {@link foldedShapes}. */
export function foldWeights(c: ModelConfig, w: ModelWeights): Float64Array[] {
  return w.arch === 'llama' ? foldLlama(c, w) : foldGpt2(c, w);
}

/** diag(γ)·W for W [in, out] and γ [in] (a copy of W when γ is undefined). */
function scaleRows(w: FloatTensor, gamma: FloatTensor | undefined): Float64Array {
  const [rows, cols] = w.shape;
  const out = Float64Array.from(w.data);
  if (gamma) for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] *= gamma.data[i];
  return out;
}

/** Concatenates matrices [rows, c_i] along columns. */
function concatColumns(parts: readonly { data: Float64Array; cols: number }[], rows: number): Float64Array {
  const width = parts.reduce((s, p) => s + p.cols, 0);
  const out = new Float64Array(rows * width);
  let off = 0;
  for (const { data, cols } of parts) {
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * width + off + j] = data[i * cols + j];
    off += cols;
  }
  return out;
}

/** β·W (+ b) for β [in], W [in, out]. */
function biasThrough(beta: FloatTensor, w: FloatTensor, b: FloatTensor | undefined): Float64Array {
  const [rows, cols] = w.shape;
  const out = b ? Float64Array.from(b.data) : new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] += beta.data[i] * w.data[i * cols + j];
  return out;
}

function foldLlama(c: ModelConfig, w: LlamaWeights): Float64Array[] {
  const d = c.dim;
  const qScale = 1 / Math.sqrt(c.headDim);
  const out: Float64Array[] = [Float64Array.from(w.tokenEmbedding.data)];
  for (const layer of w.layers) {
    const q = scaleRows(layer.wq, layer.attnNorm).map((x) => x * qScale);
    const k = scaleRows(layer.wk, layer.attnNorm);
    const v = scaleRows(layer.wv, layer.attnNorm);
    const kv = c.nKvHeads * c.headDim;
    out.push(
      concatColumns(
        [
          { data: q, cols: c.nHeads * c.headDim },
          { data: k, cols: kv },
          { data: v, cols: kv },
        ],
        d,
      ),
    );
    out.push(Float64Array.from(layer.wo.data));
    const w1 = scaleRows(layer.w1, layer.ffnNorm);
    const w3 = scaleRows(layer.w3, layer.ffnNorm);
    out.push(
      concatColumns(
        [
          { data: w1, cols: c.hiddenDim },
          { data: w3, cols: c.hiddenDim },
        ],
        d,
      ),
    );
    out.push(Float64Array.from(layer.w2.data));
  }
  out.push(scaleRows(w.lmHead, w.finalNorm));
  return out;
}

function foldGpt2(c: ModelConfig, w: Gpt2Weights): Float64Array[] {
  const d = c.dim;
  const qScale = 1 / Math.sqrt(c.headDim);
  const out: Float64Array[] = [Float64Array.from(w.tokenEmbedding.data), Float64Array.from(w.positionEmbedding.data)];
  for (const layer of w.layers) {
    const wqkv = scaleRows(layer.qkvWeight, layer.ln1Weight);
    const bqkv = biasThrough(layer.ln1Bias, layer.qkvWeight, layer.qkvBias);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) wqkv[i * 3 * d + j] *= qScale;
    for (let j = 0; j < d; j++) bqkv[j] *= qScale;
    out.push(wqkv, bqkv);
    out.push(Float64Array.from(layer.projWeight.data), Float64Array.from(layer.projBias.data));
    out.push(scaleRows(layer.fcWeight, layer.ln2Weight), biasThrough(layer.ln2Bias, layer.fcWeight, layer.fcBias));
    out.push(Float64Array.from(layer.fcProjWeight.data), Float64Array.from(layer.fcProjBias.data));
  }
  out.push(scaleRows(w.lmHead, w.finalNormWeight), biasThrough(w.finalNormBias, w.lmHead, undefined));
  return out;
}
