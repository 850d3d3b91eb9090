/**
 * Autoregressive generation inside MPC, run by every party in lock-step:
 *   1. the prompt enters as secret one-hot rows and is prefilled in blocks of at most
 *      `prefillChunk` rows (scheduler.prefill_chunk), fewer as the context grows so that a pass
 *      scores at most scheduler.prefill_max_scores pairs per head ({@link prefillRows}): each
 *      block's rows are input (one round for all parts it spans) and fed through every layer,
 *      attending to the blocks before it through the secret-shared KV cache, so the prefill's
 *      memory grows with the block, not the prompt (the one-hot rows of a whole 1,024-token
 *      prompt would be 0.4 GB per share); the block sizes are public;
 *   2. each step samples a token inside MPC and reveals only its id; the revealed token is fed
 *      back as a public id (local embedding lookup), attending to the cached keys/values — no
 *      recomputation of the prefix.
 */
import { ProtocolAbort, ValidationError } from '../base/errors.ts';
import { DEFAULT_CONFIG } from '../config/config.ts';
import { phase, type PartyContext } from '../protocols/context.ts';
import { indexBits, oneHotFromIndexShares } from '../protocols/index-one-hot.ts';
import { input } from '../protocols/input.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { partyRandomness, sampleGreedy, sampleTopK, type Sampler } from './sampling.ts';
import type { SecureModel } from './secure-weights.ts';
import { emptyModelCache, feed, forward, lastLogits } from './transformer.ts';

/** One party's part of the joint prompt; `ids` is known to its owner only. */
export interface PromptPart {
  readonly owner: number;
  readonly length: number;
  readonly ids?: readonly number[];
}

export interface GenerateOptions {
  readonly maxNewTokens: number;
  readonly sampler: Sampler;
  /** scheduler.max_context: prompt + generated tokens. */
  readonly maxContext: number;
  /** scheduler.prefill_chunk: most prompt rows fed per pass (default: the config's). */
  readonly prefillChunk?: number;
  /** scheduler.prefill_max_scores: most attention scores per head in one pass (default: the config's). */
  readonly prefillMaxScores?: number;
  /** Called with each revealed token as soon as it is known. */
  readonly onToken?: (id: number, index: number) => void;
  /** Stop after emitting one of these ids (e.g. EOS). */
  readonly stopIds?: readonly number[];
}

/** The prompt's secret one-hot rows [length, vocab], produced a block of rows at a time. */
export interface PromptRows {
  readonly length: number;
  /** Rows [start, start + count) as a secret [count, vocab] tensor; called with consecutive ranges. */
  rows(start: number, count: number): Promise<SecretTensor>;
}

/** Where rows [start, start + count) of a prompt made of parts of `lengths` rows fall: part, rows [from, to) within it, and the row in the block. */
function blockPieces(lengths: readonly number[], start: number, count: number): { part: number; from: number; to: number; at: number }[] {
  const pieces: { part: number; from: number; to: number; at: number }[] = [];
  let offset = 0;
  lengths.forEach((length, part) => {
    const from = Math.max(start, offset);
    const to = Math.min(start + count, offset + length);
    if (from < to) pieces.push({ part, from: from - offset, to: to - offset, at: from - start });
    offset += length;
  });
  return pieces;
}

/**
 * Prompt parts whose owners are parties, in order: each block of rows is input from the owners of
 * the parts it spans in one input round. Owners' ids are checked here, before any round.
 */
export function promptFromOwners(ctx: PartyContext, parts: readonly PromptPart[], vocab: number): PromptRows {
  parts.forEach((p, i) => {
    if (!Number.isInteger(p.length) || p.length < 0)
      throw new ValidationError(`expected a token count >= 0, got ${p.length}`, `prompt.parts[${i}].length`);
    if (p.owner === ctx.id) {
      if (!p.ids || p.ids.length !== p.length) throw new ValidationError(`expected ${p.length} token ids`, `prompt.parts[${i}]`);
      p.ids.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab)
          throw new ValidationError(`token id ${id} is outside [0, ${vocab})`, `prompt.parts[${i}].ids[${t}]`);
      });
    }
  });
  const lengths = parts.map((p) => p.length);
  return {
    length: lengths.reduce((a, b) => a + b, 0),
    rows: async (start, count) => {
      const pieces = blockPieces(lengths, start, count).map(({ part, from, to }) => {
        const { owner, ids } = parts[part];
        const shape = [to - from, vocab];
        if (owner !== ctx.id) return { owner, shape };
        const onehot = T.zeros(ctx.ring, shape);
        for (let t = from; t < to; t++) T.setElement(onehot, (t - from) * vocab + (ids as readonly number[])[t], 1n);
        return { owner, shape, value: onehot };
      });
      return L.reshapeS(L.concatS(await input(ctx, pieces)), [count, vocab]);
    },
  };
}

/**
 * Prompt parts this party holds additive shares of (the clients' token ids in Z_(2^b), b =
 * ⌈log2 vocab⌉, in order; services/prompt-shares.ts): each block of rows becomes secret one-hot
 * rows [count, vocab] from the dealer's rotated one-hot rows (protocols/index-one-hot.ts, one
 * round, 4 bytes per row and peer), so a node holds 4 bytes per prompt token, not a one-hot share.
 */
export function promptFromShares(ctx: PartyContext, shares: readonly Uint32Array[], vocab: number): PromptRows {
  const size = 2 ** indexBits(vocab);
  shares.forEach((p, i) => {
    const t = p.findIndex((v) => v >= size);
    if (t >= 0)
      throw new ValidationError(`expected token-id shares below 2^${indexBits(vocab)}, got ${p[t]} at ${t}`, `prompt.parts[${i}]`);
  });
  const lengths = shares.map((p) => p.length);
  return {
    length: lengths.reduce((a, b) => a + b, 0),
    rows: async (start, count) => {
      const block = new Uint32Array(count);
      for (const { part, from, to, at } of blockPieces(lengths, start, count)) block.set(shares[part].subarray(from, to), at);
      return oneHotFromIndexShares(ctx, block, vocab);
    },
  };
}

/**
 * Rows of the prefill pass that starts at position `start` with `remaining` prompt rows left:
 * at most `chunk`, and at most the largest r with r·(start + r) ≤ maxScores (each head of the
 * pass scores r rows against start + r positions), but at least 1. Public: it depends only on
 * the prompt length and the configuration. Measured on GPT-2-small at context 1,018 (prefill
 * time, peak RSS of parties A / B): passes of 64 rows 757 s, 4,782 / 4,251 MiB; of 16 rows
 * 739 s, 4,084 / 3,683 MiB; this rule with the default bound (64 rows shrinking to 16) 734 s,
 * 4,351 / 3,917 MiB. At context 256 the default keeps 64 rows per pass.
 */
export function prefillRows(start: number, remaining: number, chunk: number, maxScores: number): number {
  let fit = Math.floor((Math.sqrt(start * start + 4 * maxScores) - start) / 2);
  // The float root can be one off for large arguments: settle on the exact integer bound.
  while (fit > 0 && fit * (start + fit) > maxScores) fit--;
  while ((fit + 1) * (start + fit + 1) <= maxScores) fit++;
  return Math.max(1, Math.min(chunk, remaining, fit));
}

/**
 * Generates up to maxNewTokens ids from a secret one-hot prompt; every party returns the same
 * list.
 */
export async function secureGenerate(ctx: PartyContext, model: SecureModel, prompt: PromptRows, opts: GenerateOptions): Promise<number[]> {
  const promptLength = prompt.length;
  const chunk = opts.prefillChunk ?? DEFAULT_CONFIG.scheduler.prefill_chunk;
  if (!Number.isInteger(chunk) || chunk < 1) throw new ValidationError(`expected an integer >= 1, got ${chunk}`, 'scheduler.prefill_chunk');
  if (promptLength === 0) throw new ValidationError('the prompt is empty: expected at least one token', 'prompt');
  const limit = Math.min(opts.maxContext, model.config.maxSeqLen);
  if (promptLength + Math.max(0, opts.maxNewTokens - 1) > limit) {
    throw new ValidationError(
      `prompt (${promptLength} tokens) + ${opts.maxNewTokens} new tokens exceeds scheduler.max_context = ${limit}`,
      'scheduler.max_context',
    );
  }
  const maxScores = opts.prefillMaxScores ?? DEFAULT_CONFIG.scheduler.prefill_max_scores;
  if (!Number.isInteger(maxScores) || maxScores < 1)
    throw new ValidationError(`expected an integer >= 1, got ${maxScores}`, 'scheduler.prefill_max_scores');
  const cache = emptyModelCache(model);
  let hidden: SecretTensor | undefined;
  for (let start = 0; start < promptLength;) {
    const count = prefillRows(start, promptLength - start, chunk, maxScores);
    hidden = await feed(ctx, model, cache, { kind: 'secret', onehot: await prompt.rows(start, count) }, limit);
    start += count;
  }
  let logits = await lastLogits(ctx, model, hidden as SecretTensor);
  const ids: number[] = [];
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const s = opts.sampler;
    const id = await phase(ctx, 'sampling', () =>
      s.kind === 'greedy' ? sampleGreedy(ctx, logits) : sampleTopK(ctx, logits, s.k, s.temperature, partyRandomness(s.seed, ctx.id, step)),
    );
    if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize) {
      // Only possible if a comparison bound or truncation failed: never emit a wrong token.
      throw new ProtocolAbort(`sampling revealed id ${id}, outside the vocabulary [0, ${model.config.vocabSize}); session aborted`);
    }
    ids.push(id);
    opts.onToken?.(id, step);
    if (opts.stopIds?.includes(id) || step + 1 === opts.maxNewTokens) break;
    logits = await forward(ctx, model, cache, { kind: 'public', ids: [id] }, limit);
  }
  return ids;
}
