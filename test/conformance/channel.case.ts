/**
 * Conformance suite every Channel implementation must pass (run by each implementation's test
 * file with its own factory): per-pair FIFO delivery, exchange semantics, round/byte accounting,
 * and close() failing pending receives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Channel } from '../../src/net/channel.ts';

export interface ChannelFactory {
  readonly name: string;
  /** n connected channels (index = party id) and a cleanup function. */
  create(n: number): Promise<{ channels: Channel[]; dispose: () => Promise<void> }>;
}

export function runChannelConformance(f: ChannelFactory): void {
  test(`${f.name}: per-pair FIFO, byte and round accounting`, async () => {
    const { channels, dispose } = await f.create(3);
    try {
      const [a, b, c] = channels;
      a.send(1, Uint8Array.of(1));
      a.send(1, Uint8Array.of(2, 2));
      c.send(1, Uint8Array.of(9));
      assert.deepEqual([...(await b.receive(0))], [1]);
      assert.deepEqual([...(await b.receive(0))], [2, 2]);
      assert.deepEqual([...(await b.receive(2))], [9]);
      assert.equal(a.stats.bytesSent, 3);
      assert.equal(a.stats.rounds, 1, 'two sends without a receive in between are one round');
      assert.equal(b.stats.bytesReceived, 4);
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: exchange is one round and returns every party's message`, async () => {
    const { channels, dispose } = await f.create(3);
    try {
      const got = await Promise.all(channels.map((ch) => ch.exchange(Uint8Array.of(ch.id, ch.id))));
      got.forEach((msgs, me) => msgs.forEach((m, j) => assert.deepEqual([...m], [j, j], `party ${me} from ${j}`)));
      const perPeer = await Promise.all(channels.map((ch) => ch.exchange(channels.map((_, j) => Uint8Array.of(ch.id * 10 + j)))));
      perPeer.forEach((msgs, me) => msgs.forEach((m, j) => assert.deepEqual([...m], [j * 10 + me])));
      for (const ch of channels) {
        assert.equal(ch.stats.rounds, 2);
        assert.equal(ch.stats.bytesSent, 2 * 2 + 2 * 1);
      }
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: close() fails pending receives`, async () => {
    const { channels, dispose } = await f.create(2);
    try {
      const pending = channels[1].receive(0);
      channels[0].close(new Error('peer gone'));
      await assert.rejects(pending, /peer gone|closed/);
    } finally {
      await dispose();
    }
  });
}
