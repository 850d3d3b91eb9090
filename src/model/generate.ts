/**
 * Autoregressive generation inside MPC, run by every party in lock-step:
 *   1. the prompt enters as secret one-hot rows from its owners (one input round for all parts)
 *      and is prefilled in one batched pass, filling the secret-shared KV cache;
 *   2. each step samples a token inside MPC and reveals only its id; the revealed token is fed
 *      back as a public id (local embedding lookup), attending to the cached keys/values — no
 *      recomputation of the prefix.
 */
import { ProtocolAbort, ValidationError } from '../base/errors.ts';
import { phase, type PartyContext } from '../protocols/context.ts';
import { input } from '../protocols/input.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { partyRandomness, sampleGreedy, sampleTopK, type Sampler } from './sampling.ts';
import type { SecureModel } from './secure-weights.ts';
import { emptyModelCache, forward } from './transformer.ts';

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
  /** Called with each revealed token as soon as it is known. */
  readonly onToken?: (id: number, index: number) => void;
  /** Stop after emitting one of these ids (e.g. EOS). */
  readonly stopIds?: readonly number[];
}

/** Secret one-hot rows [T, vocab] for prompt parts whose owners are parties, in order, in one input round. */
export async function promptFromOwners(ctx: PartyContext, parts: readonly PromptPart[], vocab: number): Promise<SecretTensor> {
  const rows = await input(
    ctx,
    parts.map((p, i) => {
      if (p.owner === ctx.id) {
        if (!p.ids || p.ids.length !== p.length) throw new ValidationError(`expected ${p.length} token ids`, `prompt.parts[${i}]`);
        const onehot = T.zeros(ctx.ring, [p.length, vocab]);
        p.ids.forEach((id, t) => {
          if (!Number.isInteger(id) || id < 0 || id >= vocab)
            throw new ValidationError(`token id ${id} is outside [0, ${vocab})`, `prompt.parts[${i}].ids[${t}]`);
          T.setElement(onehot, t * vocab + id, 1n);
        });
        return { owner: p.owner, shape: [p.length, vocab], value: onehot };
      }
      return { owner: p.owner, shape: [p.length, vocab] };
    }),
  );
  const total = parts.reduce((s, p) => s + p.length, 0);
  return L.reshapeS(L.concatS(rows), [total, vocab]);
}

/**
 * Generates up to maxNewTokens ids from a secret one-hot prompt [T, vocab]; every party returns
 * the same list.
 */
export async function secureGenerate(
  ctx: PartyContext,
  model: SecureModel,
  prompt: SecretTensor,
  opts: GenerateOptions,
): Promise<number[]> {
  const promptLength = prompt.shape[0];
  if (promptLength === 0) throw new ValidationError('the prompt is empty: expected at least one token', 'prompt');
  const limit = Math.min(opts.maxContext, model.config.maxSeqLen);
  if (promptLength + Math.max(0, opts.maxNewTokens - 1) > limit) {
    throw new ValidationError(
      `prompt (${promptLength} tokens) + ${opts.maxNewTokens} new tokens exceeds scheduler.max_context = ${limit}`,
      'scheduler.max_context',
    );
  }
  const cache = emptyModelCache(model);
  let logits = await forward(ctx, model, cache, { kind: 'secret', onehot: prompt }, limit);
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
