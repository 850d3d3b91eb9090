/**
 * The Channel between parties on different hosts: one mutually-authenticated TLS 1.3 connection
 * (node:tls, TCP_NODELAY) per pair of parties.
 *
 * Setup ({@link connectTlsNetwork}): every party but the last accepts on a {@link TlsListener};
 * for each pair i < j, party j dials party i (retrying while i starts up). Both ends present a
 * certificate from the shared CA. The dialer checks that the listener's certificate has the CN
 * expected for party i; its first frame is a hello `{v, session, from: j, to: i}`, and the
 * listener accepts only if the certificate's CN is the one expected for party j, then replies
 * `{ok: true}` (or `{ok: false, error}` and closes). So every link is bound to a verified party
 * id; nothing else is authenticated (the session id only routes). One listener serves several
 * concurrent sessions: the hello names the session, and connections for a session not yet
 * registered wait (up to `handshakeTimeoutMs`) until it is.
 *
 * Frames: u32 big-endian payload length + payload. Length 0xFFFFFFFF marks the next frame as a
 * goodbye `{abort, reason?}`, sent by close(). Costs per message: one copy on send, at most one
 * on receive (a chunk-list reader assembles each payload once), 4 header bytes, TLS record
 * overhead (~22 bytes per ≤16 KiB record). Setup: per pair, one TLS 1.3 handshake plus one round
 * trip for hello/reply. Stats count payload bytes only. Sends are not flow-controlled
 * (lock-step protocols bound what is in flight). Frames above `maxFrameBytes` are refused.
 *
 * Endings: close() is a normal end: each peer fails receives from this party (after any frames
 * already queued) with "peer i closed the channel". close(reason) aborts: peers fail every
 * receive with "peer i closed the channel: reason" and abort too. A connection lost without a
 * goodbye, or an oversize frame, aborts the session with "peer i disconnected" / "... frame".
 */
import tls, { type TLSSocket } from 'node:tls';
import { ProtocolAbort } from '../base/errors.ts';
import { CountingChannel } from './channel.ts';

export const DEFAULT_MAX_FRAME_BYTES = 256 << 20;
const HELLO_MAX_BYTES = 4096;
const GOODBYE = 0xffffffff;
const RETRY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** PEM strings: the CA to trust, this party's certificate and its key. */
export interface TlsCredentials {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The subject CN of the peer's certificate if TLS verified it against the CA, else undefined. */
export function peerCommonName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cn: unknown = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

const encodeJson = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
function decodeJson(b: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(b));
    if (v !== null && typeof v === 'object') return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ProtocolAbort(`malformed ${what}`);
}

/** One TLS connection: framing, a FIFO of received payloads, and how it ended. */
class Link {
  peer = -1;
  maxFrame = HELLO_MAX_BYTES;
  socketError: Error | undefined;
  /** Set when the peer ended the link (abort: the session is lost); read by the channel. */
  ended: { err: Error; abort: boolean } | undefined;
  onEnd: ((err: Error, abort: boolean) => void) | undefined;
  #items: Uint8Array[] = [];
  #waiters: { resolve: (d: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  #failed: Error | undefined;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = -1; // payload length of the frame being read; -1 while reading a header
  #goodbye = false;
  #sentGoodbye = false;

  constructor(readonly socket: TLSSocket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#push(chunk));
    socket.on('error', (e) => (this.socketError ??= e));
    socket.on('close', () => this.#peerEnded(new ProtocolAbort(`${this.#who()} disconnected`, { cause: this.socketError }), true));
  }

  send(data: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    if (data.length > this.maxFrame) throw new ProtocolAbort(`frame of ${data.length} bytes to ${this.#who()} exceeds ${this.maxFrame}`);
    this.#write(data, false);
  }

  next(): Promise<Uint8Array> {
    const item = this.#items.shift();
    if (item) return Promise.resolve(item);
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Fails pending and future receives (queued frames are still delivered first). First error wins. */
  fail(err: Error): void {
    this.#failed ??= err;
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed);
  }

  /** Sends a goodbye (reason only if aborting), then closes; destroyed if not closed within 2 s. */
  end(err: Error, abort: boolean): void {
    this.fail(err);
    if (!this.#sentGoodbye && this.socket.writable) {
      this.#sentGoodbye = true;
      this.#write(encodeJson(abort ? { abort, reason: err.message.slice(0, 500) } : { abort }), true);
    }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  #write(data: Uint8Array, goodbye: boolean): void {
    const h = goodbye ? 8 : 4;
    const frame = Buffer.allocUnsafe(h + data.length);
    if (goodbye) frame.writeUInt32BE(GOODBYE, 0);
    frame.writeUInt32BE(data.length, h - 4);
    frame.set(data, h);
    this.socket.write(frame);
  }

  #who(): string {
    return this.peer >= 0 ? `peer ${this.peer}` : 'an unidentified peer';
  }

  #peerEnded(err: Error, abort: boolean): void {
    if (this.ended) return;
    this.ended = { err, abort };
    this.fail(err);
    this.onEnd?.(err, abort);
  }

  /** Chunk-list frame reader: keeps incoming chunks and assembles each payload exactly once. */
  #push(chunk: Buffer): void {
    if (this.ended) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) return;
        const h = this.#take(4);
        const len = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
        if (len === GOODBYE && !this.#goodbye) {
          this.#goodbye = true;
          continue;
        }
        if (len > this.maxFrame) {
          this.#peerEnded(new ProtocolAbort(`${this.#who()} sent a frame of ${len} bytes (max ${this.maxFrame})`), true);
          this.socket.destroy();
          return;
        }
        this.#need = len;
      }
      if (this.#buffered < this.#need) return;
      const payload = this.#take(this.#need);
      this.#need = -1;
      if (this.#goodbye) return this.#onGoodbye(payload);
      const w = this.#waiters.shift();
      if (w) w.resolve(payload);
      else this.#items.push(payload);
    }
  }

  #onGoodbye(payload: Uint8Array): void {
    const { abort, reason } = decodeJson(payload, 'goodbye');
    const suffix = abort ? `: ${String(reason)}` : '';
    this.#peerEnded(new ProtocolAbort(`${this.#who()} closed the channel${suffix}`), abort !== false);
  }

  /** The next k buffered bytes as a fresh Uint8Array (no view into a larger socket chunk). */
  #take(k: number): Uint8Array {
    if (k === 0) return new Uint8Array(0);
    this.#buffered -= k;
    const first = this.#chunks[0];
    if (first.length === k) {
      this.#chunks.shift();
      return new Uint8Array(first.buffer, first.byteOffset, k);
    }
    if (first.length > k) {
      this.#chunks[0] = first.subarray(k);
      return new Uint8Array(first.subarray(0, k));
    }
    const out = new Uint8Array(k);
    for (let off = 0; off < k;) {
      const c = this.#chunks[0];
      const m = Math.min(c.length, k - off);
      out.set(c.subarray(0, m), off);
      off += m;
      if (m === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(m);
    }
    return out;
  }
}

type Claim = (hello: Hello, link: Link) => void;
interface Hello {
  readonly session: string;
  readonly from: number;
  readonly to: number;
}

/**
 * Accepts mTLS connections (client certificate required, verified against the CA), reads each
 * connection's hello and hands the link to the session it names. Shared by concurrent sessions.
 */
export class TlsListener {
  readonly #sessions = new Map<string, Claim>();
  readonly #parked = new Set<{ hello: Hello; link: Link; timer: NodeJS.Timeout }>();

  private constructor(
    readonly server: tls.Server,
    readonly handshakeTimeoutMs: number,
  ) {
    server.on('secureConnection', (socket) => this.#accept(socket));
    server.on('tlsClientError', () => {}); // a failed handshake (e.g. unknown CA): the socket is dropped
  }

  static listen(o: { tls: TlsCredentials; host?: string; port?: number; handshakeTimeoutMs?: number }): Promise<TlsListener> {
    const { ca, cert, key } = o.tls;
    const server = tls.createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve(new TlsListener(server, o.handshakeTimeoutMs ?? 30_000));
      });
    });
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Routes connections for `session` to `claim` (including ones already waiting); returns unregister. */
  register(session: string, claim: Claim): () => void {
    if (this.#sessions.has(session)) throw new ProtocolAbort(`session ${session} is already registered on this listener`);
    this.#sessions.set(session, claim);
    for (const p of this.#parked) {
      if (p.hello.session !== session) continue;
      this.#parked.delete(p);
      clearTimeout(p.timer);
      if (!p.link.ended) claim(p.hello, p.link);
    }
    return () => this.#sessions.get(session) === claim && this.#sessions.delete(session);
  }

  /** Stops accepting and drops waiting connections; established sessions are unaffected. */
  close(): void {
    for (const p of this.#parked) p.link.socket.destroy();
    this.#parked.clear();
    this.server.close();
  }

  #accept(socket: TLSSocket): void {
    const link = new Link(socket);
    const timer = setTimeout(() => socket.destroy(), this.handshakeTimeoutMs);
    const onHello = (bytes: Uint8Array): void => {
      const h = decodeJson(bytes, 'hello');
      if (h.v !== 1 || typeof h.session !== 'string' || !Number.isInteger(h.from) || !Number.isInteger(h.to)) {
        return refuse(link, 'malformed hello');
      }
      const hello: Hello = { session: h.session, from: h.from as number, to: h.to as number };
      const claim = this.#sessions.get(hello.session);
      if (claim) return claim(hello, link);
      if (this.#parked.size >= 256) return refuse(link, 'too many pending connections');
      const p = { hello, link, timer: setTimeout(() => this.#parked.delete(p) && socket.destroy(), this.handshakeTimeoutMs) };
      this.#parked.add(p);
    };
    link
      .next()
      .then(onHello)
      .catch(() => socket.destroy())
      .finally(() => clearTimeout(timer));
  }
}

/** Tells the dialer why it was refused (it does not retry), then closes. */
function refuse(link: Link, error: string): void {
  try {
    link.send(encodeJson({ ok: false, error }));
  } catch {
    // already closed
  }
  link.end(new ProtocolAbort(`refused: ${error}`), false);
}

export interface TlsNetworkOptions {
  readonly id: number;
  readonly n: number;
  /** Routes connections on shared listeners; must be the same at every party (default 'default'). */
  readonly sessionId?: string;
  /** Where each party listens (index = party id); the last party never listens. */
  readonly addresses: readonly { readonly host: string; readonly port: number }[];
  /** Expected certificate CN of each party (index = party id). */
  readonly identities: readonly string[];
  readonly tls: TlsCredentials;
  /** Accept on this listener (may be shared by sessions); else one is opened at addresses[id] for setup only. */
  readonly listener?: TlsListener;
  readonly maxFrameBytes?: number;
  /** Give up if not every peer is connected by then (default 10 s); dials are retried until then. */
  readonly connectTimeoutMs?: number;
  readonly retryDelayMs?: number;
}

/** Channel over one mTLS link per peer; see the module comment for framing and endings. */
export class TlsChannel extends CountingChannel {
  #closed: Error | undefined;

  constructor(
    id: number,
    n: number,
    private readonly links: readonly (Link | undefined)[],
  ) {
    super(id, n);
    for (const link of links) if (link) link.onEnd = (err, abort) => abort && this.#shutdown(err, true);
    const lost = links.find((l) => l?.ended?.abort)?.ended;
    if (lost) this.#shutdown(lost.err, true);
  }

  /** The connection to peer j (diagnostics, fault-injection tests). */
  socketTo(j: number): TLSSocket {
    return (this.links[j] as Link).socket;
  }

  protected deliver(to: number, data: Uint8Array): void {
    if (this.#closed) throw this.#closed;
    (this.links[to] as Link).send(data);
  }

  protected take(from: number): Promise<Uint8Array> {
    return (this.links[from] as Link).next();
  }

  /** close(): normal end. close(reason): abort, propagated to the peers. */
  close(reason?: Error): void {
    this.#shutdown(reason ?? new ProtocolAbort(`party ${this.id} closed the channel`), reason !== undefined);
  }

  #shutdown(err: Error, abort: boolean): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const link of this.links) link?.end(err, abort);
  }
}

/** Connects party `id` to every peer (see module comment) and resolves when all n−1 links are up. */
export async function connectTlsNetwork(o: TlsNetworkOptions): Promise<TlsChannel> {
  const { id, n, identities } = o;
  if (!(Number.isInteger(id) && id >= 0 && id < n && o.addresses.length === n && identities.length === n && n >= 2)) {
    throw new RangeError(`connectTlsNetwork: bad party ${id} of ${n}, or addresses/identities not of length n`);
  }
  const maxFrame = o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const setup: Setup = { deadline: Date.now() + (o.connectTimeoutMs ?? 10_000), maxFrame, open: new Set(), failed: false };
  const owned = !o.listener && id < n - 1 ? await TlsListener.listen({ tls: o.tls, ...o.addresses[id] }) : undefined;
  const waiting = new Map<number, (l: Link) => void>();
  const accepted = Array.from({ length: n - 1 - id }, (_, k) => new Promise<Link>((resolve) => waiting.set(id + 1 + k, resolve)));
  const unregister = (o.listener ?? owned)?.register(o.sessionId ?? 'default', (hello, link) => {
    const cn = peerCommonName(link.socket);
    const resolve = waiting.get(hello.from);
    if (hello.to !== id) return refuse(link, `this is party ${id}, not ${hello.to}`);
    if (!resolve) return refuse(link, `unexpected or duplicate party ${hello.from}`);
    if (cn !== identities[hello.from]) return refuse(link, `certificate CN ${cn} is not the identity of party ${hello.from}`);
    waiting.delete(hello.from);
    setup.open.add(Object.assign(link, { peer: hello.from, maxFrame }));
    link.send(encodeJson({ ok: true }));
    resolve(link);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const err = () => new ProtocolAbort(`party ${id}: peers ${[...waiting.keys()]} did not connect in time`);
    timer = setTimeout(() => reject(err()), setup.deadline - Date.now());
  });
  try {
    const dialed = Array.from({ length: id }, (_, i) => dial(o, i, setup));
    const all = await Promise.race([Promise.all([...dialed, ...accepted]), timeout]);
    return new TlsChannel(id, n, [...all.slice(0, id), undefined, ...all.slice(id)]);
  } catch (e) {
    setup.failed = true;
    for (const l of setup.open) l.socket.destroy();
    throw e;
  } finally {
    clearTimeout(timer);
    unregister?.();
    owned?.close();
  }
}

/** State shared by the dials and accepts of one connectTlsNetwork call (to clean up on failure). */
interface Setup {
  readonly deadline: number;
  readonly maxFrame: number;
  readonly open: Set<Link>;
  failed: boolean;
}

/** Dials party i, retrying transport errors until the deadline; fails at once on TLS or identity errors. */
async function dial(o: TlsNetworkOptions, i: number, setup: Setup): Promise<Link> {
  const { host, port } = o.addresses[i];
  const delay = o.retryDelayMs ?? 100;
  const checkServerIdentity = (h: string, cert: tls.PeerCertificate): Error | undefined =>
    tls.checkServerIdentity(h, cert) ??
    (cert.subject?.CN === o.identities[i]
      ? undefined
      : new ProtocolAbort(`listener certificate CN ${cert.subject?.CN} is not ${o.identities[i]}`));
  for (;;) {
    let link: Link | undefined;
    try {
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tls.connect({ host, port, ...o.tls, minVersion: 'TLSv1.3', checkServerIdentity });
        s.once('secureConnect', () => resolve(s)).on('error', reject);
      });
      link = Object.assign(new Link(socket), { peer: i, maxFrame: setup.maxFrame });
      if (setup.failed) throw new ProtocolAbort('setup abandoned');
      setup.open.add(link);
      link.send(encodeJson({ v: 1, session: o.sessionId ?? 'default', from: o.id, to: i }));
      const ack = decodeJson(await link.next(), 'hello reply');
      if (ack.ok !== true) throw new ProtocolAbort(`refused the connection: ${String(ack.error)}`);
      return link;
    } catch (e) {
      link?.socket.destroy();
      // Retry only transport errors (nobody listening yet, reset). A clean close before the reply
      // is how TLS 1.3 rejects our certificate: fatal, like a refusal or a bad server certificate.
      const code = ((link ? link.socketError : e) as NodeJS.ErrnoException | undefined)?.code;
      const where = `party ${o.id} → party ${i} at ${host}:${port}`;
      const why = link?.ended && !link.socketError ? 'closed before replying (our certificate was rejected?)' : (e as Error).message;
      if (!RETRY_CODES.has(code ?? '')) throw new ProtocolAbort(`${where}: ${why}`, { cause: e });
      if (setup.failed || Date.now() + delay >= setup.deadline) throw new ProtocolAbort(`${where}: unreachable`, { cause: e });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
