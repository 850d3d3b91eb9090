/**
 * In-process channels for protocol unit tests: n parties in one event loop, per-pair FIFO
 * queues. Never used by services (they use the mTLS transport).
 */
import { ProtocolAbort } from '../base/errors.ts';
import { CountingChannel } from './channel.ts';

class Queue {
  readonly items: Uint8Array[] = [];
  readonly waiters: { resolve: (d: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  closed: Error | undefined;
}

export class MemoryChannel extends CountingChannel {
  constructor(
    id: number,
    n: number,
    private readonly queues: Queue[][],
  ) {
    super(id, n);
  }

  protected deliver(to: number, data: Uint8Array): void {
    const q = this.queues[this.id][to];
    if (q.closed) throw q.closed;
    const copy = data.slice();
    const w = q.waiters.shift();
    if (w) w.resolve(copy);
    else q.items.push(copy);
  }

  protected take(from: number): Promise<Uint8Array> {
    const q = this.queues[from][this.id];
    const item = q.items.shift();
    if (item) return Promise.resolve(item);
    if (q.closed) return Promise.reject(q.closed);
    return new Promise((resolve, reject) => q.waiters.push({ resolve, reject }));
  }

  close(reason: Error = new ProtocolAbort(`party ${this.id} closed the channel`)): void {
    for (const row of this.queues) {
      for (const q of row) {
        q.closed = reason;
        for (const w of q.waiters.splice(0)) w.reject(reason);
      }
    }
  }
}

/** n connected in-memory channels, index = party id. */
export function createMemoryNetwork(n: number): MemoryChannel[] {
  const queues = Array.from({ length: n }, () => Array.from({ length: n }, () => new Queue()));
  return Array.from({ length: n }, (_, i) => new MemoryChannel(i, n, queues));
}
