/**
 * An in-process generation session for development (`generate --transport memory`): all parties
 * run in this process over in-memory channels, with the InsecureLocalDealer. It exercises the
 * exact protocol code of a distributed run but offers no separation between the parties.
 * Party 0 owns the model weights and the prompt.
 */
import type { LoadedModel } from '../formats/model-spec.ts';
import { foldWeights } from '../model/fold-weights.ts';
import { promptFromOwners, secureGenerate } from '../model/generate.ts';
import type { Sampler } from '../model/sampling.ts';
import { loadSecureModel } from '../model/secure-weights.ts';
import { createMemoryNetwork } from '../net/memory-channel.ts';
import { InsecureLocalDealer, type SecurityMode } from '../preprocessing/insecure-local-dealer.ts';
import { createPartyContext, type PartyContext } from '../protocols/context.ts';

export interface SessionOptions {
  readonly parties: number;
  readonly mode: SecurityMode;
  readonly scaleBits: number;
  /** cheby.deg (undefined: the approx default). */
  readonly chebyDeg?: number;
  readonly maxContext: number;
  /** scheduler.prefill_chunk (undefined: generate.ts's default). */
  readonly prefillChunk?: number;
  /** scheduler.prefill_max_scores (undefined: generate.ts's default). */
  readonly prefillMaxScores?: number;
  readonly maxNewTokens: number;
  readonly sampler: Sampler;
  readonly stopIds?: readonly number[];
  readonly onToken?: (id: number, index: number) => void;
}

export interface SessionStats {
  /** Mean wall time per generated token after the first (decode steps incl. sampling). */
  readonly ms_per_token: number;
  /** Mean bytes party 0 sent per decode step. */
  readonly bytes_per_token_per_party: number;
  readonly rounds_per_token: number;
  /** Loading weights into MPC + prefill of the prompt + the first token. */
  readonly prefill_ms: number;
  readonly setup_ms: number;
  readonly tokens: number;
  readonly parties: number;
  readonly security: SecurityMode;
  /** Bytes party 0 received from the dealer over the whole session. */
  readonly preprocessing_bytes_per_party: number;
}

export async function runMemorySession(
  model: LoadedModel,
  promptIds: readonly number[],
  o: SessionOptions,
): Promise<{ ids: number[]; stats: SessionStats }> {
  const dealer = new InsecureLocalDealer(o.parties, o.mode);
  const channels = createMemoryNetwork(o.parties);
  const t0 = performance.now();
  const contexts = await Promise.all(
    channels.map((channel, id) =>
      createPartyContext({
        id,
        n: o.parties,
        mode: o.mode,
        channel,
        material: dealer.forParty(id),
        scaleBits: o.scaleBits,
        chebyDeg: o.chebyDeg,
      }),
    ),
  );
  const folded = foldWeights(model.config, model.weights);
  const models = await Promise.all(contexts.map((ctx) => loadSecureModel(ctx, model.config, 0, ctx.id === 0 ? folded : undefined)));
  const t1 = performance.now();
  const marks: { time: number; bytes: number; rounds: number }[] = [];
  const snapshot = (ctx: PartyContext) => ({
    time: performance.now(),
    bytes: ctx.channel.stats.bytesSent,
    rounds: ctx.channel.stats.rounds,
  });
  const start = snapshot(contexts[0]);
  const results = await Promise.all(
    contexts.map((ctx, i) =>
      Promise.resolve()
        .then(() =>
          secureGenerate(
            ctx,
            models[i],
            promptFromOwners(
              ctx,
              [{ owner: 0, length: promptIds.length, ids: ctx.id === 0 ? promptIds : undefined }],
              model.config.vocabSize,
            ),
            {
              maxNewTokens: o.maxNewTokens,
              sampler: o.sampler,
              maxContext: o.maxContext,
              prefillChunk: o.prefillChunk,
              prefillMaxScores: o.prefillMaxScores,
              stopIds: o.stopIds,
              onToken:
                ctx.id === 0
                  ? (id, index) => {
                      marks.push(snapshot(ctx));
                      o.onToken?.(id, index);
                    }
                  : undefined,
            },
          ),
        )
        .catch((e: unknown) => {
          for (const ch of channels) ch.close(e instanceof Error ? e : new Error(String(e)));
          throw e;
        }),
    ),
  );
  for (const r of results) {
    if (r.join() !== results[0].join()) throw new Error('parties disagree on the generated tokens');
  }
  const first = marks[0] ?? start;
  const last = marks[marks.length - 1] ?? start;
  const steps = Math.max(1, marks.length - 1);
  const decode =
    marks.length > 1
      ? { ms: last.time - first.time, bytes: last.bytes - first.bytes, rounds: last.rounds - first.rounds }
      : { ms: first.time - start.time, bytes: first.bytes - start.bytes, rounds: first.rounds - start.rounds };
  return {
    ids: results[0],
    stats: {
      ms_per_token: decode.ms / steps,
      bytes_per_token_per_party: decode.bytes / steps,
      rounds_per_token: decode.rounds / steps,
      prefill_ms: first.time - start.time,
      setup_ms: t1 - t0,
      tokens: results[0].length,
      parties: o.parties,
      security: o.mode,
      preprocessing_bytes_per_party: contexts[0].material.stats.bytesReceived,
    },
  };
}
