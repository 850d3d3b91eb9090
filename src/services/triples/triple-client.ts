/**
 * Client of the triple service (triple-server.ts) as a {@link TripleSource}: one party's
 * bidirectional `Material` stream over mutually authenticated TLS.
 *
 * The service answers requests in order, so the client keeps a FIFO of pending requests and
 * resolves the head with each response (or with each item of a batched reply). Keys requested
 * together go out as one KeyBatch message. Responses carry a seed or explicit words plus the shapes
 * (JSON), expanded locally with seeded-deal.ts `expandMessage`; shapes are checked against what
 * the request asked for, so a malformed response cannot make the party allocate arbitrary
 * amounts. An `error` response fails the request with a DesyncError (error_kind "desync") or a
 * {@link TripleServiceError}. When the stream ends or fails (service down, connection lost,
 * session discarded) every pending and every later request is rejected with a
 * {@link TripleServiceError} (a ProtocolAbort: "triple service unavailable: ..."), so the
 * party's session aborts cleanly instead of waiting forever.
 *
 * The client checks that the service's certificate chains to the CA, matches the address (SAN),
 * and has the subject CN `serverName` (default "triples", the dev PKI name of the service): with a shared CA, any party's
 * certificate would otherwise pass as the dealer.
 *
 * Message size: allows `maxMessageBytes` (default 256 MiB) in both directions, as the service.
 */
import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { endianness } from 'node:os';
import tls from 'node:tls';
import { DesyncError, ProtocolAbort, ValidationError } from '../../base/errors.ts';
import { aint } from '../../base/validate.ts';
import { SEED_BYTES } from '../../crypto/prg.ts';
import { SECURITY_MODES, type SecurityMode } from '../../preprocessing/dealer-session.ts';
import type { TripleSource } from '../../preprocessing/material.ts';
import {
  DEFAULT_REQUEST_LIMITS,
  DescriptorTripleSource,
  dealtElements,
  dealtShapes,
  formatMaterialKey,
  type FetchedMaterial,
  type MaterialDescriptor,
} from '../../preprocessing/material-request.ts';
import { expandMessage, messageBytes, type PartyMessage } from '../../preprocessing/seeded-deal.ts';
import { Z128, Z64, type Ring } from '../../ring/ring.ts';
import { tensor, zeros, type RingTensor } from '../../ring/tensor.ts';
import type { MaterialRequest, MaterialResponse, TripleServiceClient } from '../gen/mpc_prompt/v1/triples.ts';
import { KEEPALIVE_TIMEOUT_MS } from '../grpc-common.ts';
import type { TlsIdentity } from '../pki.ts';
import { TRIPLE_SERVICE_DEFINITION } from './material-response-codec.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_BATCH_KEYS } from './triple-server.ts';

export const DEFAULT_SERVICE_NAME = 'triples';

/** The generated client class, decoding responses with material-response-codec.ts (no copies). */
const TripleServiceClientClass = grpc.makeGenericClientConstructor(
  TRIPLE_SERVICE_DEFINITION,
  'mpc_prompt.v1.TripleService',
) as unknown as new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => TripleServiceClient;

export interface TripleClientOptions {
  /** host:port of the service. */
  readonly address: string;
  /** This party's CA, certificate (CN party-…) and key (PEM). */
  readonly identity: TlsIdentity;
  readonly sessionId: string;
  readonly partyIndex: number;
  readonly parties: number;
  readonly mode: SecurityMode;
  /** Expected subject CN of the service's certificate (default "triples"). */
  readonly serverName?: string;
  /**
   * Name the service certificate's SANs must match, also sent as TLS SNI (default: the address's
   * host, or `serverName` when the host is an IP literal, which SNI cannot carry).
   */
  readonly tlsServerName?: string;
  /** grpc max send/receive message length (default 256 MiB). */
  readonly maxMessageBytes?: number;
  /** How long to wait for the reply to OpenSession (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Largest request in dealt elements before splitting (default 2^23, malicious 2^21). */
  readonly chunkElements?: number;
  /** HTTP/2 receive window of the stream and connection (default {@link DEFAULT_RECEIVE_WINDOW_BYTES}). */
  readonly receiveWindowBytes?: number;
}

/**
 * The HTTP/2 flow-control window this party advertises for the material stream: how many bytes
 * the service may send before the party acknowledges them. Node's default, 65,535 bytes, makes
 * the service wait for a WINDOW_UPDATE every 64 KiB of dealt words, and the party sends one only
 * when its event loop reads the data, i.e. between two pieces of its computation; the party that
 * gets explicit words receives ≈ 600–700 bytes per softmax score alone (counted in process), i.e.
 * ≈ 90–100 MB per GPT-2-small decode step at context 1,018. With 32 MiB the service
 * sends a requested batch whole while the party computes (it only sends what was requested, so
 * the window does not raise what the party holds). Measured (`mpc-prompt bench`, context 64,
 * two pairs in both orders): 545 / 517 against 600 / 564 ms per token (README, lever 31).
 */
export const DEFAULT_RECEIVE_WINDOW_BYTES = 32 << 20;
/** HTTP/2's bounds on a flow-control window (RFC 9113 §6.9.1). */
const MIN_WINDOW_BYTES = 65_535;
const MAX_WINDOW_BYTES = 2 ** 31 - 1;

/** The triple service failed, refused, or is unreachable; `code` is the gRPC status if any. */
export class TripleServiceError extends ProtocolAbort {
  override readonly name: string = 'TripleServiceError';
  constructor(
    message: string,
    readonly code: grpc.status | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface TripleServiceSource extends TripleSource {
  /** Ends the stream; pending and later requests reject. */
  close(): void;
  /** Why the source stopped working, once it has. */
  readonly failure: Error | undefined;
  /**
   * Bytes of explicit words that arrived 8-byte misaligned and were copied (the service aligns
   * them for grpc-js receivers, material-response-codec.ts, so this stays 0 unless that breaks).
   */
  readonly misalignedBytes: number;
}

/** Opens this party's stream and session; resolves once the service accepted OpenSession. */
export async function connectTripleService(o: TripleClientOptions): Promise<TripleServiceSource> {
  if (endianness() !== 'LE') throw new Error('triple client: little-endian hosts only (words travel as LE 64-bit)');
  if (!SECURITY_MODES.includes(o.mode)) throw new ValidationError(`unknown security mode ${JSON.stringify(o.mode)}`, 'mode');
  if (!Number.isInteger(o.parties) || o.parties < 2) throw new ValidationError(`need at least 2 parties, got ${o.parties}`, 'parties');
  if (!Number.isInteger(o.partyIndex) || o.partyIndex < 0 || o.partyIndex >= o.parties)
    throw new ValidationError(`must be in [0, ${o.parties - 1}], got ${o.partyIndex}`, 'partyIndex');
  if (o.receiveWindowBytes !== undefined) aint(o.receiveWindowBytes, 'receiveWindowBytes', MIN_WINDOW_BYTES, MAX_WINDOW_BYTES);
  const client = new TripleClient(o);
  await client.open(o.connectTimeoutMs ?? 10_000);
  return client;
}

interface Pending {
  resolve(res: MaterialResponse): void;
  reject(err: Error): void;
}

class TripleClient extends DescriptorTripleSource implements TripleServiceSource {
  readonly name = 'triple-service';
  readonly #o: TripleClientOptions;
  readonly #ring: Ring;
  readonly #client: TripleServiceClient;
  readonly #call: grpc.ClientDuplexStream<MaterialRequest, MaterialResponse>;
  readonly #pending: Pending[] = [];
  /** Keys waiting for the next flush (see #requestKey). */
  readonly #outbox: string[] = [];
  /** Per-request bound on dealt elements (what fits in one message). */
  readonly #maxElements: number;
  #failure: Error | undefined;
  #macKeyShare: bigint | undefined;

  constructor(o: TripleClientOptions) {
    super();
    this.#o = o;
    this.#ring = o.mode === 'malicious' ? Z128 : Z64;
    const maxMessageBytes = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#maxElements = Math.max(DEFAULT_REQUEST_LIMITS.maxElements, Math.ceil(maxMessageBytes / 8));
    // Stay well inside one message of the service's default limits (2^25 elements, 256 MiB).
    this.chunkElements = o.chunkElements ?? (o.mode === 'malicious' ? 1 << 21 : 1 << 23);
    const serverName = o.serverName ?? DEFAULT_SERVICE_NAME;
    const creds = grpc.credentials.createSsl(Buffer.from(o.identity.ca), Buffer.from(o.identity.key), Buffer.from(o.identity.cert), {
      checkServerIdentity: (host, cert) => {
        const err = tls.checkServerIdentity(host, cert);
        if (err) return err;
        const cn: unknown = cert.subject?.CN;
        return cn === serverName ? undefined : new Error(`triple service certificate CN ${String(cn)}, expected ${serverName}`);
      },
    });
    const host = o.address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    const tlsName = o.tlsServerName ?? (isIP(host) ? serverName : undefined);
    this.#client = new TripleServiceClientClass(o.address, creds, {
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
      'grpc.keepalive_time_ms': 20_000,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      'grpc-node.flow_control_window': o.receiveWindowBytes ?? DEFAULT_RECEIVE_WINDOW_BYTES,
      ...(tlsName ? { 'grpc.ssl_target_name_override': tlsName, 'grpc.default_authority': tlsName } : {}),
    });
    this.#call = this.#client.material();
    this.#call.on('data', (res: MaterialResponse) => this.#onResponse(res));
    this.#call.on('error', (err: grpc.ServiceError) => this.#fail(statusError(err.code, err.details || err.message)));
    this.#call.on('status', (st: grpc.StatusObject) => this.#fail(statusError(st.code, st.details)));
    this.#call.on('end', () => this.#fail(new TripleServiceError('triple service unavailable: the stream ended', undefined)));
  }

  misalignedBytes = 0;

  get failure(): Error | undefined {
    return this.#failure;
  }

  async open(timeoutMs: number): Promise<void> {
    const o = this.#o;
    const reply = this.#request({ open: { sessionId: o.sessionId, partyIndex: o.partyIndex, parties: o.parties, securityMode: o.mode } });
    const timer = setTimeout(
      () =>
        this.#fail(
          new TripleServiceError(
            `triple service unavailable: no reply to OpenSession within ${timeoutMs} ms`,
            grpc.status.DEADLINE_EXCEEDED,
          ),
        ),
      timeoutMs,
    );
    try {
      const res = await reply;
      const share = res.macKeyShare;
      const want = o.mode === 'malicious' ? 16 : 0;
      if (share === undefined || share.length !== want)
        throw this.#malformed(`OpenSession reply: MAC key share of ${share?.length ?? 'no'} bytes, expected ${want}`);
      this.#macKeyShare = want === 0 ? undefined : share.readBigUInt64LE(0) | (share.readBigUInt64LE(8) << 64n);
    } catch (e) {
      this.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async macKeyShare(): Promise<bigint | undefined> {
    return this.#macKeyShare;
  }

  close(): void {
    this.#fail(new TripleServiceError('triple service client closed', undefined));
  }

  protected async fetch(d: MaterialDescriptor): Promise<FetchedMaterial> {
    const res = await this.#requestKey(formatMaterialKey(d));
    try {
      return this.#decode(d, res);
    } catch (e) {
      const err = e instanceof ProtocolAbort ? e : this.#malformed(e instanceof Error ? e.message : String(e));
      this.#fail(err);
      throw err;
    }
  }

  #decode(d: MaterialDescriptor, res: MaterialResponse): FetchedMaterial {
    let message: PartyMessage;
    if (res.seed !== undefined) {
      if (res.seed.length !== SEED_BYTES) throw this.#malformed(`seed of ${res.seed.length} bytes`);
      message = { kind: 'seed', seed: new Uint8Array(res.seed) };
    } else if (res.words !== undefined) {
      const words = bufferToWords(res.words, 'words');
      if (words.buffer !== res.words.buffer) this.misalignedBytes += res.words.length; // copied to align
      message = { kind: 'explicit', words };
    } else {
      throw this.#malformed('neither seed nor words');
    }
    const shapes = this.#shapes(d, res.shapesJson);
    const parts = expandMessage(message, this.#ring, shapes, this.#o.mode === 'malicious');
    let clear: RingTensor | undefined;
    if (d.kind === 'input' && d.owner === this.#o.partyIndex) {
      const words = bufferToWords(res.clear, 'clear');
      clear = d.size === 0 ? zeros(this.#ring, [0]) : tensor(this.#ring, [d.size], words);
    } else if (res.clear.length > 0) {
      throw this.#malformed('a clear mask for a request this party does not own');
    }
    this.stats.requests++;
    this.stats.bytesReceived += messageBytes(message) + (clear?.data.byteLength ?? 0);
    return { parts, clear };
  }

  /** The shapes of the response, checked against the request. */
  #shapes(d: MaterialDescriptor, json: string): number[][] {
    let shapes: unknown;
    try {
      shapes = JSON.parse(json);
    } catch {
      throw this.#malformed('shapes_json is not JSON');
    }
    const ok =
      Array.isArray(shapes) &&
      shapes.every(
        (s) => Array.isArray(s) && s.every((x) => Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= this.#maxElements),
      );
    if (!ok) throw this.#malformed(`shapes_json ${json.slice(0, 100)} is not a list of shapes`);
    const got = shapes as number[][];
    let expected: number[][];
    if (d.kind === 'fixedTriple') {
      // The operand's shape is dealer state: [m, k|n] and [m, n|k].
      if (got.length !== 2 || got.some((s) => s.length !== 2 || s[0] !== d.m))
        throw this.#malformed(`shapes ${json} for ${formatMaterialKey(d)}`);
      const operand = d.transposed ? [got[1][1], got[0][1]] : [got[0][1], got[1][1]];
      if (dealtElements(d, operand) > this.#maxElements) throw this.#malformed(`shapes ${json} exceed one message`);
      expected = dealtShapes(d, operand);
    } else {
      expected = dealtShapes(d);
    }
    if (JSON.stringify(expected) !== JSON.stringify(got)) throw this.#malformed(`shapes ${json} for ${formatMaterialKey(d)}`);
    return got;
  }

  #malformed(what: string): TripleServiceError {
    return new TripleServiceError(`triple service sent a malformed response: ${what}`, undefined);
  }

  #request(req: MaterialRequest): Promise<MaterialResponse> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<MaterialResponse>((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#call.write(req);
    });
  }

  /**
   * Queues a key; keys queued in the same synchronous stretch (e.g. every request of a protocol
   * step, issued before any is awaited) leave as one KeyBatch message when the microtask queue
   * runs. The service serves a batch exactly as the keys one by one, so order and indices are kept.
   */
  #requestKey(key: string): Promise<MaterialResponse> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<MaterialResponse>((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#outbox.push(key);
      if (this.#outbox.length === 1) queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    const keys = this.#outbox.splice(0);
    if (this.#failure) return;
    for (let i = 0; i < keys.length; i += MAX_BATCH_KEYS) {
      const part = keys.slice(i, i + MAX_BATCH_KEYS);
      this.#call.write(part.length === 1 ? { key: part[0] } : { batch: { keys: part } });
    }
  }

  #onResponse(res: MaterialResponse): void {
    if (this.#failure) return;
    if (res.items.length > 0) {
      for (const item of res.items) {
        if (item.items.length > 0) return this.#fail(this.#malformed('a batched reply inside a batched reply'));
        this.#onResponse(item);
      }
      return;
    }
    const head = this.#pending.shift();
    if (res.error !== '') {
      const err =
        res.errorKind === 'desync'
          ? new DesyncError(`triple service: ${res.error}`)
          : new TripleServiceError(
              `triple service refused the request: ${res.error}${res.errorKind ? ` (${res.errorKind})` : ''}`,
              undefined,
            );
      head?.reject(err);
      return this.#fail(err);
    }
    if (!head) return this.#fail(this.#malformed('a response without a request'));
    head.resolve(res);
  }

  /** Stops the source: rejects every pending request, and all later ones, with `err`. */
  #fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    for (const p of this.#pending.splice(0)) p.reject(err);
    this.#call.end();
    this.#call.cancel();
    this.#client.close();
  }
}

/** Statuses by which the service refuses a session (anything else: it failed or is unreachable). */
const REFUSALS = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.ALREADY_EXISTS,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
  grpc.status.RESOURCE_EXHAUSTED,
]);

function statusError(code: grpc.status, details: string): TripleServiceError {
  const name = grpc.status[code] ?? String(code);
  if (code === grpc.status.OK) return new TripleServiceError('triple service unavailable: the stream ended', code);
  const prefix = REFUSALS.has(code) ? 'triple service refused' : 'triple service unavailable';
  return new TripleServiceError(`${prefix}: ${name}: ${details}`, code);
}

/** LE 64-bit words; copies into an aligned buffer when needed. */
function bufferToWords(b: Buffer, what: string): BigUint64Array {
  if (b.length % 8 !== 0) throw new TripleServiceError(`triple service sent a malformed response: ${what} of ${b.length} bytes`, undefined);
  if (b.byteOffset % 8 === 0) return new BigUint64Array(b.buffer, b.byteOffset, b.length / 8);
  const words = new BigUint64Array(b.length / 8);
  new Uint8Array(words.buffer).set(b);
  return words;
}
