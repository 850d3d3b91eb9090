/**
 * Session bookkeeping and scheduling for the coordinator (no gRPC here).
 *
 * A session is named by its clients; it waits until every configured party has submitted its
 * part, then queues; the scheduler starts up to `maxConcurrent` sessions, each on all party nodes.
 * Tokens are released to subscribers only when every node has reported the same token at the
 * same step (a node reporting something else fails the session). A session ends `done`,
 * `failed` (any node error, a node disconnect, a disagreement) or `cancelled` (client request or
 * deadline); its failure never touches other sessions.
 */
import type { SessionStats, TokenEvent } from '../gen/mpc_prompt/v1/coordinator.ts';

export type SessionState = 'waiting_for_parts' | 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Part {
  readonly length: number;
  /** Sealed share per node id. */
  readonly sealed: ReadonlyMap<string, Uint8Array>;
}

export interface Session {
  readonly id: string;
  readonly name: string;
  state: SessionState;
  readonly parts: Map<string, Part>;
  maxNewTokens: number;
  sampling: { topK: number; temperature: number; seed: string };
  deadline: number;
  readonly tokens: number[];
  /** Per node: the tokens it has reported so far. */
  readonly reports: Map<string, number[]>;
  readonly doneFrom: Map<string, SessionStats>;
  error: string;
  readonly subscribers: Set<(e: TokenEvent) => void>;
  timer: NodeJS.Timeout | undefined;
}

export interface SchedulerHooks {
  /** Sends the session to every node; throws (with a safe message) if a node is unavailable. */
  start(s: Session): void;
  /** Tells every node to stop the session. */
  stop(s: Session): void;
  onChange(): void;
}

export class SessionStore {
  readonly sessions = new Map<string, Session>();
  readonly #queue: Session[] = [];
  #counter = 0;

  constructor(
    readonly nodes: readonly string[],
    readonly maxConcurrent: number,
    readonly timeoutMs: number,
    private readonly hooks: SchedulerHooks,
  ) {}

  byName(name: string): Session | undefined {
    for (const s of this.sessions.values()) if (s.name === name && s.state === 'waiting_for_parts') return s;
    return undefined;
  }

  create(name: string): Session {
    const id = `s-${Date.now().toString(36)}-${(this.#counter++).toString(36)}`;
    const s: Session = {
      id,
      name,
      state: 'waiting_for_parts',
      parts: new Map(),
      maxNewTokens: 0,
      sampling: { topK: 0, temperature: 1, seed: '' },
      deadline: Date.now() + this.timeoutMs,
      tokens: [],
      reports: new Map(this.nodes.map((n) => [n, []])),
      doneFrom: new Map(),
      error: '',
      subscribers: new Set(),
      timer: undefined,
    };
    this.sessions.set(id, s);
    return s;
  }

  /** Called after a part is added: queues the session once every party has contributed. */
  maybeQueue(s: Session): void {
    if (s.state !== 'waiting_for_parts' || s.parts.size < this.nodes.length) return;
    s.state = 'queued';
    this.#queue.push(s);
    this.pump();
  }

  running(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.state === 'running') n++;
    return n;
  }

  pump(): void {
    while (this.#queue.length > 0 && this.running() < this.maxConcurrent) {
      const s = this.#queue.shift() as Session;
      if (s.state !== 'queued') continue;
      s.state = 'running';
      s.deadline = Date.now() + this.timeoutMs;
      s.timer = setTimeout(() => this.cancel(s, `deadline exceeded after ${this.timeoutMs / 1000} s`), this.timeoutMs);
      try {
        this.hooks.start(s);
      } catch (e) {
        this.fail(s, (e as Error).message);
      }
    }
    this.hooks.onChange();
  }

  /** A node reported token `id` at step `index`. */
  token(s: Session, node: string, index: number, id: number): void {
    if (s.state !== 'running') return;
    const mine = s.reports.get(node) as number[];
    if (index !== mine.length) return this.fail(s, `node ${node} reported token ${index} out of order`);
    mine.push(id);
    if (s.tokens.length !== index) return;
    const all = [...s.reports.values()];
    if (all.some((r) => r.length > index && r[index] !== id)) return this.fail(s, `nodes disagree on token ${index}`);
    if (all.every((r) => r.length > index)) {
      s.tokens.push(id);
      this.#emit(s, { token: { index, tokenId: id } });
    }
  }

  done(s: Session, node: string, stats: SessionStats): void {
    if (s.state !== 'running') return;
    s.doneFrom.set(node, stats);
    if (s.doneFrom.size < this.nodes.length) return;
    this.#finish(s, 'done');
    this.#emit(s, { done: s.doneFrom.get(this.nodes[0]) as SessionStats });
  }

  fail(s: Session, error: string): void {
    this.#end(s, 'failed', error);
  }

  cancel(s: Session, reason: string): void {
    this.#end(s, 'cancelled', reason);
  }

  /** Ends an unfinished session with an error event; running sessions are stopped on every node. */
  #end(s: Session, state: 'failed' | 'cancelled', reason: string): void {
    if (s.state === 'done' || s.state === 'failed' || s.state === 'cancelled') return;
    const wasRunning = s.state === 'running';
    s.error = reason;
    this.#finish(s, state);
    if (wasRunning) this.hooks.stop(s);
    this.#emit(s, { error: reason });
  }

  /** A node went away: every running session on it fails. */
  nodeLost(node: string): void {
    for (const s of this.sessions.values()) if (s.state === 'running') this.fail(s, `party node ${node} disconnected`);
  }

  #finish(s: Session, state: SessionState): void {
    s.state = state;
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    for (const p of s.parts.values()) (p.sealed as Map<string, Uint8Array>).clear();
    queueMicrotask(() => this.pump());
  }

  #emit(s: Session, e: TokenEvent): void {
    for (const fn of s.subscribers) fn(e);
    this.hooks.onChange();
  }
}
