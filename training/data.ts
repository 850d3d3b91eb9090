/**
 * The synthetic task of the default model: decimal addition written as text,
 *
 *     "a+b=c\n"      a, b ∈ [0, 99] (no leading zeros), c = a + b ∈ [0, 198]
 *
 * e.g. "27+58=85\n". The prompt is "a+b=" (party A may hold "a+" and party B "b="); the model
 * writes the digits of c, most significant first, then "\n" (the end token).
 *
 * Tokens are single bytes in the GPT-2 byte-level vocabulary (id of byte b = its index in
 * BYTE_LEVEL_ORDER), with no merges, so the project's GPT-2 BPE loader encodes every character
 * as one token. Vocabulary: exactly the 256 byte tokens.
 */
import { BYTE_LEVEL_ORDER } from '../src/formats/gpt2-bpe.ts';
import type { TrainingPrng } from './prng.ts';

export const MAX_OPERAND = 99;
export const VOCAB_SIZE = 256;

const ID_OF_BYTE: readonly number[] = (() => {
  const ids = new Array<number>(256);
  BYTE_LEVEL_ORDER.forEach((b, id) => (ids[b] = id));
  return ids;
})();

/** Token id of a one-byte character. */
export function tokenId(ch: string): number {
  const b = ch.charCodeAt(0);
  if (ch.length !== 1 || b > 0xff) throw new RangeError(`not a one-byte character: ${JSON.stringify(ch)}`);
  return ID_OF_BYTE[b];
}

/** Token ids of an ASCII string (one per character). */
export function encodeAscii(text: string): number[] {
  return Array.from(text, tokenId);
}

/** Inverse of encodeAscii for ids below 256. */
export function decodeAscii(ids: readonly number[]): string {
  return ids.map((id) => String.fromCharCode(BYTE_LEVEL_ORDER[id])).join('');
}

/** The end-of-answer token ("\n", GPT-2's 'Ċ', id 198). */
export const END_ID = tokenId('\n');

/** The prompt text "a+b=". */
export function promptText(a: number, b: number): string {
  return `${a}+${b}=`;
}

/** The answer text "c\n". */
export function answerText(a: number, b: number): string {
  return `${a + b}\n`;
}

/** One training sequence: the tokens of "a+b=c\n" and the length of its prompt "a+b=". */
export interface Example {
  readonly tokens: readonly number[];
  readonly promptLength: number;
}

export function example(a: number, b: number): Example {
  const prompt = promptText(a, b);
  return { tokens: encodeAscii(prompt + answerText(a, b)), promptLength: prompt.length };
}

/** Longest sequence "99+99=198\n" (10 tokens). */
export const MAX_SEQUENCE = example(MAX_OPERAND, MAX_OPERAND).tokens.length;

/** A uniformly random pair (a, b) ∈ [0, 99]². */
export function samplePair(rng: TrainingPrng): [number, number] {
  return [rng.int(MAX_OPERAND + 1), rng.int(MAX_OPERAND + 1)];
}

/**
 * Training batches: uniform pairs over the whole input space [0, 99]² (all 10,000 problems
 * can occur; evaluation is exhaustive over the same space, so it measures how exactly the model
 * has learnt the task, not generalisation to unseen operands).
 */
export function sampleBatch(rng: TrainingPrng, size: number): Example[] {
  return Array.from({ length: size }, () => {
    const [a, b] = samplePair(rng);
    return example(a, b);
  });
}

/**
 * The trainer's view of an example: inputs are all tokens but the last; the loss is on the
 * predictions of the answer tokens (positions promptLength − 1 .. end), never on the prompt.
 */
export function trainSequence(ex: Example): { tokens: readonly number[]; length: number; lossPositions: number[] } {
  const length = ex.tokens.length - 1;
  const lossPositions: number[] = [];
  for (let t = ex.promptLength - 1; t < length; t++) lossPositions.push(t);
  return { tokens: ex.tokens, length, lossPositions };
}
