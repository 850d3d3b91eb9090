/**
 * PartyContext: everything a protocol needs, passed explicitly (no globals): who we are, the
 * channel, the preprocessing source, the ring and fixed-point scale, and (malicious mode) the MAC
 * key share, the log of values awaiting the batched MAC check, and the session's sacrifice coin.
 */
import { createHash, type Hash } from 'node:crypto';
import { PhaseProfiler } from '../base/phase-profiler.ts';
import type { Channel } from '../net/channel.ts';
import type { SecurityMode } from '../preprocessing/insecure-local-dealer.ts';
import type { TripleSource } from '../preprocessing/material.ts';
import { Prg } from '../crypto/prg.ts';
import type { Ring } from '../ring/ring.ts';
import { Z128, Z64 } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import type { SecretTensor, ShareHolder } from '../sharing/secret-tensor.ts';
import { jointCoin } from './coin.ts';

export type { SecurityMode };

/** 'local': 2-party SecureML truncation (0 rounds); 'dealer': masked-pair truncation (1 round). */
export type TruncationMethod = 'local' | 'dealer';

/** Opened values (and this party's MAC shares of them) not yet covered by a MAC check. */
export interface CheckLog {
  opened: { values: RingTensor; macs: RingTensor }[];
  /** Secret values that must be zero (sacrifice residues), opened at the next MAC check. */
  zeros: SecretTensor[];
  /**
   * Running SHA-256 of every value this party saw opened or broadcast (malicious mode). Parties
   * compare digests at the MAC check, so a party that sent different messages to different
   * peers (an inconsistent broadcast) is caught.
   */
  transcript: Hash;
  /** Elements opened since the last MAC check (the log is checked once this passes MAC_CHECK_BATCH_ELEMENTS). */
  pendingElements: number;
  /** A MAC check is running (its own openings must not start another). */
  checking: boolean;
}

export interface PartyContext extends ShareHolder {
  readonly id: number;
  readonly n: number;
  readonly mode: SecurityMode;
  readonly ring: Ring;
  readonly scaleBits: number;
  readonly channel: Channel;
  readonly material: TripleSource;
  readonly macKeyShare: bigint | undefined;
  readonly truncation: TruncationMethod;
  /** Bound ℓ for comparisons: inputs must satisfy |x| < 2^ℓ (ring integers). */
  readonly compareBits: number;
  /** `cheby.deg`: degree of the Chebyshev fit of exp(x/4) in softmax (squared twice, approx/exp.ts); undefined = the approx layer's default. */
  readonly chebyDeg: number | undefined;
  readonly checks: CheckLog;
  /** Public challenges for triple sacrifice; seeded by a joint coin (malicious mode only). */
  readonly sacrificeCoin: Prg | undefined;
  /** Optional per-phase accounting (benchmarks); see {@link phase}. */
  readonly profiler: PhaseProfiler | undefined;
}

export interface ContextOptions {
  readonly id: number;
  readonly n: number;
  readonly mode: SecurityMode;
  readonly channel: Channel;
  readonly material: TripleSource;
  readonly scaleBits: number;
  /**
   * Default 'dealer' (exact to 1 LSB for |x| < 2^62). 'local' (2 semi-honest parties only) saves
   * a round per truncation but fails with probability ≈ |x|/2^64 per element, which over a long
   * generation (10^4 truncations per token) is no longer negligible; opt in for benchmarks only.
   */
  readonly truncation?: TruncationMethod;
  /** Default 40: fixed-point values up to 2^(40−scaleBits) in magnitude. */
  readonly compareBits?: number;
  readonly chebyDeg?: number;
  /** Record time/bytes/rounds per phase (benchmarks). */
  readonly profile?: boolean;
}

/** Runs `body` as the named phase of the context's profiler (if any). */
export function phase<T>(ctx: PartyContext, name: string, body: () => Promise<T>): Promise<T> {
  return ctx.profiler ? ctx.profiler.run(name, body) : body();
}

/** Sets up a session context; in malicious mode runs a joint coin toss (2 rounds). */
export async function createPartyContext(o: ContextOptions): Promise<PartyContext> {
  const malicious = o.mode === 'malicious';
  const truncation = o.truncation ?? 'dealer';
  if (truncation === 'local' && (o.n !== 2 || malicious)) {
    throw new RangeError('truncation "local" is only sound for 2 parties in semi-honest mode');
  }
  const compareBits = o.compareBits ?? 40;
  if (!Number.isInteger(compareBits) || compareBits < 2 || compareBits > 62) {
    throw new RangeError(`compareBits must be an integer in [2, 62], got ${compareBits}`);
  }
  const base = {
    id: o.id,
    n: o.n,
    mode: o.mode,
    ring: malicious ? Z128 : Z64,
    scaleBits: o.scaleBits,
    channel: o.channel,
    material: o.material,
    macKeyShare: await o.material.macKeyShare(),
    truncation,
    compareBits,
    chebyDeg: o.chebyDeg,
    checks: { opened: [], zeros: [], transcript: createHash('sha256'), pendingElements: 0, checking: false },
    sacrificeCoin: undefined,
    profiler: o.profile ? new PhaseProfiler(() => ({ bytes: o.channel.stats.bytesSent, rounds: o.channel.stats.rounds })) : undefined,
  } satisfies PartyContext;
  if (malicious && base.macKeyShare === undefined) throw new RangeError('malicious mode needs a MAC key share from the triple source');
  if (!malicious) return base;
  return { ...base, sacrificeCoin: new Prg(await jointCoin(base)) };
}

/** The next public sacrifice challenge t (uniform 64-bit). */
export function nextChallenge(ctx: PartyContext): bigint {
  if (!ctx.sacrificeCoin) throw new Error('nextChallenge: no sacrifice coin (semi-honest context)');
  return ctx.sacrificeCoin.words(1)[0];
}
