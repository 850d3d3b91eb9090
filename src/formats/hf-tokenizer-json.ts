/**
 * Hugging Face `tokenizer.json` (the `tokenizers` library format), restricted to byte-level BPE:
 * `model.type` "BPE" with a `ByteLevel` pre-tokenizer (GPT-2 regex), as used by GPT-2, RoBERTa,
 * GPT-NeoX and friends. The vocabulary and merges live inside the JSON; encoding reuses the
 * {@link ByteLevelBpe} core. `added_tokens` are recognised verbatim anywhere in the text.
 *
 * Not supported (ValidationError): other model types (Unigram, WordPiece, WordLevel),
 * SentencePiece-style BPE (Metaspace pre-tokenizer, e.g. LLaMA 2), custom Split regexes
 * (e.g. LLaMA 3), BPE dropout, subword prefixes/suffixes, and normalizers other than Unicode NF*.
 * Post-processors (BOS templates) are ignored: callers prepend `config.bosId` themselves.
 */
import { ValidationError } from '../base/errors.ts';
import { describe } from '../base/validate.ts';
import { ByteLevelBpe, readText, vocabFromObject } from './gpt2-bpe.ts';

const SUPPORTED = 'supported: BPE with a ByteLevel pre-tokenizer';
const NORMALIZERS = ['NFC', 'NFD', 'NFKC', 'NFKD'] as const;

/** Builds the tokenizer from a parsed `tokenizer.json`. `source` names the file in messages. */
export function tokenizerFromJson(raw: unknown, source: string): ByteLevelBpe {
  if (!isRecord(raw)) throw new ValidationError(`${source}: expected a JSON object, got ${describe(raw)}`);
  const model = raw['model'];
  if (!isRecord(model)) throw new ValidationError(`${source}: missing "model" object`);
  const type = model['type'] ?? (model['merges'] !== undefined ? 'BPE' : undefined);
  if (type !== 'BPE') {
    throw new ValidationError(`${source}: unsupported tokenizer.json model type ${describe(type)} (${SUPPORTED})`);
  }
  const byteLevel = findByteLevel(raw['pre_tokenizer']);
  if (byteLevel === undefined || byteLevel['use_regex'] === false) {
    const pre = raw['pre_tokenizer'];
    const shown = isRecord(pre) ? describe(pre['type']) : describe(pre);
    throw new ValidationError(`${source}: unsupported tokenizer.json model type: BPE with pre_tokenizer ${shown} (${SUPPORTED})`);
  }
  if (typeof model['dropout'] === 'number' && model['dropout'] !== 0) {
    throw new ValidationError(`${source}: model.dropout ${model['dropout']} is not supported (expected null)`);
  }
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
    if (model[key] !== undefined && model[key] !== null && model[key] !== '') {
      throw new ValidationError(`${source}: model.${key} ${describe(model[key])} is not supported (expected null)`);
    }
  }
  const vocab = vocabFromObject(model['vocab'], `${source} (model.vocab)`);
  const merges = parseMerges(model['merges'], source);
  const specialTokens = addAddedTokens(raw['added_tokens'], vocab, source);
  return new ByteLevelBpe(vocab, merges, source, {
    specialTokens,
    addPrefixSpace: byteLevel['add_prefix_space'] === true,
    ignoreMerges: model['ignore_merges'] === true,
    normalize: normalizer(raw['normalizer'], source),
  });
}

/** Reads and parses a `tokenizer.json` file. */
export function loadTokenizerJson(path: string): ByteLevelBpe {
  let raw: unknown;
  try {
    raw = JSON.parse(readText(path));
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return tokenizerFromJson(raw, path);
}

/** The ByteLevel pre-tokenizer, alone or as the only member of a Sequence. */
function findByteLevel(pre: unknown): Record<string, unknown> | undefined {
  if (!isRecord(pre)) return undefined;
  if (pre['type'] === 'ByteLevel') return pre;
  const list = pre['pretokenizers'];
  if (pre['type'] === 'Sequence' && Array.isArray(list) && list.length === 1) return findByteLevel(list[0]);
  return undefined;
}

/** Merges as `"a b"` strings (classic) or `["a", "b"]` pairs (tokenizers ≥ 0.20). */
function parseMerges(raw: unknown, source: string): [string, string][] {
  if (!Array.isArray(raw)) throw new ValidationError(`${source}: model.merges must be an array, got ${describe(raw)}`);
  return raw.map((m, i) => {
    const pair = typeof m === 'string' ? m.split(' ') : m;
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((p) => typeof p === 'string' && p !== '')) {
      throw new ValidationError(`${source}: model.merges[${i}] is ${describe(m)}, expected "a b" or ["a", "b"]`);
    }
    return [pair[0], pair[1]] as [string, string];
  });
}

/** Adds `added_tokens` to the vocabulary (checking id consistency) and returns their contents. */
function addAddedTokens(raw: unknown, vocab: Map<string, number>, source: string): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ValidationError(`${source}: added_tokens must be an array, got ${describe(raw)}`);
  return raw.map((t, i) => {
    const where = `${source}: added_tokens[${i}]`;
    if (
      !isRecord(t) ||
      typeof t['content'] !== 'string' ||
      t['content'] === '' ||
      !Number.isSafeInteger(t['id']) ||
      (t['id'] as number) < 0
    ) {
      throw new ValidationError(`${where}: expected {id: non-negative integer, content: non-empty string}, got ${describe(t)}`);
    }
    const [content, id] = [t['content'] as string, t['id'] as number];
    const existing = vocab.get(content);
    if (existing !== undefined && existing !== id) {
      throw new ValidationError(`${where}: ${JSON.stringify(content)} has id ${id} but the vocabulary gives it id ${existing}`);
    }
    vocab.set(content, id);
    return content;
  });
}

function normalizer(raw: unknown, source: string): ((s: string) => string) | undefined {
  if (raw === undefined || raw === null) return undefined;
  const type = isRecord(raw) ? raw['type'] : raw;
  if (typeof type === 'string' && (NORMALIZERS as readonly string[]).includes(type)) return (s) => s.normalize(type);
  throw new ValidationError(`${source}: unsupported normalizer ${describe(type)} (supported: null, ${NORMALIZERS.join(', ')})`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
