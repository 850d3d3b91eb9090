/**
 * Runs one session on a party node: connect to the peers (mTLS data plane) and the triple
 * service, bring the model into MPC (from the enclave's attested weight shares, or the owner
 * node inputs the weights), turn the clients' sealed
 * prompt shares into authenticated secret inputs, generate, and report every revealed token to
 * the coordinator. Any failure aborts the session on this node and, through the closed channel,
 * on its peers; other sessions are unaffected.
 */
import { MacCheckError, ProtocolAbort, SacrificeError } from '../../base/errors.ts';
import type { SealingKeyPair } from '../../crypto/sealing.ts';
import type { ModelConfig } from '../../formats/model-spec.ts';
import { foldedShapes } from '../../model/fold-weights.ts';
import { promptFromShares, secureGenerate } from '../../model/generate.ts';
import type { Sampler } from '../../model/sampling.ts';
import { releaseSecureModel, type SecureModel } from '../../model/secure-weights.ts';
import { connectTlsNetwork, DEFAULT_MAX_FRAME_BYTES, type TlsListener } from '../../net/tls-channel.ts';
import { PooledTripleSource } from '../../preprocessing/pooled-source.ts';
import { createPartyContext } from '../../protocols/context.ts';
import type { SessionStats, WorkItem } from '../gen/mpc_prompt/v1/coordinator.ts';
import { splitAddress } from '../grpc-common.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { TlsIdentity } from '../pki.ts';
import { openPromptShare } from '../prompt-shares.ts';
import { startWeightSetup, type WeightSource } from './weight-setup.ts';
import { connectTripleService } from '../triples/triple-client.ts';

export interface RunnerContext {
  readonly partyId: string;
  readonly identity: TlsIdentity;
  readonly sealing: SealingKeyPair;
  readonly listener: TlsListener;
  readonly config: ModelConfig;
  readonly weights: WeightSource;
  readonly triplesAddress: string;
  readonly scaleBits: number;
  readonly chebyDeg: number;
  readonly maxContext: number;
  /** scheduler.prefill_chunk. */
  readonly prefillChunk: number;
  /** scheduler.prefill_max_scores. */
  readonly prefillMaxScores: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export interface SessionHandle {
  /** Aborts the session (cancellation from the coordinator, shutdown). */
  abort(reason: string): void;
  readonly done: Promise<void>;
}

/** Elements of the folded weights (all tensors). */
function weightElements(config: ModelConfig): number {
  return foldedShapes(config).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

export function runSession(
  rc: RunnerContext,
  item: WorkItem,
  report: (r: { token?: { index: number; tokenId: number }; done?: SessionStats; error?: string }) => Promise<void>,
): SessionHandle {
  const log = rc.logger.child({ session: item.sessionId });
  let abortWith: ((e: Error) => void) | undefined;
  let aborted: Error | undefined;
  const abort = (reason: string): void => {
    aborted ??= new ProtocolAbort(reason);
    abortWith?.(aborted);
  };
  const done = (async () => {
    const n = item.parties.length;
    const me = item.parties.findIndex((p) => p.partyId === rc.partyId);
    if (me < 0) throw new ProtocolAbort('this node is not part of the session');
    const weights = startWeightSetup({ source: rc.weights, item, me, config: rc.config, identity: rc.identity, logger: log });
    const channel = await connectTlsNetwork({
      id: me,
      n,
      sessionId: item.sessionId,
      addresses: item.parties.map((p) => splitAddress(p.dataAddress)),
      identities: item.parties.map((p) => `party-${p.partyId}`),
      tls: rc.identity,
      listener: rc.listener,
      connectTimeoutMs: 15_000,
      // One round may open a whole group of weights or, in malicious mode, all products of a
      // comparator level over a prefill's activations: allow frames of 1 GiB (or the weights).
      maxFrameBytes: Math.max(
        4 * DEFAULT_MAX_FRAME_BYTES,
        weightElements(rc.config) * (item.securityMode === 'malicious' ? 16 : 8) + (1 << 20),
      ),
    });
    const mode = item.securityMode === 'malicious' ? 'malicious' : 'semi-honest';
    const service = await connectTripleService({
      address: rc.triplesAddress,
      identity: rc.identity,
      sessionId: item.sessionId,
      partyIndex: me,
      parties: n,
      mode,
    });
    // Elementwise material comes from local pools refilled ahead of use (one dealer round trip per
    // batch instead of per protocol step).
    const material = new PooledTripleSource(service);
    abortWith = (e) => {
      channel.close(e);
      service.close();
    };
    if (aborted) abortWith(aborted);
    let pinned: SecureModel | undefined;
    try {
      const ctx = await createPartyContext({
        id: me,
        n,
        mode,
        channel,
        material,
        scaleBits: rc.scaleBits,
        chebyDeg: rc.chebyDeg,
        profile: true,
      });
      const config = rc.config;
      const t0 = performance.now();
      const secure = await weights.load(ctx);
      // Weight matrices are resident in the kernels' memory (pinned while loading; freed below).
      pinned = secure;
      const setupMs = performance.now() - t0;
      // Prompt: every part's token-id shares (in order, 4 bytes per token), turned into secret
      // one-hot rows a prefill block at a time.
      const vocab = config.vocabSize;
      const shares = item.parts
        .map((p, i) =>
          p.length === 0
            ? undefined
            : openPromptShare(rc.sealing, item.sealedShares[i], p.length, vocab, item.sessionName, p.owner, rc.partyId),
        )
        .filter((s): s is Uint32Array => s !== undefined);
      item.sealedShares.fill(Buffer.alloc(0));
      const prompt = promptFromShares(ctx, shares, vocab);
      const s = item.sampling;
      const sampler: Sampler =
        !s || s.topK === 0 ? { kind: 'greedy' } : { kind: 'topk', k: s.topK, temperature: s.temperature || 1, seed: s.seed || undefined };
      const marks: { t: number; bytes: number; rounds: number }[] = [];
      const start = performance.now();
      const ids = await secureGenerate(ctx, secure, prompt, {
        maxNewTokens: item.maxNewTokens,
        sampler,
        maxContext: rc.maxContext,
        prefillChunk: rc.prefillChunk,
        prefillMaxScores: rc.prefillMaxScores,
        stopIds: config.eosId === undefined ? undefined : [config.eosId],
        onToken: (tokenId, index) => {
          marks.push({ t: performance.now(), bytes: ctx.channel.stats.bytesSent, rounds: ctx.channel.stats.rounds });
          if (index === 0) ctx.profiler?.reset(); // from here on the profile covers decode steps only
          void report({ token: { index, tokenId } }).catch(() => undefined);
        },
      });
      const first = marks[0];
      const last = marks[marks.length - 1];
      const steps = Math.max(1, marks.length - 1);
      await report({
        done: {
          tokens: ids.length,
          msPerToken: marks.length > 1 ? (last.t - first.t) / steps : first.t - start,
          bytesPerTokenPerParty: marks.length > 1 ? (last.bytes - first.bytes) / steps : first.bytes,
          roundsPerToken: marks.length > 1 ? (last.rounds - first.rounds) / steps : first.rounds,
          prefillMs: first.t - t0,
          decodeMs: marks.slice(1).map((m, i) => m.t - marks[i].t),
          setupMs,
          decodePhases: Object.entries(ctx.profiler?.snapshot() ?? {}).map(([name, p]) => ({
            name,
            ms: p.ms / steps,
            bytes: p.bytes / steps,
            rounds: p.rounds / steps,
          })),
          preprocessingBytes: material.stats.bytesReceived,
        },
      });
      log.log('info', 'session done', { tokens: ids.length });
      rc.metrics.inc('mpc_tokens_total', 'Tokens revealed by sessions on this node', ids.length);
      rc.metrics.inc('mpc_bytes_sent_total', 'Payload bytes sent to peers', ctx.channel.stats.bytesSent);
      rc.metrics.inc('mpc_rounds_total', 'Communication rounds', ctx.channel.stats.rounds);
      rc.metrics.inc('mpc_preprocessing_bytes_total', 'Bytes received from the triple service', material.stats.bytesReceived);
      channel.close();
    } finally {
      if (pinned) releaseSecureModel(pinned);
      service.close();
    }
  })().catch(async (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    log.log('warn', 'session failed', { error: message });
    if (e instanceof MacCheckError) rc.metrics.inc('mpc_mac_check_failures_total', 'Sessions aborted by a failed MAC check');
    if (e instanceof SacrificeError) rc.metrics.inc('mpc_sacrifice_failures_total', 'Sessions aborted by a failed triple sacrifice');
    rc.metrics.inc('mpc_session_failures_total', 'Sessions that failed on this node');
    abort(message);
    await report({ error: message }).catch(() => undefined);
  });
  return { abort, done };
}
