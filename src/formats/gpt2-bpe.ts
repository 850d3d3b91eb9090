/**
 * GPT-2 byte-level BPE (OpenAI `encoder.py`, Hugging Face `GPT2Tokenizer`), written from the
 * published algorithm with no dependency:
 *
 * 1. special tokens (e.g. `<|endoftext|>`) are cut out of the text wherever they occur;
 * 2. each remaining segment is split by the GPT-2 pre-tokenisation regex;
 * 3. each piece is UTF-8 encoded and every byte mapped to a printable character
 *    (`bytes_to_unicode`, so a space becomes `Ġ`);
 * 4. adjacent symbols are merged greedily, lowest merge rank first, until no ranked pair is left;
 * 5. each final symbol is looked up in the vocabulary.
 *
 * Decoding maps the characters back to bytes and UTF-8 decodes them (invalid sequences become
 * U+FFFD, as in Hugging Face's `errors="replace"`). The BPE core {@link ByteLevelBpe} is shared
 * with the `tokenizer.json` reader. No BOS token is added: callers prepend `config.bosId`.
 */
import { readFileSync } from 'node:fs';
import { ValidationError } from '../base/errors.ts';
import { describe } from '../base/validate.ts';
import type { Tokenizer } from './model-spec.ts';

/** The GPT-2 pre-tokenisation regex (JS `\s` differs from Python's in a few control characters). */
export const GPT2_PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** The end-of-text special token of GPT-2. */
export const ENDOFTEXT = '<|endoftext|>';

/**
 * Bytes in `bytes_to_unicode` order: the printable ranges first, then the rest. GPT-2's vocab
 * gives byte token i the id i in this order.
 */
export const BYTE_LEVEL_ORDER: readonly number[] = (() => {
  const bs: number[] = [];
  for (const [lo, hi] of [
    [0x21, 0x7e],
    [0xa1, 0xac],
    [0xae, 0xff],
  ])
    for (let b = lo; b <= hi; b++) bs.push(b);
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) bs.push(b);
  return bs;
})();

/** `bytes_to_unicode`: byte → its printable stand-in character. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const out = new Array<string>(256);
  let extra = 0;
  for (const b of BYTE_LEVEL_ORDER) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return out;
})();

const UNICODE_TO_BYTE = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));
const PAIR_SEP = '\u0000'; // never produced by bytes_to_unicode
const CACHE_LIMIT = 50_000;

export interface ByteLevelBpeOptions {
  /** Tokens recognised verbatim anywhere in the text; each must be in the vocabulary. */
  readonly specialTokens?: readonly string[];
  /** Prepend a space to every segment that does not start with one (tokenizer.json `add_prefix_space`). */
  readonly addPrefixSpace?: boolean;
  /** A piece that is itself in the vocabulary is emitted as one token (tokenizer.json `ignore_merges`). */
  readonly ignoreMerges?: boolean;
  /** Applied to the whole text before anything else (tokenizer.json `normalizer`). */
  readonly normalize?: (text: string) => string;
}

/** Byte-level BPE tokenizer over a token → id vocabulary and ranked merges. */
export class ByteLevelBpe implements Tokenizer {
  /** Largest id + 1. */
  readonly vocabSize: number;
  private readonly encoder: ReadonlyMap<string, number>;
  private readonly decoder = new Map<number, string>();
  private readonly ranks = new Map<string, number>();
  private readonly specials = new Map<string, number>();
  private readonly specialIds = new Set<number>();
  private readonly specialRe: RegExp | undefined;
  private readonly cache = new Map<string, number[]>();
  private readonly textEncoder = new TextEncoder();

  constructor(
    vocab: ReadonlyMap<string, number>,
    merges: readonly (readonly [string, string])[],
    source: string,
    private readonly opts: ByteLevelBpeOptions = {},
  ) {
    this.encoder = vocab;
    let maxId = -1;
    for (const [token, id] of vocab) {
      const other = this.decoder.get(id);
      if (other !== undefined) {
        throw new ValidationError(
          `${source}: tokens ${JSON.stringify(other)} and ${JSON.stringify(token)} both have id ${id}: expected unique ids`,
        );
      }
      this.decoder.set(id, token);
      maxId = Math.max(maxId, id);
    }
    this.vocabSize = maxId + 1;
    for (let b = 0; b < 256; b++) {
      if (!vocab.has(BYTE_TO_UNICODE[b])) {
        throw new ValidationError(
          `${source}: vocabulary lacks the byte token ${JSON.stringify(BYTE_TO_UNICODE[b])} (byte 0x${b.toString(16).padStart(2, '0')}): expected all 256 byte-level tokens`,
        );
      }
    }
    merges.forEach(([a, b], rank) => {
      for (const part of [a, b, a + b]) {
        if (!vocab.has(part)) {
          throw new ValidationError(
            `${source}: merge #${rank} ${JSON.stringify(`${a} ${b}`)}: token ${JSON.stringify(part)} is not in the vocabulary`,
          );
        }
      }
      const key = a + PAIR_SEP + b;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
    for (const token of opts.specialTokens ?? []) {
      const id = vocab.get(token);
      if (id === undefined) throw new ValidationError(`${source}: special token ${JSON.stringify(token)} is not in the vocabulary`);
      this.specials.set(token, id);
      this.specialIds.add(id);
    }
    if (this.specials.size > 0) {
      const alts = [...this.specials.keys()].sort((x, y) => y.length - x.length).map(escapeRegExp);
      this.specialRe = new RegExp(alts.join('|'), 'gu');
    }
  }

  encode(text: string): number[] {
    if (this.opts.normalize) text = this.opts.normalize(text);
    const ids: number[] = [];
    if (this.specialRe === undefined) {
      this.encodeOrdinary(text, ids);
      return ids;
    }
    let last = 0;
    for (const m of text.matchAll(this.specialRe)) {
      this.encodeOrdinary(text.slice(last, m.index), ids);
      ids.push(this.specials.get(m[0])!);
      last = m.index! + m[0].length;
    }
    this.encodeOrdinary(text.slice(last), ids);
    return ids;
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    ids.forEach((id, position) => {
      const token = Number.isSafeInteger(id) ? this.decoder.get(id) : undefined;
      if (token === undefined) {
        throw new ValidationError(
          `token id ${typeof id === 'number' ? id : describe(id)} at position ${position} is not in the vocabulary (ids 0..${this.vocabSize - 1})`,
        );
      }
      if (this.specialIds.has(id)) {
        bytes.push(...this.textEncoder.encode(token));
        return;
      }
      for (const ch of token) {
        const b = UNICODE_TO_BYTE.get(ch);
        if (b !== undefined) bytes.push(b);
        else bytes.push(...this.textEncoder.encode(ch)); // a non-byte-level added token
      }
    });
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }

  /** The token strings (byte-level form) for a list of ids, for debugging and tests. */
  tokens(ids: readonly number[]): string[] {
    return ids.map((id) => this.decoder.get(id) ?? `<unk ${id}>`);
  }

  private encodeOrdinary(text: string, ids: number[]): void {
    if (text.length === 0) return;
    if (this.opts.addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    for (const m of text.matchAll(GPT2_PRETOKENIZE)) {
      let word = '';
      for (const b of this.textEncoder.encode(m[0])) word += BYTE_TO_UNICODE[b];
      for (const id of this.bpe(word)) ids.push(id);
    }
  }

  /** Merges one byte-level word; results are cached. */
  private bpe(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const whole = this.opts.ignoreMerges ? this.encoder.get(word) : undefined;
    let parts = Array.from(word);
    while (whole === undefined && parts.length > 1) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = this.ranks.get(parts[i] + PAIR_SEP + parts[i + 1]);
        if (rank !== undefined && rank < best) [best, at] = [rank, i];
      }
      if (at < 0) break;
      const [a, b] = [parts[at], parts[at + 1]];
      const merged: string[] = [];
      for (let i = 0; i < parts.length;) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
          merged.push(a + b);
          i += 2;
        } else merged.push(parts[i++]);
      }
      parts = merged;
    }
    // Every byte symbol and every merge result was checked to be in the vocabulary.
    const out = whole !== undefined ? [whole] : parts.map((p) => this.encoder.get(p)!);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, out);
    return out;
  }
}

/** Parses `vocab.json` (token → id). */
export function parseVocabJson(text: string, source: string): Map<string, number> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  return vocabFromObject(raw, source);
}

/** Validates a token → id object (vocab.json, tokenizer.json `model.vocab`). */
export function vocabFromObject(raw: unknown, source: string): Map<string, number> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ValidationError(`${source}: expected a JSON object mapping tokens to ids, got ${describe(raw)}`);
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(raw)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) {
      throw new ValidationError(`${source}: token ${JSON.stringify(token)} has id ${describe(id)}, expected a non-negative integer`);
    }
    vocab.set(token, id as number);
  }
  return vocab;
}

/** Parses `merges.txt`: an optional `#version` line, then one `a b` pair per line. */
export function parseMergesTxt(text: string, source: string): [string, string][] {
  const merges: [string, string][] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new ValidationError(`${source}: line ${i + 1}: expected two space-separated tokens, got ${describe(line)}`);
    }
    merges.push([parts[0], parts[1]]);
  });
  return merges;
}

/** Loads the GPT-2 tokenizer from a `vocab.json` and a `merges.txt` file. */
export function loadGpt2Tokenizer(vocabPath: string, mergesPath: string): ByteLevelBpe {
  const vocab = parseVocabJson(readText(vocabPath), vocabPath);
  const merges = parseMergesTxt(readText(mergesPath), mergesPath);
  return new ByteLevelBpe(vocab, merges, `${vocabPath} + ${mergesPath}`, {
    specialTokens: vocab.has(ENDOFTEXT) ? [ENDOFTEXT] : [],
  });
}

/** Reads a UTF-8 text file, turning I/O failures into a ValidationError naming the path. */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ValidationError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
