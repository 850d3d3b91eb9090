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

/**
 * Rows [start, end) of one folded tensor (a vector is a single row), computed when called: the
 * owner brings the weights in a block of rows at a time and so never holds a whole folded copy
 * (GPT-2-small's would be 1 GB of Float64). Every fold is row-local, so any row range is exact.
 */
export type FoldRows = (start: number, end: number) => Float64Array;

/** The folded tensors in the order of {@link foldedShapes}. */
export type FoldedWeights = readonly FoldRows[];

export function foldWeights(c: ModelConfig, w: ModelWeights): FoldedWeights {
  return w.arch === 'llama' ? foldLlama(c, w) : foldGpt2(c, w);
}

/** All rows of a folded tensor of `rows` rows. */
export const foldAll = (fold: FoldRows, spec: FoldedTensor): Float64Array => fold(0, spec.kind === 'matrix' ? spec.shape[0] : 1);

/** Rows [start, end) of W [rows, cols] (a copy). */
function rowsOf(w: FloatTensor, start: number, end: number): Float64Array {
  const cols = w.shape[1];
  return Float64Array.from(w.data.subarray(start * cols, end * cols));
}

/** Rows [start, end) of diag(γ)·W for W [in, out] and γ [in] (rows of W when γ is undefined). */
function scaleRows(w: FloatTensor, gamma: FloatTensor | undefined, start: number, end: number): Float64Array {
  const cols = w.shape[1];
  const out = rowsOf(w, start, end);
  if (gamma) for (let i = start; i < end; i++) for (let j = 0; j < cols; j++) out[(i - start) * cols + j] *= gamma.data[i];
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

/** β·W (+ b) for β [in], W [in, out]: a vector, so the row range is its one row. */
function biasThrough(beta: FloatTensor, w: FloatTensor, b: FloatTensor | undefined): Float64Array {
  const [rows, cols] = w.shape;
  const out = b ? Float64Array.from(b.data) : new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] += beta.data[i] * w.data[i * cols + j];
  return out;
}

/**
 * Rows [start, end) of diag(γ)·Eᵀ for E [out, in] (an output embedding, often the token table
 * itself): the LM head is never held transposed; each block gathers its columns of E.
 */
function transposedRows(e: FloatTensor, gamma: FloatTensor, start: number, end: number): Float64Array {
  const [rows, cols] = e.shape;
  const out = new Float64Array((end - start) * rows);
  for (let i = start; i < end; i++) {
    const g = gamma.data[i];
    const at = (i - start) * rows;
    for (let j = 0; j < rows; j++) out[at + j] = g * e.data[j * cols + i];
  }
  return out;
}

/** β·Eᵀ for β [in], E [out, in]. */
function biasThroughTransposed(beta: FloatTensor, e: FloatTensor): Float64Array {
  const [rows, cols] = e.shape;
  const out = new Float64Array(rows);
  for (let j = 0; j < rows; j++) {
    let s = 0;
    for (let i = 0; i < cols; i++) s += beta.data[i] * e.data[j * cols + i];
    out[j] = s;
  }
  return out;
}

/** A vector tensor as its one row. */
const whole =
  (make: () => Float64Array): FoldRows =>
  () =>
    make();

/** Multiplies the first `width` columns of every row of x [·, cols] by s, in place. */
function scaleColumns(x: Float64Array, cols: number, width: number, s: number): Float64Array {
  for (let i = 0; i < x.length / cols; i++) for (let j = 0; j < width; j++) x[i * cols + j] *= s;
  return x;
}

function foldLlama(c: ModelConfig, w: LlamaWeights): FoldedWeights {
  const qScale = 1 / Math.sqrt(c.headDim);
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  const out: FoldRows[] = [(s, e) => rowsOf(w.tokenEmbedding, s, e)];
  for (const layer of w.layers) {
    out.push(
      (s, e) =>
        concatColumns(
          [
            { data: scaleColumns(scaleRows(layer.wq, layer.attnNorm, s, e), q, q, qScale), cols: q },
            { data: scaleRows(layer.wk, layer.attnNorm, s, e), cols: kv },
            { data: scaleRows(layer.wv, layer.attnNorm, s, e), cols: kv },
          ],
          e - s,
        ),
      (s, e) => rowsOf(layer.wo, s, e),
      (s, e) =>
        concatColumns(
          [
            { data: scaleRows(layer.w1, layer.ffnNorm, s, e), cols: c.hiddenDim },
            { data: scaleRows(layer.w3, layer.ffnNorm, s, e), cols: c.hiddenDim },
          ],
          e - s,
        ),
      (s, e) => rowsOf(layer.w2, s, e),
    );
  }
  out.push((s, e) => transposedRows(w.outputEmbedding, w.finalNorm, s, e));
  return out;
}

function foldGpt2(c: ModelConfig, w: Gpt2Weights): FoldedWeights {
  const d = c.dim;
  const qScale = 1 / Math.sqrt(c.headDim);
  const vector = (t: FloatTensor): FoldRows => whole(() => Float64Array.from(t.data));
  const out: FoldRows[] = [(s, e) => rowsOf(w.tokenEmbedding, s, e), (s, e) => rowsOf(w.positionEmbedding, s, e)];
  for (const layer of w.layers) {
    out.push(
      (s, e) => scaleColumns(scaleRows(layer.qkvWeight, layer.ln1Weight, s, e), 3 * d, d, qScale),
      whole(() => scaleColumns(biasThrough(layer.ln1Bias, layer.qkvWeight, layer.qkvBias), 3 * d, d, qScale)),
      (s, e) => rowsOf(layer.projWeight, s, e),
      vector(layer.projBias),
      (s, e) => scaleRows(layer.fcWeight, layer.ln2Weight, s, e),
      whole(() => biasThrough(layer.ln2Bias, layer.fcWeight, layer.fcBias)),
      (s, e) => rowsOf(layer.fcProjWeight, s, e),
      vector(layer.fcProjBias),
    );
  }
  out.push(
    (s, e) => transposedRows(w.outputEmbedding, w.finalNormWeight, s, e),
    whole(() => biasThroughTransposed(w.finalNormBias, w.outputEmbedding)),
  );
  return out;
}
