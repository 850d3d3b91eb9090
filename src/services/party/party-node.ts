/**
 * A party node: holds this party's shares and runs its side of every session.
 *  - listens for peers on its mTLS data plane (one listener shared by all sessions);
 *  - registers with the coordinator (its X25519 sealing key, signed with its TLS key), then keeps
 *    a PartyWork stream open and runs the sessions it is given (in parallel), reconnecting with
 *    backoff if the coordinator goes away;
 *  - reports each revealed token, the final stats, or an error (never a value) per session.
 */
import { sign } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { Config } from '../../config/config.ts';
import { generateSealingKeyPair } from '../../crypto/sealing.ts';
import type { ModelConfig } from '../../formats/model-spec.ts';
import { TlsListener } from '../../net/tls-channel.ts';
import { CoordinatorClient, type PartyWorkEvent, type ReportRequest } from '../gen/mpc_prompt/v1/coordinator.ts';
import { clientCredentials, listenAddress, promptChannelOptions, splitAddress } from '../grpc-common.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { TlsIdentity } from '../pki.ts';
import { enclaveTrustFromConfig } from '../enclave/trust.ts';
import { sealingKeyMessage } from '../prompt-shares.ts';
import type { OwnerWeights } from './owner-weights.ts';
import { runSession, type SessionHandle } from './session-runner.ts';
import type { WeightSource } from './weight-setup.ts';

export interface PartyNodeOptions {
  readonly config: Config;
  readonly partyId: string;
  readonly identity: TlsIdentity;
  /** The model's public config (shapes, vocabulary). */
  readonly modelConfig: ModelConfig;
  /** The plaintext weights, lent to each session's setup: only on the owner's node, and only with
   *  model_source "owner". */
  readonly weights?: OwnerWeights;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Overrides of the configured addresses (tests). */
  readonly dataAddress?: string;
  readonly coordinator?: string;
  readonly triples?: string;
  readonly enclave?: string;
}

export async function startPartyNode(o: PartyNodeOptions): Promise<{ close(): Promise<void>; dataPort: number }> {
  const dep = o.config.deployment;
  const spec = dep.parties.find((p) => p.id === o.partyId);
  if (!spec) throw new Error(`party ${o.partyId} is not in deployment.parties`);
  const log = o.logger.child({ service: 'party', party: o.partyId });
  const dataAddress = o.dataAddress ?? spec.data;
  const listener = await TlsListener.listen({ tls: o.identity, ...splitAddress(listenAddress(dataAddress)) });
  const advertised = `${splitAddress(dataAddress).host}:${listener.port}`;
  const sealing = generateSealingKeyPair();
  const signature = sign('sha256', sealingKeyMessage(o.partyId, sealing.publicKey), o.identity.key);
  // A work item carries this node's sealed shares of every prompt part (max_context tokens in all).
  const client = new CoordinatorClient(
    o.coordinator ?? dep.coordinator,
    clientCredentials(o.identity),
    promptChannelOptions(1, o.config.scheduler.max_context),
  );
  const sessions = new Map<string, SessionHandle>();
  let weights: WeightSource;
  if (dep.model_source === 'enclave') {
    const trust = enclaveTrustFromConfig(o.config);
    if (trust.insecureDevRoot)
      log.log('warn', 'INSECURE: trusting the dev attestation root (deployment.enclave.pin_dev_root); development only');
    weights = { kind: 'enclave', address: o.enclave ?? dep.enclave.address, trust };
  } else {
    weights = { kind: 'owner', owner: dep.model_owner, weights: o.partyId === dep.model_owner ? o.weights : undefined };
  }
  const runner = {
    partyId: o.partyId,
    identity: o.identity,
    sealing,
    listener,
    config: o.modelConfig,
    weights,
    triplesAddress: o.triples ?? dep.triples,
    scaleBits: o.config.fixed_point.scale_bits,
    chebyDeg: o.config.cheby.deg,
    maxContext: o.config.scheduler.max_context,
    prefillChunk: o.config.scheduler.prefill_chunk,
    prefillMaxScores: o.config.scheduler.prefill_max_scores,
    logger: log,
    metrics: o.metrics,
  };
  let closing = false;
  let stream: grpc.ClientReadableStream<PartyWorkEvent> | undefined;

  const report = (sessionId: string, r: Omit<ReportRequest, 'partyId' | 'sessionId'>): Promise<void> =>
    new Promise((resolve, reject) => client.report({ partyId: o.partyId, sessionId, ...r }, (err) => (err ? reject(err) : resolve())));

  const onEvent = (ev: PartyWorkEvent): void => {
    if (ev.run) {
      const item = ev.run;
      o.metrics.inc('mpc_party_sessions_total', 'Sessions started on this node');
      const handle = runSession(runner, item, (r) => report(item.sessionId, r));
      sessions.set(item.sessionId, handle);
      void handle.done.finally(() => sessions.delete(item.sessionId));
    } else if (ev.cancelSessionId) {
      sessions.get(ev.cancelSessionId)?.abort('session cancelled by the coordinator');
    }
  };

  const connect = async (attempt = 0): Promise<void> => {
    if (closing) return;
    try {
      await new Promise<void>((resolve, reject) =>
        client.registerParty(
          {
            partyId: o.partyId,
            dataAddress: advertised,
            sealingPublicKey: Buffer.from(sealing.publicKey),
            sealingKeySignature: signature,
            certificatePem: o.identity.cert,
          },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
      stream = client.partyWork({ partyId: o.partyId });
      stream.on('data', onEvent);
      stream.on('error', () => undefined);
      stream.on('close', () => {
        if (closing) return;
        log.log('warn', 'coordinator stream closed; reconnecting');
        setTimeout(() => void connect(), 500);
      });
      log.log('info', 'registered', { data: advertised });
    } catch (e) {
      const delay = Math.min(5000, 200 * 2 ** attempt);
      if (attempt % 10 === 0) log.log('warn', 'coordinator unavailable; retrying', { error: (e as Error).message, delay_ms: delay });
      setTimeout(() => void connect(attempt + 1), delay);
    }
  };
  await connect();

  return {
    dataPort: listener.port,
    close: async () => {
      closing = true;
      for (const s of sessions.values()) s.abort('party node shutting down');
      await Promise.allSettled([...sessions.values()].map((s) => s.done));
      stream?.cancel();
      client.close();
      listener.close();
    },
  };
}
