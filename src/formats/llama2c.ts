/**
 * Reader for llama2.c `.bin` checkpoints, legacy version-0 format (the one `run.c` reads):
 *
 *   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len   (28 bytes)
 *   float32 token_embedding_table (vocab, dim)
 *           rms_att_weight (L, dim)   wq (L, dim, dim)   wk (L, kv_dim, dim)   wv (L, kv_dim, dim)
 *           wo (L, dim, dim)   rms_ffn_weight (L, dim)
 *           w1 (L, hidden, dim)   w2 (L, dim, hidden)   w3 (L, hidden, dim)   rms_final_weight (dim)
 *           freq_cis_real (seq_len, head_size/2)   freq_cis_imag (seq_len, head_size/2)   (unused)
 *           wcls (vocab, dim)   only when vocab_size < 0 (unshared classifier)
 *
 * run.c matrices are `(out, in)`; they are transposed to the spec's `[in, out]` here.
 * Little-endian, as written by llama2.c's export scripts.
 */
import { readFileSync } from 'node:fs';
import { ValidationError } from '../base/errors.ts';
import type { FloatTensor, LlamaLayerWeights, LoadedModel, ModelConfig } from './model-spec.ts';
import { loadLlama2cTokenizer } from './llama2c-tokenizer.ts';

/** Size of the version-0 header: 7 int32. */
export const LLAMA2C_HEADER_BYTES = 28;
const HEADER_FIELDS = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'] as const;
/** "ak42": magic of llama2.c's newer (version 1/2) exports, which run.c cannot read either. */
const LLAMA2C_MAGIC = 0x616b3432;

/** The decoded header. `vocabSize` is positive; the sign is in `sharedClassifier`. */
export interface Llama2cHeader {
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly vocabSize: number;
  readonly seqLen: number;
  readonly sharedClassifier: boolean;
  /** The 7 int32 as stored (for messages). */
  readonly raw: readonly number[];
}

/** One float32 tensor in the file, in file order. */
interface TensorSlot {
  readonly name: string;
  readonly byteOffset: number;
  readonly count: number;
}

/** Decodes and checks the 28-byte header. */
export function parseLlama2cHeader(bytes: Uint8Array, source: string): Llama2cHeader {
  if (bytes.length < LLAMA2C_HEADER_BYTES) {
    throw new ValidationError(
      `${source}: file is ${bytes.length} bytes, shorter than the ${LLAMA2C_HEADER_BYTES}-byte llama2.c header ` +
        `(7 int32: ${HEADER_FIELDS.join(', ')})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, LLAMA2C_HEADER_BYTES);
  if (view.getUint32(0, true) === LLAMA2C_MAGIC) {
    throw new ValidationError(
      `${source}: starts with magic "ak42" (llama2.c export version ${view.getInt32(4, true)}); ` +
        `only the legacy version-0 format read by run.c is supported (export with --version 0)`,
    );
  }
  const v = HEADER_FIELDS.map((_, i) => view.getInt32(4 * i, true));
  HEADER_FIELDS.forEach((name, i) => {
    if (name === 'vocab_size' ? v[i] === 0 : v[i] <= 0) {
      const want = name === 'vocab_size' ? 'a non-zero integer (negative = unshared classifier)' : 'a positive integer';
      throw new ValidationError(`${source}: header field ${name} (byte offset ${4 * i}) is ${v[i]}; expected ${want}`);
    }
  });
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = v;
  const bad = (what: string) => new ValidationError(`${source}: inconsistent header (${formatHeader(v)}): ${what}`);
  if (dim % nHeads !== 0) throw bad(`dim ${dim} is not a multiple of n_heads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw bad(`n_heads ${nHeads} is not a multiple of n_kv_heads ${nKvHeads}`);
  if ((dim / nHeads) % 2 !== 0) throw bad(`head_size ${dim / nHeads} is odd; RoPE needs an even head size`);
  const sharedClassifier = vocab > 0;
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), seqLen, sharedClassifier, raw: v };
}

/** The tensors run.c reads, in order, with their byte offsets. */
export function llama2cLayout(h: Llama2cHeader): TensorSlot[] {
  const headSize = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * headSize;
  const L = h.nLayers;
  const counts: [string, number][] = [
    ['token_embedding_table', h.vocabSize * h.dim],
    ['rms_att_weight', L * h.dim],
    ['wq', L * h.dim * h.dim],
    ['wk', L * kvDim * h.dim],
    ['wv', L * kvDim * h.dim],
    ['wo', L * h.dim * h.dim],
    ['rms_ffn_weight', L * h.dim],
    ['w1', L * h.hiddenDim * h.dim],
    ['w2', L * h.dim * h.hiddenDim],
    ['w3', L * h.hiddenDim * h.dim],
    ['rms_final_weight', h.dim],
    ['freq_cis_real', (h.seqLen * headSize) / 2],
    ['freq_cis_imag', (h.seqLen * headSize) / 2],
  ];
  if (!h.sharedClassifier) counts.push(['wcls', h.vocabSize * h.dim]);
  let byteOffset = LLAMA2C_HEADER_BYTES;
  return counts.map(([name, count]) => {
    const slot = { name, byteOffset, count };
    byteOffset += 4 * count;
    return slot;
  });
}

/** Exact file size the header implies. */
export function llama2cExpectedBytes(h: Llama2cHeader): number {
  const last = llama2cLayout(h).at(-1)!;
  return last.byteOffset + 4 * last.count;
}

/** Parses a whole version-0 checkpoint held in memory. Pure: no I/O, no tokenizer. */
export function parseLlama2c(bytes: Uint8Array, source: string): LoadedModel {
  const h = parseLlama2cHeader(bytes, source);
  const layout = llama2cLayout(h);
  checkFileSize(bytes.length, h, layout, source);
  const payload = alignedFloats(bytes);
  const slots = new Map(layout.map((s) => [s.name, s]));
  const take = (name: string) => readTensor(payload, slots.get(name)!, source);
  const { dim, hiddenDim: hidden, nLayers, vocabSize: vocab } = h;
  const kvDim = (h.nKvHeads * dim) / h.nHeads;
  const names = 'rms_att_weight wq wk wv wo rms_ffn_weight w1 w2 w3'.split(' ');
  const [rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3] = names.map(take);
  const layers: LlamaLayerWeights[] = [];
  for (let l = 0; l < nLayers; l++) {
    layers.push({
      attnNorm: vector(rmsAtt, l * dim, dim),
      wq: transposed(wq, l * dim * dim, dim, dim), // run.c (dim, dim) → (dim, dim)
      wk: transposed(wk, l * kvDim * dim, kvDim, dim), // (kv_dim, dim) → (dim, kv_dim)
      wv: transposed(wv, l * kvDim * dim, kvDim, dim), // (kv_dim, dim) → (dim, kv_dim)
      wo: transposed(wo, l * dim * dim, dim, dim), // (dim, dim) → (dim, dim)
      ffnNorm: vector(rmsFfn, l * dim, dim),
      w1: transposed(w1, l * hidden * dim, hidden, dim), // (hidden, dim) → (dim, hidden)
      w2: transposed(w2, l * dim * hidden, dim, hidden), // (dim, hidden) → (hidden, dim)
      w3: transposed(w3, l * hidden * dim, hidden, dim), // (hidden, dim) → (dim, hidden)
    });
  }
  const embedding = take('token_embedding_table');
  const tokenEmbedding = { shape: [vocab, dim], data: embedding.slice() };
  return {
    config: llama2cConfig(h),
    weights: {
      arch: 'llama',
      tokenEmbedding,
      layers,
      finalNorm: vector(take('rms_final_weight'), 0, dim),
      outputEmbedding: h.sharedClassifier ? tokenEmbedding : { shape: [vocab, dim], data: take('wcls').slice() },
    },
    tokenizer: undefined,
    source,
  };
}

/** The spec config of a llama2.c model: run.c's fixed RoPE base, RMSNorm eps and special ids. */
export function llama2cConfig(h: Llama2cHeader): ModelConfig {
  const { dim, nLayers, nHeads, nKvHeads, hiddenDim, vocabSize, seqLen: maxSeqLen } = h;
  const fixed = { normEps: 1e-5, ropeTheta: 10000, ropeStyle: 'interleaved', activation: 'silu' } as const;
  return {
    arch: 'llama',
    dim,
    nLayers,
    nHeads,
    nKvHeads,
    headDim: dim / nHeads,
    hiddenDim,
    vocabSize,
    maxSeqLen,
    ...fixed,
    tiedEmbeddings: h.sharedClassifier,
    bosId: 1,
    eosId: 2,
  };
}

/**
 * Reads a checkpoint from disk; with `tokenizerPath`, also its llama2.c `tokenizer.bin`
 * (which must have exactly `vocab_size` entries). Without it, `tokenizer` is undefined.
 */
export function loadLlama2c(path: string, tokenizerPath?: string): LoadedModel {
  const model = parseLlama2c(readBytes(path), path);
  if (tokenizerPath === undefined) return model;
  return { ...model, tokenizer: loadLlama2cTokenizer(tokenizerPath, model.config.vocabSize) };
}

/** Reads a file, turning I/O failures into a ValidationError that names the path. */
export function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ValidationError(`${path}: cannot read file (${code}); expected a readable llama2.c file`);
  }
}

function checkFileSize(actual: number, h: Llama2cHeader, layout: TensorSlot[], source: string): void {
  const expected = llama2cExpectedBytes(h);
  if (!Number.isSafeInteger(expected)) {
    throw new ValidationError(`${source}: header (${formatHeader(h.raw)}) implies over 2^53 bytes; the file is ${actual} bytes`);
  }
  if (actual === expected) return;
  const intro = `${source}: file is ${actual} bytes but its header (${formatHeader(h.raw)}) implies ${expected} bytes`;
  if (actual > expected) {
    throw new ValidationError(`${intro}: ${actual - expected} unexpected trailing bytes from byte offset ${expected}`);
  }
  const cut = layout.find((s) => actual < s.byteOffset + 4 * s.count)!;
  throw new ValidationError(
    `${intro}: truncated by ${expected - actual} bytes; data ends inside tensor ${cut.name} ` +
      `(byte offsets ${cut.byteOffset}..${cut.byteOffset + 4 * cut.count})`,
  );
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The float32 values of one file tensor (a view), checked finite. */
function readTensor(payload: Float32Array, slot: TensorSlot, source: string): Float32Array {
  const start = (slot.byteOffset - LLAMA2C_HEADER_BYTES) / 4;
  const data = payload.subarray(start, start + slot.count);
  const bad = data.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    throw new ValidationError(
      `${source}: tensor ${slot.name} has a non-finite value ${data[bad]} at element ${bad} ` +
        `(byte offset ${slot.byteOffset + 4 * bad}); expected finite float32 weights`,
    );
  }
  return data;
}

/** The float32 payload after the header, as an aligned view (copied only if misaligned). */
function alignedFloats(bytes: Uint8Array): Float32Array {
  const start = bytes.byteOffset + LLAMA2C_HEADER_BYTES;
  const count = (bytes.length - LLAMA2C_HEADER_BYTES) / 4;
  if (!HOST_LITTLE_ENDIAN) {
    const view = new DataView(bytes.buffer, start, 4 * count);
    return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
  }
  if (start % 4 === 0) return new Float32Array(bytes.buffer, start, count);
  return new Float32Array(bytes.slice(LLAMA2C_HEADER_BYTES).buffer, 0, count);
}

/** A copied vector of `n` floats starting at `offset`. */
function vector(src: Float32Array, offset: number, n: number): FloatTensor {
  return { shape: [n], data: src.slice(offset, offset + n) };
}

/** Reads an `(out, in)` block at `offset` and returns it as `[in, out]`. */
function transposed(src: Float32Array, offset: number, out: number, inDim: number): FloatTensor {
  const data = new Float32Array(out * inDim);
  for (let o = 0; o < out; o++) {
    const row = offset + o * inDim;
    for (let i = 0; i < inDim; i++) data[i * out + o] = src[row + i];
  }
  return { shape: [inDim, out], data };
}

function formatHeader(v: readonly number[]): string {
  return HEADER_FIELDS.map((name, i) => `${name}=${v[i]}`).join(', ');
}
