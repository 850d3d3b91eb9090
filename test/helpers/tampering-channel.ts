/**
 * A Channel wrapper that plays a cheating party: when armed with an error e, it adds e (mod
 * 2^128) to the first Z_2^128 element of its next outgoing exchange, i.e. to its share of the
 * first value being opened; when armed to equivocate, it sends one peer a different next
 * broadcast than the others (the low bit of its first byte flipped). For malicious-mode tests only.
 */
import type { Channel, ChannelStats } from '../../src/net/channel.ts';

export class TamperingChannel implements Channel {
  #error: bigint | undefined;
  #victim: number | undefined;

  constructor(private readonly inner: Channel) {}

  get id(): number {
    return this.inner.id;
  }
  get n(): number {
    return this.inner.n;
  }
  get stats(): Readonly<ChannelStats> {
    return this.inner.stats;
  }

  /** Corrupt the next exchange by adding `error` to the first element. */
  arm(error: bigint): void {
    this.#error = error;
  }

  /** Send peer `victim` a different next broadcast than every other peer. */
  armEquivocation(victim: number): void {
    this.#victim = victim;
  }

  send(to: number, data: Uint8Array): void {
    this.inner.send(to, data);
  }
  receive(from: number): Promise<Uint8Array> {
    return this.inner.receive(from);
  }
  close(reason?: Error): void {
    this.inner.close(reason);
  }

  exchange(outgoing: Uint8Array | readonly Uint8Array[]): Promise<Uint8Array[]> {
    const victim = this.#victim;
    if (victim !== undefined && outgoing instanceof Uint8Array && outgoing.length > 0) {
      this.#victim = undefined;
      const other = outgoing.slice();
      other[0] ^= 1;
      return this.inner.exchange(Array.from({ length: this.n }, (_, j) => (j === victim ? other : outgoing)));
    }
    if (this.#error === undefined || !(outgoing instanceof Uint8Array) || outgoing.length < 16) return this.inner.exchange(outgoing);
    const copy = outgoing.slice();
    const w = new BigUint64Array(copy.buffer, 0, 2);
    const v = ((w[0] | (w[1] << 64n)) + this.#error) & ((1n << 128n) - 1n);
    w[0] = v & 0xffffffffffffffffn;
    w[1] = v >> 64n;
    this.#error = undefined;
    return this.inner.exchange(copy);
  }
}
