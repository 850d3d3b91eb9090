/**
 * The party-to-party channel every protocol talks through.
 *
 * Messages between a pair of parties are delivered in order (per-pair FIFO); protocols are
 * deterministic and run in lock-step, so no tags are needed. Implementations: `memory-channel.ts`
 * (one process, for protocol tests) and the mTLS transport in services/.
 *
 * Accounting (what the cost tests assert): `bytesSent` counts payload bytes this party sent;
 * `rounds` counts communication rounds: a round starts with the first send after this party has
 * received (or the very first send), so one `exchange` is exactly one round.
 */
export interface ChannelStats {
  rounds: number;
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
}

export interface Channel {
  readonly id: number;
  readonly n: number;
  send(to: number, data: Uint8Array): void;
  receive(from: number): Promise<Uint8Array>;
  /**
   * One round: sends `outgoing` (the same bytes to every peer, or `outgoing[j]` to peer j) and
   * resolves with what every party sent to this one (own slot: own outgoing message).
   */
  exchange(outgoing: Uint8Array | readonly Uint8Array[]): Promise<Uint8Array[]>;
  readonly stats: Readonly<ChannelStats>;
  /** Fails every pending and future receive with `reason`. */
  close(reason?: Error): void;
}

export function emptyStats(): ChannelStats {
  return { rounds: 0, bytesSent: 0, bytesReceived: 0, messagesSent: 0 };
}

/** Difference of two stats snapshots (for per-operation cost measurement). */
export function statsDelta(after: Readonly<ChannelStats>, before: Readonly<ChannelStats>): ChannelStats {
  return {
    rounds: after.rounds - before.rounds,
    bytesSent: after.bytesSent - before.bytesSent,
    bytesReceived: after.bytesReceived - before.bytesReceived,
    messagesSent: after.messagesSent - before.messagesSent,
  };
}

/**
 * Shared bookkeeping for Channel implementations: counts rounds/bytes and implements
 * `exchange` on top of `send`/`receive`.
 */
export abstract class CountingChannel implements Channel {
  readonly stats: ChannelStats = emptyStats();
  #receivedSinceSend = true;

  constructor(
    readonly id: number,
    readonly n: number,
  ) {}

  protected abstract deliver(to: number, data: Uint8Array): void;
  protected abstract take(from: number): Promise<Uint8Array>;
  abstract close(reason?: Error): void;

  send(to: number, data: Uint8Array): void {
    if (to === this.id || to < 0 || to >= this.n) throw new RangeError(`send: bad peer ${to} (party ${this.id} of ${this.n})`);
    if (this.#receivedSinceSend) {
      this.stats.rounds++;
      this.#receivedSinceSend = false;
    }
    this.stats.bytesSent += data.length;
    this.stats.messagesSent++;
    this.deliver(to, data);
  }

  async receive(from: number): Promise<Uint8Array> {
    if (from === this.id || from < 0 || from >= this.n) throw new RangeError(`receive: bad peer ${from}`);
    const data = await this.take(from);
    this.stats.bytesReceived += data.length;
    this.#receivedSinceSend = true;
    return data;
  }

  async exchange(outgoing: Uint8Array | readonly Uint8Array[]): Promise<Uint8Array[]> {
    const msgFor = (j: number): Uint8Array => (outgoing instanceof Uint8Array ? outgoing : outgoing[j]);
    for (let j = 0; j < this.n; j++) if (j !== this.id) this.send(j, msgFor(j));
    const incoming: Uint8Array[] = new Array(this.n);
    incoming[this.id] = msgFor(this.id) ?? new Uint8Array(0);
    await Promise.all(
      Array.from({ length: this.n }, async (_, j) => {
        if (j !== this.id) incoming[j] = await this.receive(j);
      }),
    );
    return incoming;
  }
}
