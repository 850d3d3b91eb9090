/**
 * llama2.c `tokenizer.bin` reader and the BPE encode/decode of `run.c`.
 *
 * File layout (little-endian): int32 max_token_length, then per token id 0..vocab-1:
 * float32 score, int32 len, len bytes (UTF-8; sentencepiece's '▁' already replaced by ' ').
 * The file does not store the vocabulary size; run.c takes it from the model header.
 *
 * Pieces are handled as raw bytes throughout (a piece may be part of a UTF-8 character);
 * internally a byte string is keyed as a latin1 JS string, so concatenating keys
 * concatenates bytes.
 */
import { readFileSync } from 'node:fs';
import { ValidationError } from '../base/errors.ts';
import type { Tokenizer } from './model-spec.ts';

/** llama2.c's fixed special ids: `<unk>` 0, `<s>` 1, `</s>` 2. */
export const LLAMA2C_BOS = 1;
export const LLAMA2C_EOS = 2;

export interface EncodeOptions {
  /** Prepend BOS (id 1) before merging, as run.c's `encode(.., bos=1, ..)`. Default false. */
  readonly bos?: boolean;
  /** Append EOS (id 2) after merging. Default false. */
  readonly eos?: boolean;
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/** A llama2.c tokenizer: pieces (bytes) with merge scores. */
export class Llama2cTokenizer implements Tokenizer {
  readonly vocabSize: number;
  /** Piece bytes of each id, as latin1 strings. */
  private readonly keys: readonly string[];
  private readonly scores: Float32Array;
  /** Piece bytes → lowest id having them. */
  private readonly ids = new Map<string, number>();
  /** Id of the `<0xXX>` piece per byte, or -1. */
  private readonly byteIds = new Int32Array(256).fill(-1);

  constructor(
    pieces: readonly Uint8Array[],
    scores: Float32Array,
    readonly maxTokenLength: number,
  ) {
    this.vocabSize = pieces.length;
    this.keys = pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.length).toString('latin1'));
    this.scores = scores;
    this.keys.forEach((key, id) => {
      if (!this.ids.has(key)) this.ids.set(key, id);
      const m = BYTE_PIECE.exec(key);
      if (m && this.byteIds[parseInt(m[1], 16)] < 0) this.byteIds[parseInt(m[1], 16)] = id;
    });
  }

  /** The raw bytes of a piece. */
  piece(id: number): Uint8Array {
    return Buffer.from(this.keys[this.checkId(id, 'id')], 'latin1');
  }

  /** The merge score of a piece. */
  score(id: number): number {
    return this.scores[this.checkId(id, 'id')];
  }

  /**
   * run.c's `encode`: dummy-prefix ' ' (for non-empty text), one token per UTF-8 character
   * (byte fallback `<0xXX>` per byte when the character is not a piece), then repeatedly
   * merge the adjacent pair whose concatenation is a piece with the best score (leftmost on
   * ties) until no pair merges. BOS, when requested, takes part in the merging like in run.c.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const bytes = new TextEncoder().encode(text.length > 0 ? ' ' + text : text);
    const tokens: number[] = options.bos ? [LLAMA2C_BOS] : [];
    for (let i = 0; i < bytes.length;) {
      let j = i + 1; // a character: its first byte plus at most 3 continuation bytes (run.c)
      while (j < bytes.length && (bytes[j] & 0xc0) === 0x80 && j - i < 4) j++;
      const id = this.ids.get(latin1(bytes.subarray(i, j)));
      if (id !== undefined) tokens.push(id);
      else for (let b = i; b < j; b++) tokens.push(this.byteId(bytes[b], b - 1));
      i = j;
    }
    mergePairs(tokens, this.keys, this.ids, this.scores);
    if (options.eos) tokens.push(LLAMA2C_EOS);
    return tokens;
  }

  /**
   * run.c's `decode` for one step: the bytes `token` prints after `prev`. After BOS a leading
   * ' ' is stripped; a `<0xXX>` piece is the raw byte XX.
   */
  decodePiece(prev: number | undefined, token: number): Uint8Array {
    let key = this.keys[this.checkId(token, 'token')];
    if (prev === LLAMA2C_BOS && key.startsWith(' ')) key = key.slice(1);
    const m = BYTE_PIECE.exec(key);
    return m ? Uint8Array.of(parseInt(m[1], 16)) : Buffer.from(key, 'latin1');
  }

  /**
   * Concatenates `decodePiece` over `ids` and decodes the bytes as UTF-8 (so characters split
   * across byte pieces reassemble). BOS/EOS print nothing; the first token is decoded as if it
   * followed BOS, so `decode(encode(s)) === s` for text the vocabulary covers.
   */
  decode(ids: readonly number[]): string {
    const parts: Uint8Array[] = [];
    ids.forEach((id, i) => {
      if (id === LLAMA2C_BOS || id === LLAMA2C_EOS) return;
      parts.push(this.decodePiece(i === 0 ? LLAMA2C_BOS : ids[i - 1], id));
    });
    return new TextDecoder().decode(Buffer.concat(parts));
  }

  private byteId(byte: number, textOffset: number): number {
    const id = this.byteIds[byte];
    if (id >= 0) return id;
    const hex = byte.toString(16).toUpperCase().padStart(2, '0');
    const where = textOffset < 0 ? "the dummy-prefix ' '" : `UTF-8 offset ${textOffset} of the text`;
    throw new ValidationError(
      `cannot encode byte 0x${hex} at ${where}: neither its character nor the byte piece <0x${hex}> is in the vocabulary`,
    );
  }

  private checkId(id: number, what: string): number {
    if (Number.isInteger(id) && id >= 0 && id < this.vocabSize) return id;
    throw new ValidationError(`${what} ${id} is out of range; expected an integer in [0, ${this.vocabSize - 1}]`);
  }
}

/** In place: merge the best-scoring adjacent pair until none is a piece (run.c's loop). */
function mergePairs(tokens: number[], keys: readonly string[], ids: Map<string, number>, scores: Float32Array): void {
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = ids.get(keys[tokens[i]] + keys[tokens[i + 1]]);
      if (id !== undefined && scores[id] > bestScore) [bestScore, bestId, bestIdx] = [scores[id], id, i];
    }
    if (bestIdx < 0) return;
    tokens.splice(bestIdx, 2, bestId);
  }
}

/**
 * Parses a `tokenizer.bin`. With `vocabSize`, exactly that many entries must fill the file;
 * without it, entries are read until the end of the file.
 */
export function parseLlama2cTokenizer(bytes: Uint8Array, source: string, vocabSize?: number): Llama2cTokenizer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const fail = (what: string) => new ValidationError(`${source}: ${what}`);
  if (bytes.length < 4) throw fail(`file is ${bytes.length} bytes; expected at least the 4-byte max_token_length`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) {
    throw fail(`max_token_length (byte offset 0) is ${maxTokenLength}; expected a positive integer`);
  }
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let off = 4;
  while (vocabSize === undefined ? off < bytes.length : pieces.length < vocabSize) {
    const i = pieces.length;
    if (off + 8 > bytes.length) {
      throw fail(
        `truncated at byte offset ${off} in token ${i}: expected a float32 score and int32 length` +
          (vocabSize === undefined ? '' : ` (${vocabSize} tokens expected, file is ${bytes.length} bytes)`),
      );
    }
    const score = view.getFloat32(off, true);
    const len = view.getInt32(off + 4, true);
    if (!Number.isFinite(score)) throw fail(`token ${i} has a non-finite score ${score} at byte offset ${off}`);
    if (len < 0 || len > maxTokenLength) {
      throw fail(`token ${i} has length ${len} at byte offset ${off + 4}; expected 0..${maxTokenLength} (max_token_length)`);
    }
    if (off + 8 + len > bytes.length) {
      throw fail(`token ${i} needs ${len} bytes at byte offset ${off + 8} but the file ends at ${bytes.length}`);
    }
    pieces.push(bytes.slice(off + 8, off + 8 + len));
    scores.push(score);
    off += 8 + len;
  }
  if (pieces.length === 0) throw fail('contains no tokens');
  if (off !== bytes.length) {
    throw fail(`${bytes.length - off} unexpected trailing bytes from byte offset ${off} after ${vocabSize} tokens`);
  }
  return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxTokenLength);
}

/** Reads a `tokenizer.bin` from disk (see {@link parseLlama2cTokenizer}). */
export function loadLlama2cTokenizer(path: string, vocabSize?: number): Llama2cTokenizer {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ValidationError(`${path}: cannot read tokenizer file (${code}); expected a llama2.c tokenizer.bin`);
  }
  return parseLlama2cTokenizer(bytes, path, vocabSize);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}
