/**
 * Causal self-attention over a key/value cache, with grouped-query head sharing
 * (query head h reads kv head h / (nHeads / nKvHeads)), as in llama2.c `run.c`.
 */
import { softmax } from './ops.ts';

/** Per-layer cache of key and value rows (each nKvHeads·headDim), indexed by position. */
export class KvCache {
  private readonly keys: Float64Array[][];
  private readonly values: Float64Array[][];
  /** Number of filled positions (0..length-1 are valid). */
  length = 0;

  constructor(nLayers: number) {
    this.keys = Array.from({ length: nLayers }, () => []);
    this.values = Array.from({ length: nLayers }, () => []);
  }

  /** Stores k, v of `layer` at `pos`; positions after `pos` become stale. */
  write(layer: number, pos: number, k: Float64Array, v: Float64Array): void {
    this.keys[layer][pos] = k;
    this.values[layer][pos] = v;
    this.keys[layer].length = this.values[layer].length = pos + 1;
    if (layer === 0) this.length = pos + 1;
  }

  keysOf(layer: number): readonly Float64Array[] {
    return this.keys[layer];
  }

  valuesOf(layer: number): readonly Float64Array[] {
    return this.values[layer];
  }

  reset(): void {
    for (const rows of [...this.keys, ...this.values]) rows.length = 0;
    this.length = 0;
  }
}

/**
 * Attention of one query position over cached positions 0..pos:
 * out_h = Σ_t softmax_t(q_h · k_t,g / √headDim) · v_t,g with g = kv head of h.
 * q (nHeads·headDim) → out (nHeads·headDim).
 */
export function attention(
  q: Float64Array,
  keys: readonly Float64Array[],
  values: readonly Float64Array[],
  pos: number,
  nHeads: number,
  nKvHeads: number,
  headDim: number,
): Float64Array {
  const out = new Float64Array(nHeads * headDim);
  const group = nHeads / nKvHeads; // query heads per kv head
  const scale = 1 / Math.sqrt(headDim);
  const scores = new Float64Array(pos + 1);
  for (let h = 0; h < nHeads; h++) {
    const qo = h * headDim;
    const kvo = Math.floor(h / group) * headDim;
    for (let t = 0; t <= pos; t++) {
      let dot = 0;
      for (let i = 0; i < headDim; i++) dot += q[qo + i] * keys[t][kvo + i]; // q_h · k_t
      scores[t] = dot * scale;
    }
    const att = softmax(scores); // (pos+1)
    for (let t = 0; t <= pos; t++) {
      const a = att[t];
      const v = values[t];
      for (let i = 0; i < headDim; i++) out[qo + i] += a * v[kvo + i]; // Σ_t att_t · v_t
    }
  }
  return out;
}
