/**
 * The coordinator: control plane only. It authenticates every caller by its mTLS certificate
 * (party nodes are "party-<id>", clients "client-<id>"), validates requests, routes sealed prompt
 * shares to the nodes, schedules sessions (sessions.ts) and fans revealed tokens out to clients.
 * It never holds a share in the clear: prompt shares arrive sealed to each node's X25519 key.
 */
import { verify as verifySignature, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Config } from '../../config/config.ts';
import {
  CoordinatorService,
  type ListPartiesResponse,
  type PartyWorkEvent,
  type PartyWorkRequest,
  type RegisterPartyRequest,
  type SessionStatus,
  type SubmitPromptRequest,
  type TokenEvent,
  type TokenOutputRequest,
} from '../gen/mpc_prompt/v1/coordinator.ts';
import {
  bindServer,
  callerIdentity,
  listenAddress,
  promptChannelOptions,
  serverCredentials,
  ServiceError,
  toStatus,
  unary,
} from '../grpc-common.ts';
import { HealthState } from '../health.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { TlsIdentity } from '../pki.ts';
import { sealedPromptBytes, sealingKeyMessage } from '../prompt-shares.ts';
import { SessionStore, type Session } from './sessions.ts';

const SESSION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export interface CoordinatorOptions {
  readonly config: Config;
  readonly identity: TlsIdentity;
  /** Vocabulary size of the deployment's model (to check prompt share sizes). */
  readonly vocabSize: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Override deployment.coordinator (e.g. port 0 in tests). */
  readonly address?: string;
}

interface Node {
  readonly registration: RegisterPartyRequest;
  stream: grpc.ServerWritableStream<PartyWorkRequest, PartyWorkEvent> | undefined;
}

export async function startCoordinator(o: CoordinatorOptions): Promise<{ port: number; close(): Promise<void>; store: SessionStore }> {
  const dep = o.config.deployment;
  const nodeIds = dep.parties.map((p) => p.id);
  const nodes = new Map<string, Node>();
  const maxContext = o.config.scheduler.max_context;
  const log = o.logger.child({ service: 'coordinator' });

  const store: SessionStore = new SessionStore(nodeIds, dep.max_concurrent_sessions, dep.session_timeout_s * 1000, {
    start(s) {
      const missing = nodeIds.filter((id) => !nodes.get(id)?.stream);
      if (missing.length) throw new Error(`party node ${missing.join(', ')} is not connected`);
      const parties = nodeIds.map((id, index) => ({ partyId: id, index, dataAddress: (nodes.get(id) as Node).registration.dataAddress }));
      const parts = nodeIds.map((owner) => ({ owner, length: (s.parts.get(owner) as { length: number }).length }));
      for (const id of nodeIds) {
        const run = {
          sessionId: s.id,
          parties,
          parts,
          sealedShares: nodeIds.map((owner) => Buffer.from(s.parts.get(owner)?.sealed.get(id) ?? new Uint8Array(0))),
          maxNewTokens: s.maxNewTokens,
          sampling: s.sampling,
          securityMode: o.config.security.mode,
          deadlineUnixMs: s.deadline,
          sessionName: s.name,
        };
        nodes.get(id)?.stream?.write({ run });
      }
      log.log('info', 'session started', { session: s.id, parts: parts.length });
    },
    stop(s) {
      for (const id of nodeIds) nodes.get(id)?.stream?.write({ cancelSessionId: s.id });
      log.log('warn', 'session stopped', { session: s.id, state: s.state, error: s.error });
      o.metrics.inc('mpc_sessions_finished_total', 'Sessions that ended, by outcome', 1, { outcome: s.state });
    },
    onChange() {
      const counts: Record<string, number> = { waiting_for_parts: 0, queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
      for (const s of store.sessions.values()) counts[s.state]++;
      for (const [state, n] of Object.entries(counts)) o.metrics.set('mpc_sessions', 'Sessions by state', n, { state });
    },
  });

  const session = (id: string): Session => {
    const s = store.sessions.get(id);
    if (!s) throw new ServiceError(grpc.status.NOT_FOUND, `unknown session id "${id}"`);
    return s;
  };
  const requireClient = (call: Parameters<typeof callerIdentity>[0]): string => {
    const cn = callerIdentity(call);
    const id = cn.startsWith('client-') ? cn.slice(7) : '';
    if (!nodeIds.includes(id)) throw new ServiceError(grpc.status.PERMISSION_DENIED, `${cn} is not a client of this deployment`);
    return id;
  };
  const requireNode = (call: Parameters<typeof callerIdentity>[0], claimed: string): Node => {
    const cn = callerIdentity(call);
    if (cn !== `party-${claimed}`) throw new ServiceError(grpc.status.PERMISSION_DENIED, `${cn} may not act as party node ${claimed}`);
    const node = nodes.get(claimed);
    if (!node) throw new ServiceError(grpc.status.FAILED_PRECONDITION, `party node ${claimed} has not registered`);
    return node;
  };
  const status = (s: Session): SessionStatus => ({
    sessionId: s.id,
    sessionName: s.name,
    state: s.state,
    partsReceived: [...s.parts.keys()],
    tokens: s.tokens.length,
    error: s.error,
  });

  // A SubmitPrompt carries one sealed share per node of a part of up to max_context tokens.
  const server = new grpc.Server({
    'grpc.max_receive_message_length': promptChannelOptions(nodeIds.length, maxContext)['grpc.max_receive_message_length'],
  });
  const health = new HealthState();
  health.addTo(server);
  server.addService(CoordinatorService, {
    registerParty: unary(async (req: RegisterPartyRequest, call) => {
      const cn = callerIdentity(call);
      if (!nodeIds.includes(req.partyId))
        throw new ServiceError(
          grpc.status.INVALID_ARGUMENT,
          `party_id "${req.partyId}" is not configured (expected one of ${nodeIds.join(', ')})`,
        );
      if (cn !== `party-${req.partyId}`)
        throw new ServiceError(grpc.status.PERMISSION_DENIED, `${cn} may not register as party node ${req.partyId}`);
      checkSealingKey(req, call.getAuthContext()?.sslPeerCertificate?.raw);
      const old = nodes.get(req.partyId);
      nodes.set(req.partyId, { registration: req, stream: old?.stream });
      log.log('info', 'party registered', { party: req.partyId });
      return { partyId: req.partyId, expectedParties: nodeIds };
    }),
    partyWork: (call: grpc.ServerWritableStream<PartyWorkRequest, PartyWorkEvent>) => {
      let node: Node;
      try {
        node = requireNode(call, call.request.partyId);
      } catch (e) {
        call.destroy(Object.assign(new Error(toStatus(e).details), toStatus(e)));
        return;
      }
      if (node.stream) node.stream.end();
      node.stream = call;
      o.metrics.set('mpc_party_connected', 'Party nodes connected', 1, { party: call.request.partyId });
      const lost = (): void => {
        if (node.stream !== call) return;
        node.stream = undefined;
        o.metrics.set('mpc_party_connected', 'Party nodes connected', 0, { party: call.request.partyId });
        log.log('warn', 'party node disconnected', { party: call.request.partyId });
        store.nodeLost(call.request.partyId);
      };
      call.on('cancelled', lost);
      call.on('close', lost);
      call.on('error', lost);
    },
    report: unary(async (req, call) => {
      requireNode(call, req.partyId);
      const s = session(req.sessionId);
      if (req.token) {
        store.token(s, req.partyId, req.token.index, req.token.tokenId);
        if (s.tokens.length === req.token.index + 1) o.metrics.inc('mpc_tokens_total', 'Tokens revealed');
      } else if (req.done) store.done(s, req.partyId, req.done);
      else if (req.error !== undefined) store.fail(s, `party node ${req.partyId}: ${req.error}`);
      return {};
    }),
    listParties: unary(async (_req, call): Promise<ListPartiesResponse> => {
      requireClient(call);
      // Only connected nodes: a restarted node has a new sealing key.
      return { parties: [...nodes.values()].filter((n) => n.stream).map((n) => n.registration) };
    }),
    submitPrompt: unary(async (req: SubmitPromptRequest, call) => {
      const client = requireClient(call);
      if (req.partyId !== client)
        throw new ServiceError(grpc.status.PERMISSION_DENIED, `client-${client} may not submit as party ${req.partyId}`);
      validateSubmit(req, nodeIds, o.vocabSize, maxContext);
      const existing = store.byName(req.sessionName);
      const s = existing ?? store.create(req.sessionName);
      if (s.parts.has(req.partyId))
        throw new ServiceError(
          grpc.status.ALREADY_EXISTS,
          `party ${req.partyId} already submitted its part of session "${req.sessionName}"`,
        );
      const total = [...s.parts.values()].reduce((acc, p) => acc + p.length, 0) + req.length;
      const maxNew = existing ? Math.max(s.maxNewTokens, req.maxNewTokens) : req.maxNewTokens;
      if (total + maxNew - 1 > maxContext) {
        if (!existing) store.sessions.delete(s.id);
        throw new ServiceError(
          grpc.status.INVALID_ARGUMENT,
          `prompt of ${total} tokens + ${maxNew} new tokens exceeds scheduler.max_context = ${maxContext}`,
        );
      }
      s.parts.set(req.partyId, {
        length: req.length,
        sealed: new Map(Object.entries(req.sealedShares).map(([k, v]) => [k, new Uint8Array(v)])),
      });
      s.maxNewTokens = maxNew;
      if (req.sampling && (req.sampling.topK > 0 || !existing))
        s.sampling = { topK: req.sampling.topK, temperature: req.sampling.temperature || 1, seed: req.sampling.seed };
      log.log('info', 'part received', { session: s.id, party: req.partyId, tokens: req.length });
      store.maybeQueue(s);
      return { sessionId: s.id, state: s.state };
    }),
    tokenOutput: (call: grpc.ServerWritableStream<TokenOutputRequest, TokenEvent>) => {
      let s: Session;
      try {
        requireClient(call);
        s = session(call.request.sessionId);
      } catch (e) {
        call.destroy(Object.assign(new Error(toStatus(e).details), toStatus(e)));
        return;
      }
      s.tokens.forEach((tokenId, index) => call.write({ token: { index, tokenId } }));
      if (s.state === 'done' || s.state === 'failed' || s.state === 'cancelled') {
        call.write(s.state === 'done' ? { done: s.doneFrom.get(nodeIds[0]) } : { error: s.error });
        call.end();
        return;
      }
      const push = (e: TokenEvent): void => {
        call.write(e);
        if (e.done || e.error !== undefined) {
          s.subscribers.delete(push);
          call.end();
        }
      };
      s.subscribers.add(push);
      call.on('cancelled', () => s.subscribers.delete(push));
    },
    getSession: unary(async (req, call) => {
      requireClient(call);
      return status(session(req.sessionId));
    }),
    listSessions: unary(async (_req, call) => {
      requireClient(call);
      return { sessions: [...store.sessions.values()].map(status) };
    }),
    cancelSession: unary(async (req, call) => {
      const client = requireClient(call);
      const s = session(req.sessionId);
      store.cancel(s, `cancelled by client-${client}`);
      return status(s);
    }),
  });
  const port = await bindServer(server, listenAddress(o.address ?? dep.coordinator), serverCredentials(o.identity));
  log.log('info', 'listening', { port });
  return {
    port,
    store,
    close: () =>
      new Promise<void>((resolve) => {
        health.set('', false);
        for (const s of store.sessions.values()) store.cancel(s, 'coordinator shutting down');
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}

/** The node's sealing key must be signed by the key of the certificate it connected with. */
function checkSealingKey(req: RegisterPartyRequest, peerRaw: Buffer | undefined): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(req.certificatePem);
  } catch {
    throw new ServiceError(grpc.status.INVALID_ARGUMENT, 'certificate_pem is not a PEM certificate');
  }
  if (!peerRaw || !cert.raw.equals(peerRaw))
    throw new ServiceError(grpc.status.PERMISSION_DENIED, 'certificate_pem is not the certificate of this connection');
  if (req.sealingPublicKey.length !== 32)
    throw new ServiceError(grpc.status.INVALID_ARGUMENT, `sealing_public_key must be 32 bytes, got ${req.sealingPublicKey.length}`);
  if (!verifySignature('sha256', sealingKeyMessage(req.partyId, req.sealingPublicKey), cert.publicKey, req.sealingKeySignature)) {
    throw new ServiceError(grpc.status.PERMISSION_DENIED, 'sealing_key_signature does not verify');
  }
}

function validateSubmit(req: SubmitPromptRequest, nodeIds: readonly string[], vocab: number, maxContext: number): void {
  const bad = (msg: string): ServiceError => new ServiceError(grpc.status.INVALID_ARGUMENT, msg);
  if (!SESSION_NAME.test(req.sessionName)) throw bad('session_name: expected 1–64 characters [A-Za-z0-9_.-]');
  if (!Number.isInteger(req.length) || req.length > maxContext)
    throw bad(`length: ${req.length} exceeds scheduler.max_context = ${maxContext}`);
  if (req.maxNewTokens < 1 || req.maxNewTokens > maxContext)
    throw bad(`max_new_tokens: expected 1..${maxContext}, got ${req.maxNewTokens}`);
  const s = req.sampling;
  if (s && (s.topK > vocab || !(s.temperature === 0 || (s.temperature >= 1e-3 && s.temperature <= 1e3))))
    throw bad('sampling: top_k ≤ vocabulary size and temperature in [0.001, 1000] expected');
  const keys = Object.keys(req.sealedShares).sort();
  if (keys.join(',') !== [...nodeIds].sort().join(','))
    throw bad(`sealed_shares: expected one entry for each party node (${nodeIds.join(', ')}), got ${keys.join(', ') || 'none'}`);
  const expected = sealedPromptBytes(req.length);
  for (const [k, v] of Object.entries(req.sealedShares)) {
    if (req.length > 0 && v.length !== expected)
      throw bad(`sealed_shares[${k}]: expected ${expected} bytes for ${req.length} tokens, got ${v.length}`);
  }
}
