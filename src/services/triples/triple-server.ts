/**
 * The triple service: the dealer of preprocessing material as a separate gRPC service
 * (proto/mpc_prompt/v1/triples.proto, `TripleService.Material`) over mutually authenticated TLS.
 *
 * Authorization: the TLS layer requires a client certificate issued by the service's CA; the
 * certificate's subject CN must pass `allowedParties` (default: `party-<name>`), so only party
 * nodes receive material. Within a session, one certificate may hold only one party index (a
 * party that collected every party's shares would learn the material and the MAC key).
 *
 * Sessions: each party opens one bidirectional stream; its first message must be OpenSession.
 * The first opener of a session id creates the session with its (parties, security mode); later
 * openers must agree (else INVALID_ARGUMENT), and each party index can be opened once (else
 * ALREADY_EXISTS). The reply carries the party's MAC key share. Then every `key` request is
 * answered, in order, with the party's part of the dealt batch (dealer-session.ts): a seed
 * (parties 0..n−2) or explicit words (party n−1), the clear mask for the owner of an input mask,
 * and the tensor shapes as JSON. A request that fails (desynchronised parties, malformed or
 * out-of-bounds key) is answered with `error` + `error_kind`, the stream ends, and the session is
 * discarded: every other stream of the session receives an error ("session-discarded") and
 * ends too. A session is dropped when all its parties have disconnected, or after
 * `sessionIdleMs` without requests.
 *
 * Pools: each session pregenerates plaintext elementwise triples and truncation/comparison masks
 * in the background, keeping at least `poolMinSize` elements of each ready (config
 * `triple_pool.min_size`); `stats()` reports the levels for metrics.
 *
 * Message size: both directions allow `maxMessageBytes` (default 256 MiB, grpc max send/receive
 * message length; clients must allow as much). A request whose dealt material could exceed one
 * message is refused as invalid: at 256 MiB that is about 33M ring elements per request (summed
 * over its tensors) in semi-honest mode, 8M in malicious mode (Z_2^128 values plus MACs).
 *
 * Nothing is logged; material, seeds and MAC key shares never leave except in responses to the
 * party they belong to.
 */
import * as grpc from '@grpc/grpc-js';
import { endianness } from 'node:os';
import { DesyncError, ValidationError } from '../../base/errors.ts';
import { KEEPALIVE_TIMEOUT_MS } from '../grpc-common.ts';
import { DealerSession, SECURITY_MODES, type PoolStats, type PoolKind, type SecurityMode } from '../../preprocessing/dealer-session.ts';
import { DEFAULT_REQUEST_LIMITS, parseMaterialKey, type RequestLimits } from '../../preprocessing/material-request.ts';
import { type MaterialRequest, type MaterialResponse, type OpenSession, type TripleServiceServer } from '../gen/mpc_prompt/v1/triples.ts';
import type { Logger } from '../log.ts';
import { TRIPLE_SERVICE_DEFINITION } from './material-response-codec.ts';
import type { Metrics } from '../metrics.ts';
import type { TlsIdentity } from '../pki.ts';

/** Default grpc max send/receive message length of the service and its clients. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 << 20;
/** Most keys in one KeyBatch. */
export const MAX_BATCH_KEYS = 4096;
/** Replies to a batch are grouped into messages of about this many payload bytes. */
const BATCH_REPLY_BYTES = 8 << 20;
/** Default: certificates named `party-<name>` are party nodes. */
export const PARTY_CN_RE = /^party-[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
/** Session ids: 1..128 characters of [A-Za-z0-9._:-]. */
export const SESSION_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
/** Headroom for protobuf framing and the other fields of a response. */
const RESPONSE_OVERHEAD_BYTES = 64 << 10;

export type ErrorKind = 'desync' | 'invalid-request' | 'session-discarded' | 'internal';

export interface TripleServiceOptions {
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** "host:port" to listen on; overrides host and port. */
  readonly address?: string;
  /** The service's CA (trusted for client certificates), certificate and key (PEM). */
  readonly identity: TlsIdentity;
  /** Which client certificate CNs are party nodes (default {@link PARTY_CN_RE}). */
  readonly allowedParties?: (cn: string) => boolean;
  /** Elements kept ready per pooled kind and session (config triple_pool.min_size; default 1024; 0 = no pools). */
  readonly poolMinSize?: number;
  /** Most concurrent sessions (default 64); more are refused with RESOURCE_EXHAUSTED. */
  readonly maxSessions?: number;
  /** A session without requests for this long is discarded (default 10 minutes). */
  readonly sessionIdleMs?: number;
  /** grpc max send/receive message length (default 256 MiB). */
  readonly maxMessageBytes?: number;
  /** Most elements one request may deal (default 2^25; also capped by maxMessageBytes). */
  readonly maxElementsPerRequest?: number;
  /** Most parties per session (default 64). */
  readonly maxParties?: number;
  /** Most requests dealt to some but not all parties of a session (default 4096). */
  readonly maxOutstanding?: number;
  /** Most fixed operands per session (default 65536). */
  readonly maxFixedOperands?: number;
  /** Session events (ids, counts, reasons; never material). */
  readonly logger?: Logger;
  /** Gauges and counters (pool levels by kind, sessions, requests), refreshed every second. */
  readonly metrics?: Metrics;
}

export interface TripleServiceStats {
  readonly sessions: number;
  /** Open party streams. */
  readonly streams: number;
  /** Material requests served since start (each key of a batch counts). */
  readonly requests: number;
  /** KeyBatch messages received since start. */
  readonly batches: number;
  /** Sessions discarded after an error or idling out. */
  readonly discarded: number;
  /** Pool levels by session id. */
  readonly pools: Record<string, Partial<Record<PoolKind, PoolStats>>>;
}

export interface TripleService {
  readonly port: number;
  stats(): TripleServiceStats;
  /** Ends every session (streams receive an error) and stops the server. */
  close(): Promise<void>;
}

type Call = grpc.ServerDuplexStream<MaterialRequest, MaterialResponse>;

interface PartyStream {
  readonly call: Call;
  readonly cn: string;
  session: SessionEntry | undefined;
  party: number;
  next: number;
  ended: boolean;
}

interface SessionEntry {
  readonly id: string;
  readonly dealer: DealerSession;
  readonly streams: Set<PartyStream>;
  /** Party index → certificate CN. */
  readonly holders: Map<number, string>;
  lastActive: number;
  timer: NodeJS.Timeout | undefined;
}

const status = (code: grpc.status, details: string): Partial<grpc.StatusObject> => ({ code, details });

/** Starts the triple service; resolves once it listens. */
export async function startTripleService(o: TripleServiceOptions): Promise<TripleService> {
  if (endianness() !== 'LE') throw new Error('triple service: little-endian hosts only (words travel as LE 64-bit)');
  const host = o.host ?? '127.0.0.1';
  const maxMessageBytes = positive(o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes');
  if (maxMessageBytes <= RESPONSE_OVERHEAD_BYTES || maxMessageBytes > 0x7fffffff)
    throw new ValidationError(`must be in (${RESPONSE_OVERHEAD_BYTES}, 2^31)`, 'maxMessageBytes');
  const maxSessions = positive(o.maxSessions ?? 64, 'maxSessions');
  const sessionIdleMs = positive(o.sessionIdleMs ?? 600_000, 'sessionIdleMs');
  const poolMinSize = o.poolMinSize ?? 1024;
  if (!Number.isInteger(poolMinSize) || poolMinSize < 0) throw new ValidationError('must be a non-negative integer', 'poolMinSize');
  const maxElementsPerRequest = positive(o.maxElementsPerRequest ?? DEFAULT_REQUEST_LIMITS.maxElements, 'maxElementsPerRequest');
  const maxParties = positive(o.maxParties ?? DEFAULT_REQUEST_LIMITS.maxParties, 'maxParties');
  const maxOutstanding = positive(o.maxOutstanding ?? 4096, 'maxOutstanding');
  const maxFixedOperands = positive(o.maxFixedOperands ?? 65536, 'maxFixedOperands');
  const allowed = o.allowedParties ?? ((cn: string) => PARTY_CN_RE.test(cn));
  const log = (level: 'info' | 'warn' | 'debug', msg: string, fields: Record<string, string | number>): void =>
    o.logger?.log(level, msg, fields);

  /** Bytes per dealt element in the largest message (party n−1's explicit words). */
  const limitsFor = (mode: SecurityMode): RequestLimits => {
    const bytesPerElement = mode === 'malicious' ? 32 : 8;
    const byMessage = Math.floor((maxMessageBytes - RESPONSE_OVERHEAD_BYTES) / bytesPerElement);
    return {
      maxElements: Math.min(maxElementsPerRequest, byMessage),
      maxParties,
      maxOperandElements: DEFAULT_REQUEST_LIMITS.maxOperandElements,
    };
  };

  const sessions = new Map<string, SessionEntry>();
  const streams = new Set<PartyStream>();
  let requests = 0;
  let batches = 0;
  let discarded = 0;
  let closing = false;

  const send = (s: PartyStream, res: Partial<MaterialResponse>): void => {
    if (s.ended) return;
    s.call.write({ clear: Buffer.alloc(0), shapesJson: '', error: '', errorKind: '', items: [], ...res });
  };

  const refuse = (s: PartyStream, st: Partial<grpc.StatusObject>): void => {
    if (s.ended) return;
    s.ended = true;
    log('warn', 'triple stream refused', { code: grpc.status[st.code ?? grpc.status.UNKNOWN], reason: st.details ?? '', cn: s.cn });
    s.call.emit('error', st);
  };

  /** Answers with an error and ends the stream. */
  const failStream = (s: PartyStream, message: string, kind: ErrorKind): void => {
    send(s, { error: message, errorKind: kind });
    if (!s.ended) {
      s.ended = true;
      s.call.end();
    }
  };

  const dropSession = (entry: SessionEntry): void => {
    if (sessions.get(entry.id) !== entry) return;
    sessions.delete(entry.id);
    if (entry.timer) clearTimeout(entry.timer);
    entry.dealer.close();
    log('info', 'triple session closed', { session: entry.id });
  };

  const discardSession = (entry: SessionEntry, reason: string): void => {
    if (sessions.get(entry.id) !== entry) return;
    discarded++;
    o.metrics?.inc('mpc_triple_sessions_discarded_total', 'Triple-service sessions discarded after an error or idling out');
    log('warn', 'triple session discarded', { session: entry.id, reason });
    dropSession(entry);
    for (const s of entry.streams) failStream(s, `session ${entry.id} discarded: ${reason}`, 'session-discarded');
  };

  const detach = (s: PartyStream): void => {
    streams.delete(s);
    const entry = s.session;
    if (!entry) return;
    entry.streams.delete(s);
    if (entry.streams.size === 0) dropSession(entry);
  };

  const armIdle = (entry: SessionEntry, delay: number): void => {
    entry.timer = setTimeout(() => {
      const idle = Date.now() - entry.lastActive;
      if (idle >= sessionIdleMs) discardSession(entry, `no requests for ${idle} ms`);
      else armIdle(entry, sessionIdleMs - idle);
    }, delay);
    entry.timer.unref();
  };

  const open = (s: PartyStream, req: OpenSession): void => {
    const { sessionId, partyIndex, parties, securityMode } = req;
    if (!SESSION_ID_RE.test(sessionId))
      return refuse(s, status(grpc.status.INVALID_ARGUMENT, 'session_id must be 1..128 characters of [A-Za-z0-9._:-]'));
    if (!Number.isInteger(parties) || parties < 2 || parties > maxParties)
      return refuse(s, status(grpc.status.INVALID_ARGUMENT, `parties must be in [2, ${maxParties}], got ${parties}`));
    if (!Number.isInteger(partyIndex) || partyIndex >= parties)
      return refuse(s, status(grpc.status.INVALID_ARGUMENT, `party_index must be in [0, ${parties - 1}], got ${partyIndex}`));
    if (!SECURITY_MODES.includes(securityMode as SecurityMode))
      return refuse(
        s,
        status(
          grpc.status.INVALID_ARGUMENT,
          `security_mode must be one of ${SECURITY_MODES.join(', ')}, got ${JSON.stringify(securityMode)}`,
        ),
      );
    const mode = securityMode as SecurityMode;
    let entry = sessions.get(sessionId);
    if (entry) {
      if (entry.dealer.n !== parties || entry.dealer.mode !== mode)
        return refuse(
          s,
          status(
            grpc.status.INVALID_ARGUMENT,
            `session ${sessionId} has ${entry.dealer.n} parties in ${entry.dealer.mode} mode; this party asked for ${parties} in ${mode} mode`,
          ),
        );
      if (entry.holders.has(partyIndex))
        return refuse(s, status(grpc.status.ALREADY_EXISTS, `party ${partyIndex} of session ${sessionId} is already taken`));
      const other = [...entry.holders].find(([, cn]) => cn === s.cn);
      if (other)
        return refuse(
          s,
          status(grpc.status.PERMISSION_DENIED, `certificate ${s.cn} already holds party ${other[0]} of session ${sessionId}`),
        );
    } else {
      if (sessions.size >= maxSessions)
        return refuse(
          s,
          status(grpc.status.RESOURCE_EXHAUSTED, `the triple service already runs ${sessions.size} sessions, the most allowed`),
        );
      entry = {
        id: sessionId,
        dealer: new DealerSession(parties, mode, {
          limits: limitsFor(mode),
          poolMinSize,
          maxOutstanding,
          maxFixedOperands,
          pinOperands: true,
        }),
        streams: new Set(),
        holders: new Map(),
        lastActive: Date.now(),
        timer: undefined,
      };
      sessions.set(sessionId, entry);
      armIdle(entry, sessionIdleMs);
      log('info', 'triple session created', { session: sessionId, parties, mode });
    }
    entry.holders.set(partyIndex, s.cn);
    entry.streams.add(s);
    entry.lastActive = Date.now();
    s.session = entry;
    s.party = partyIndex;
    log('debug', 'triple session joined', { session: sessionId, party: partyIndex, cn: s.cn });
    const alpha = entry.dealer.macKeyShare(partyIndex);
    send(s, { macKeyShare: alpha === undefined ? Buffer.alloc(0) : bigintToLe16(alpha) });
  };

  /** The reply to one key, or undefined when it failed (the stream and session are then gone). */
  const answer = (s: PartyStream, entry: SessionEntry, key: string): Partial<MaterialResponse> | undefined => {
    entry.lastActive = Date.now();
    const index = s.next++;
    try {
      const d = parseMaterialKey(key, entry.dealer.limits);
      const dealt = entry.dealer.take(s.party, index, d);
      const m = dealt.message;
      requests++;
      o.metrics?.inc('mpc_triple_requests_total', 'Material requests served by the triple service');
      return {
        ...(m.kind === 'seed' ? { seed: Buffer.from(m.seed) } : { words: wordsToBuffer(m.words) }),
        clear: dealt.clear ? wordsToBuffer(dealt.clear.data) : Buffer.alloc(0),
        shapesJson: JSON.stringify(dealt.shapes),
      };
    } catch (e) {
      const [kind, message]: [ErrorKind, string] =
        e instanceof DesyncError
          ? ['desync', e.message]
          : e instanceof ValidationError
            ? ['invalid-request', e.message]
            : ['internal', `internal error serving request #${index}`];
      failStream(s, message, kind);
      discardSession(entry, `party ${s.party}, request #${index}: ${message}`);
      return undefined;
    }
  };

  const serve = (s: PartyStream, entry: SessionEntry, key: string): void => {
    const res = answer(s, entry, key);
    if (res) send(s, res);
  };

  /** A batch of keys: replies grouped into messages of at most BATCH_REPLY_BYTES (or one reply). */
  const serveBatch = (s: PartyStream, entry: SessionEntry, keys: readonly string[]): void => {
    if (keys.length === 0 || keys.length > MAX_BATCH_KEYS) {
      failStream(s, `a batch must hold 1..${MAX_BATCH_KEYS} keys, got ${keys.length}`, 'invalid-request');
      return discardSession(entry, `party ${s.party} sent a batch of ${keys.length} keys`);
    }
    batches++;
    let items: MaterialResponse[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (items.length > 0) send(s, { items });
      items = [];
      bytes = 0;
    };
    for (const key of keys) {
      const res = answer(s, entry, key);
      if (!res) return;
      const size = (res.words?.length ?? 0) + (res.clear?.length ?? 0);
      if (bytes + size > BATCH_REPLY_BYTES) flush();
      items.push({ clear: Buffer.alloc(0), shapesJson: '', error: '', errorKind: '', items: [], ...res });
      bytes += size;
    }
    flush();
  };

  const handler: TripleServiceServer = {
    material(call: Call): void {
      const cn = peerCn(call);
      const s: PartyStream = { call, cn: cn ?? '', session: undefined, party: -1, next: 0, ended: false };
      streams.add(s);
      const gone = (): void => detach(s);
      call.on('cancelled', gone);
      call.on('error', gone);
      call.on('close', gone);
      call.on('end', () => {
        if (!s.ended) {
          s.ended = true;
          call.end();
        }
        gone();
      });
      if (closing) return refuse(s, status(grpc.status.UNAVAILABLE, 'the triple service is shutting down'));
      if (cn === undefined) return refuse(s, status(grpc.status.UNAUTHENTICATED, 'no verified client certificate'));
      if (!allowed(cn)) return refuse(s, status(grpc.status.PERMISSION_DENIED, `certificate ${cn} is not a party node`));
      call.on('data', (req: MaterialRequest) => {
        if (s.ended) return;
        const entry = s.session;
        if (!entry) {
          if (!req.open) return refuse(s, status(grpc.status.INVALID_ARGUMENT, 'the first message must be OpenSession'));
          return open(s, req.open);
        }
        if (sessions.get(entry.id) !== entry) return failStream(s, `session ${entry.id} is gone`, 'session-discarded');
        if (req.batch) return serveBatch(s, entry, req.batch.keys);
        if (req.key === undefined) {
          failStream(s, 'expected a material key: OpenSession may be sent only once', 'invalid-request');
          return discardSession(entry, `party ${s.party} broke the stream protocol`);
        }
        serve(s, entry, req.key);
      });
    },
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  });
  server.addService(TRIPLE_SERVICE_DEFINITION, handler);
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(o.identity.ca),
    [{ private_key: Buffer.from(o.identity.key), cert_chain: Buffer.from(o.identity.cert) }],
    true,
  );
  const address = o.address ?? `${host.includes(':') ? `[${host}]` : host}:${o.port ?? 0}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, creds, (err, p) =>
      err ? reject(new Error(`triple service: cannot listen on ${address}: ${err.message}`)) : resolve(p),
    ),
  );
  log('info', 'triple service listening', { port });

  const stats = (): TripleServiceStats => {
    const pools: Record<string, Partial<Record<PoolKind, PoolStats>>> = {};
    for (const [id, e] of sessions) pools[id] = e.dealer.poolStats();
    return { sessions: sessions.size, streams: streams.size, requests, batches, discarded, pools };
  };
  const metrics = o.metrics;
  const metricsTimer = metrics
    ? setInterval(() => {
        const st = stats();
        metrics.set('mpc_triple_sessions', 'Open triple-service sessions', st.sessions);
        metrics.set('mpc_triple_streams', 'Open party streams', st.streams);
        const levels: Record<string, number> = { triple: 0, mask: 0 };
        for (const p of Object.values(st.pools)) for (const [kind, ps] of Object.entries(p)) levels[kind] += ps.level;
        for (const [kind, level] of Object.entries(levels))
          metrics.set('mpc_triple_pool_level', 'Pregenerated elements ready, summed over sessions', level, { kind });
      }, 1000)
    : undefined;
  metricsTimer?.unref();

  return {
    port,
    stats,
    async close(): Promise<void> {
      if (closing) return;
      closing = true;
      if (metricsTimer) clearInterval(metricsTimer);
      for (const entry of [...sessions.values()]) discardSession(entry, 'the triple service is shutting down');
      for (const s of streams) refuse(s, status(grpc.status.UNAVAILABLE, 'the triple service is shutting down'));
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

function positive(v: number, field: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new ValidationError(`must be a positive integer, got ${v}`, field);
  return v;
}

/** The subject CN of the client certificate, if TLS verified it against the CA. */
function peerCn(call: Call): string | undefined {
  const cn: unknown = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

function wordsToBuffer(words: BigUint64Array): Buffer {
  return Buffer.from(words.buffer, words.byteOffset, words.byteLength);
}

function bigintToLe16(v: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt.asUintN(64, v), 0);
  b.writeBigUInt64LE(BigInt.asUintN(64, v >> 64n), 8);
  return b;
}
