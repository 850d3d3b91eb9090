/**
 * InsecureLocalDealer — an in-process dealer for tests and local development ONLY.
 *
 * It sees every secret it deals (as any dealer does) and lives in the same process as all the
 * parties, so it offers no separation at all. Production deployments use the triple service
 * (a separate, attested process). The name is meant to make misuse obvious in a code review.
 *
 * Each party gets a view (`forParty(i)`) implementing TripleSource. The i-th request of every
 * view is served from one dealt batch; the first party to ask triggers generation, and requests
 * that disagree between parties raise a DesyncError. Shares travel seed-compressed
 * (seeded-deal.ts), so `stats.bytesReceived` shows what a networked dealer would send. The dealer
 * logic itself is {@link DealerSession} (dealer-session.ts), which the triple service runs too.
 */
import type { Ring } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { DealerSession, type CorruptionHook, type SecurityMode } from './dealer-session.ts';
import type { TripleSource } from './material.ts';
import { DescriptorTripleSource, UNBOUNDED_LIMITS, type FetchedMaterial, type MaterialDescriptor } from './material-request.ts';
import { expandMessage, messageBytes } from './seeded-deal.ts';

export type { SecurityMode };

export interface DealerOptions {
  /**
   * Test hook: return true to make the dealer corrupt one element of the product tensor of
   * this request (a faulty dealer; MACs are computed on the corrupted value, so only a
   * sacrifice check can catch it).
   */
  readonly corrupt?: CorruptionHook;
  /** Keep weight masks resident in the kernels' memory, as the triple service does (dealer-session.ts). */
  readonly pinOperands?: boolean;
}

export class InsecureLocalDealer {
  readonly ring: Ring;
  readonly #session: DealerSession;

  constructor(
    readonly n: number,
    readonly mode: SecurityMode,
    options: DealerOptions = {},
  ) {
    if (!Number.isInteger(n) || n < 2) throw new RangeError(`InsecureLocalDealer: need n >= 2 parties, got ${n}`);
    this.#session = new DealerSession(n, mode, { corrupt: options.corrupt, pinOperands: options.pinOperands, limits: UNBOUNDED_LIMITS });
    this.ring = this.#session.ring;
  }

  forParty(id: number): TripleSource {
    if (!Number.isInteger(id) || id < 0 || id >= this.n) throw new RangeError(`forParty: bad party id ${id}`);
    return new DealerView(this.#session, id);
  }

  /**
   * Shares a known tensor among the parties with MACs (dealer-side input; for tests and for
   * material the dealer itself owns). Party inputs go through protocols/input.ts instead.
   */
  shareForTest(x: RingTensor): SecretTensor[] {
    return this.#session.shareForTest(x);
  }
}

class DealerView extends DescriptorTripleSource {
  readonly name = 'insecure-local-dealer';
  #next = 0;

  constructor(
    private readonly session: DealerSession,
    private readonly id: number,
  ) {
    super();
  }

  async macKeyShare(): Promise<bigint | undefined> {
    return this.session.macKeyShare(this.id);
  }

  protected async fetch(d: MaterialDescriptor): Promise<FetchedMaterial> {
    const { message, shapes, clear } = this.session.take(this.id, this.#next++, d);
    this.stats.requests++;
    this.stats.bytesReceived += messageBytes(message) + (clear?.data.byteLength ?? 0);
    return { parts: expandMessage(message, this.session.ring, shapes, this.session.mode === 'malicious'), clear };
  }
}
