/**
 * Runs n parties of a protocol in one process over in-memory channels with the
 * InsecureLocalDealer (protocol unit tests only).
 */
import type { TripleSource } from '../../src/preprocessing/material.ts';
import type { Channel, ChannelStats } from '../../src/net/channel.ts';
import { createMemoryNetwork } from '../../src/net/memory-channel.ts';
import { InsecureLocalDealer, type DealerOptions, type SecurityMode } from '../../src/preprocessing/insecure-local-dealer.ts';
import { createPartyContext, type PartyContext, type TruncationMethod } from '../../src/protocols/context.ts';

export interface RunOptions {
  readonly scaleBits?: number;
  readonly truncation?: TruncationMethod;
  readonly compareBits?: number;
  readonly dealer?: DealerOptions;
  /** Replace party i's channel (e.g. with a tampering wrapper). */
  readonly wrapChannel?: (id: number, ch: Channel) => Channel;
  /** Replace party i's material source (e.g. with a PooledTripleSource over it). */
  readonly wrapMaterial?: (id: number, source: TripleSource) => TripleSource;
}

export interface RunResult<T> {
  readonly results: T[];
  readonly contexts: PartyContext[];
}

export function makeDealer(n: number, mode: SecurityMode, opts: RunOptions = {}): InsecureLocalDealer {
  return new InsecureLocalDealer(n, mode, opts.dealer);
}

/** Sets up contexts (incl. the malicious-mode coin toss), then runs `body` for every party. */
export async function runParties<T>(
  dealer: InsecureLocalDealer,
  body: (ctx: PartyContext) => Promise<T>,
  opts: RunOptions = {},
): Promise<RunResult<T>> {
  const n = dealer.n;
  const channels = createMemoryNetwork(n).map((ch, i) => (opts.wrapChannel ? opts.wrapChannel(i, ch) : ch));
  const contexts = await Promise.all(
    channels.map((channel, id) =>
      createPartyContext({
        id,
        n,
        mode: dealer.mode,
        channel,
        material: opts.wrapMaterial ? opts.wrapMaterial(id, dealer.forParty(id)) : dealer.forParty(id),
        scaleBits: opts.scaleBits ?? 16,
        truncation: opts.truncation,
        compareBits: opts.compareBits,
      }),
    ),
  );
  // A party that aborts closes every channel, so its peers fail fast instead of waiting forever.
  const settled = await Promise.allSettled(
    contexts.map((ctx) =>
      body(ctx).catch((e: unknown) => {
        for (const ch of channels) ch.close(e instanceof Error ? e : new Error(String(e)));
        throw e;
      }),
    ),
  );
  const failure = settled.find((s) => s.status === 'rejected');
  if (failure) throw (failure as PromiseRejectedResult).reason;
  return { results: settled.map((s) => (s as PromiseFulfilledResult<T>).value), contexts };
}

/** Measures the stats delta of `body` on every party's channel. */
export async function measure<T>(ctx: PartyContext, body: () => Promise<T>): Promise<{ value: T; cost: ChannelStats }> {
  const before = { ...ctx.channel.stats };
  const value = await body();
  const after = ctx.channel.stats;
  return {
    value,
    cost: {
      rounds: after.rounds - before.rounds,
      bytesSent: after.bytesSent - before.bytesSent,
      bytesReceived: after.bytesReceived - before.bytesReceived,
      messagesSent: after.messagesSent - before.messagesSent,
    },
  };
}

export const MODES: readonly SecurityMode[] = ['semi-honest', 'malicious'];
export const PARTY_COUNTS: readonly number[] = [2, 3];
