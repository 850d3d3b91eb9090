/**
 * Float64 building blocks of the plaintext reference (llama2.c `run.c` / nanoGPT style).
 * Activations are `Float64Array`; weights are the spec's float32 tensors, widened on read,
 * so every sum accumulates in float64. A linear layer is `y = x · W (+ b)`, `W` is `[in, out]`.
 */
import type { FloatTensor, ModelConfig } from '../formats/model-spec.ts';

/** y = x · W (+ b): x (in), W (in, out), b (out) → y (out). */
export function matmul(x: Float64Array, w: FloatTensor, bias?: FloatTensor): Float64Array {
  const [inDim, outDim] = w.shape;
  const W = w.data;
  const y = bias ? Float64Array.from(bias.data) : new Float64Array(outDim);
  for (let i = 0; i < inDim; i++) {
    const xi = x[i];
    const row = i * outDim;
    for (let j = 0; j < outDim; j++) y[j] += xi * W[row + j]; // y[j] += x[i] * W[i, j]
  }
  return y;
}

/** y = x·Wᵀ for W [out, in] (an output embedding: one dot product per row). */
export function matmulTransposed(x: Float64Array, w: FloatTensor): Float64Array {
  const [outDim, inDim] = w.shape;
  const W = w.data;
  const y = new Float64Array(outDim);
  for (let j = 0; j < outDim; j++) {
    const row = j * inDim;
    let s = 0;
    for (let i = 0; i < inDim; i++) s += x[i] * W[row + i]; // y[j] = Σ_i x[i] * W[j, i]
    y[j] = s;
  }
  return y;
}

/** RMSNorm: x / sqrt(mean(x²) + eps) * weight. */
export function rmsnorm(x: Float64Array, weight: FloatTensor, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((xi, i) => xi * scale * weight.data[i]);
}

/** LayerNorm: (x - mean) / sqrt(var + eps) * weight + bias (biased variance, like PyTorch). */
export function layernorm(x: Float64Array, weight: FloatTensor, bias: FloatTensor, eps: number): Float64Array {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i];
  mean /= x.length;
  let variance = 0;
  for (let i = 0; i < x.length; i++) variance += (x[i] - mean) * (x[i] - mean);
  const scale = 1 / Math.sqrt(variance / x.length + eps);
  return x.map((xi, i) => (xi - mean) * scale * weight.data[i] + bias.data[i]);
}

/** Numerically stable softmax (max subtracted). */
export function softmax(x: Float64Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  const e = x.map((xi) => Math.exp(xi - max));
  let sum = 0;
  for (let i = 0; i < e.length; i++) sum += e[i];
  return e.map((ei) => ei / sum);
}

/** SiLU (swish): x · σ(x). */
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** GELU, tanh approximation (GPT-2's `gelu_new`). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** GELU, exact form: x · Φ(x) = x/2 · (1 + erf(x/√2)). */
export function geluErf(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/**
 * erf to ~1e-14: Maclaurin series for |x| < 2.5, else the continued fraction for erfc
 * (evaluated bottom-up, 80 terms). JavaScript has no Math.erf.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 100 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x); // erfc(6) ≈ 2e-17
  // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  let t = ax;
  for (let k = 80; k >= 1; k--) t = ax + k / 2 / t;
  const erfc = Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * t);
  return Math.sign(x) * (1 - erfc);
}

/** Applies the configured MLP activation elementwise, in place. */
export function activate(x: Float64Array, kind: ModelConfig['activation']): Float64Array {
  const f = kind === 'silu' ? silu : kind === 'gelu_tanh' ? geluTanh : geluErf;
  for (let i = 0; i < x.length; i++) x[i] = f(x[i]);
  return x;
}

/**
 * Rotary position embedding, in place, on `nHeads` heads of `headDim` at position `pos`.
 * Pair j ∈ [0, headDim/2) rotates by angle pos · theta^(-2j/headDim); the pair is
 * (2j, 2j+1) for 'interleaved' (llama2.c / Meta) and (j, j + headDim/2) for 'half' (HF).
 */
export function rope(
  vec: Float64Array,
  nHeads: number,
  headDim: number,
  pos: number,
  theta: number,
  style: 'interleaved' | 'half',
): Float64Array {
  const half = headDim / 2;
  for (let j = 0; j < half; j++) {
    const angle = pos * Math.pow(theta, (-2 * j) / headDim);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    for (let h = 0; h < nHeads; h++) {
      const a = h * headDim + (style === 'interleaved' ? 2 * j : j);
      const b = style === 'interleaved' ? a + 1 : a + half;
      const [v0, v1] = [vec[a], vec[b]];
      vec[a] = v0 * cos - v1 * sin;
      vec[b] = v0 * sin + v1 * cos;
    }
  }
  return vec;
}

/** In place: x += y (the residual connection). */
export function addInPlace(x: Float64Array, y: Float64Array): Float64Array {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
  return x;
}

/** Index of the largest value; the lowest index on ties. */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
