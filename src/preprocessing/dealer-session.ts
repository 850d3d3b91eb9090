/**
 * DealerSession — the dealer's state for one MPC session, shared by the in-process
 * InsecureLocalDealer and the triple service (services/triples/triple-server.ts).
 *
 * State: the party count n, the security mode (ring Z_2^64, or Z_2^128 with MAC key shares α_i),
 * the outstanding request slots, the fixed operands B_id, and optional pools of pregenerated
 * plaintext material.
 *
 * Slots: request number i of every party is served from one dealt batch. The first party to ask
 * for request i generates the plaintext material and deals it (seed-compressed, seeded-deal.ts);
 * the others must ask for the same canonical key (material-request.ts) or get a DesyncError. A
 * slot is freed once all n parties took their part. Slots are generated in request order (a party
 * reaches request i+1 only after i), so material that depends on dealer state (fixed operands)
 * sees the same state whichever party asks first.
 *
 * Pools (`poolMinSize` > 0): plaintext elementwise triples (a, b, a⊙b) and uniform masks r (for
 * truncation and comparison masks, whose other parts are cheap functions of r) are pregenerated
 * in chunks in the background (one chunk per event-loop turn, setImmediate) whenever a pool falls
 * below poolMinSize, up to 2·poolMinSize. A request is served by slicing a pool when it holds
 * enough elements, else generated on demand. Pooled material is used exactly once, by one
 * session. Nothing here logs; the session holds secrets (the MAC key, all dealt material).
 */
import { DesyncError, ValidationError } from '../base/errors.ts';
import { Prg, randomSeed } from '../crypto/prg.ts';
import { matmulPinnedTensor, pin, release, type PinnedTensor } from '../ring/pinned.ts';
import type { Ring } from '../ring/ring.ts';
import { Z128, Z64 } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { appendRows, type RowBuffer } from '../ring/row-buffer.ts';
import { getElement, matmul, matmulNT, mul, setElement, sizeOf, zeros } from '../ring/tensor.ts';
import { chebyshevPlan, fusedChebyshevLayout, type FusedPart } from './chebyshev-plan.ts';
import { macKey, randomMacKeyShares, shareTensor } from '../sharing/additive.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import {
  freshPrg,
  plainOneHotMasks,
  plainTruncRowMasks,
  plainTruncSquareMasks,
  maskedBitsOf,
  plainMaskedBits,
  plainMatrixTriple,
  plainReluMasks,
  plainReluPairMasks,
  plainRowTriple,
  plainSquare,
  plainTriple,
  plainXorMaskedBits,
} from './dealer-math.ts';
import {
  dealtElements,
  formatMaterialKey,
  UNBOUNDED_LIMITS,
  validateDescriptor,
  type MaterialDescriptor,
  type RequestLimits,
} from './material-request.ts';
import { dealMixedShares, dealShares, dealXorShares, type PartyMessage } from './seeded-deal.ts';
import { ONE_HOT_INDEX } from './material.ts';

export type SecurityMode = 'semi-honest' | 'malicious';

export const SECURITY_MODES: readonly SecurityMode[] = ['semi-honest', 'malicious'];

/**
 * Test hook: return true to make the dealer corrupt one element of the product tensor (the last
 * tensor) of this request (a faulty dealer; MACs are computed on the corrupted value, so only a
 * sacrifice check can catch it).
 */
export type CorruptionHook = (request: { kind: string; index: number }) => boolean;

export interface DealerSessionOptions {
  readonly corrupt?: CorruptionHook;
  /** Bounds on requests (default: unbounded, for trusted in-process callers). */
  readonly limits?: RequestLimits;
  /** Keep at least this many elements per pooled kind ready; 0 (default) disables the pools. */
  readonly poolMinSize?: number;
  /** Elements generated per background step (default min(poolMinSize, 65536)). */
  readonly poolChunkSize?: number;
  /** Most requests dealt but not yet taken by every party (default unbounded). */
  readonly maxOutstanding?: number;
  /** Most fixed operands (default unbounded). */
  readonly maxFixedOperands?: number;
  /**
   * Keep weight operands (ids "w.*") that are multiplied untransposed resident in the kernels' memory
   * (ring/pinned.ts), so each A·B copies only A in. Freed when the operand grows or the session
   * closes. Default false (in-process dealers in tests are never closed).
   */
  readonly pinOperands?: boolean;
}

/** One party's part of a dealt request. */
export interface DealtMaterial {
  readonly message: PartyMessage;
  /** Shapes of the dealt tensors, in order (for expandMessage). */
  readonly shapes: readonly (readonly number[])[];
  /** An input mask's clear value, for its owner only. */
  readonly clear?: RingTensor;
}

export type PoolKind = 'triple' | 'mask';

export interface PoolStats {
  /** Elements ready to serve. */
  readonly level: number;
  readonly minSize: number;
  /** Requests served from the pool / generated on demand because it held too few elements. */
  readonly hits: number;
  readonly misses: number;
  /** Chunks generated in the background. */
  readonly chunks: number;
}

interface Slot {
  readonly key: string;
  readonly messages: PartyMessage[];
  readonly shapes: (readonly number[])[];
  readonly clear: RingTensor | undefined;
  readonly owner: number;
  readonly taken: boolean[];
  remaining: number;
}

export class DealerSession {
  readonly ring: Ring;
  readonly limits: RequestLimits;
  readonly #alphaShares: bigint[] | undefined;
  readonly #alpha: bigint | undefined;
  readonly #slots = new Map<number, Slot>();
  readonly #fixed = new Map<string, RingTensor>();
  readonly #pinned = new Map<string, PinnedTensor>();
  /** Spare-capacity buffers of operands grown by fixedAppend (KV caches). */
  readonly #growth = new Map<string, RowBuffer>();
  readonly #prg = new Prg(randomSeed());
  readonly #pools: Record<PoolKind, PlainPool> | undefined;
  readonly #maxOutstanding: number;
  readonly #maxFixed: number;
  #closed = false;

  constructor(
    readonly n: number,
    readonly mode: SecurityMode,
    private readonly options: DealerSessionOptions = {},
  ) {
    this.limits = options.limits ?? UNBOUNDED_LIMITS;
    if (!Number.isInteger(n) || n < 2 || n > this.limits.maxParties)
      throw new RangeError(`DealerSession: need 2..${this.limits.maxParties} parties, got ${n}`);
    if (!SECURITY_MODES.includes(mode)) throw new RangeError(`DealerSession: unknown security mode ${JSON.stringify(mode)}`);
    this.ring = mode === 'malicious' ? Z128 : Z64;
    this.#alphaShares = mode === 'malicious' ? randomMacKeyShares(n) : undefined;
    this.#alpha = this.#alphaShares && macKey(this.#alphaShares);
    this.#maxOutstanding = options.maxOutstanding ?? Infinity;
    this.#maxFixed = options.maxFixedOperands ?? Infinity;
    const min = options.poolMinSize ?? 0;
    if (!Number.isInteger(min) || min < 0) throw new RangeError(`DealerSession: poolMinSize must be a non-negative integer, got ${min}`);
    if (min > 0) {
      const chunk = options.poolChunkSize ?? Math.min(min, 1 << 16);
      if (!Number.isInteger(chunk) || chunk < 1)
        throw new RangeError(`DealerSession: poolChunkSize must be a positive integer, got ${chunk}`);
      const ring = this.ring;
      this.#pools = {
        triple: new PlainPool(ring, 3, min, chunk, (size) => plainTriple(ring, size)),
        mask: new PlainPool(ring, 1, min, chunk, (size) => [freshPrg().ringTensor(ring, [size])]),
      };
      for (const p of Object.values(this.#pools)) p.refill();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The MAC key share α_i of party i (malicious mode), else undefined. */
  macKeyShare(party: number): bigint | undefined {
    this.#checkParty(party);
    return this.#alphaShares?.[party];
  }

  /** Shares a known tensor among the parties with MACs (tests, dealer-owned material). */
  shareForTest(x: RingTensor): SecretTensor[] {
    return shareTensor(x, this.n, this.#alpha);
  }

  /** Pool levels and counters (empty when pools are disabled). For metrics. */
  poolStats(): Partial<Record<PoolKind, PoolStats>> {
    if (!this.#pools) return {};
    return { triple: this.#pools.triple.stats(), mask: this.#pools.mask.stats() };
  }

  /** Requests dealt but not yet taken by every party. */
  get outstanding(): number {
    return this.#slots.size;
  }

  /**
   * Party `party`'s part of its request number `index`, which asks for `d`. Throws a DesyncError
   * when another party asked for different material at this index (or this party asks twice), a
   * ValidationError when `d` is malformed or out of bounds.
   */
  take(party: number, index: number, d: MaterialDescriptor): DealtMaterial {
    if (this.#closed) throw new DesyncError('dealer session is closed');
    this.#checkParty(party);
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`DealerSession.take: bad request index ${index}`);
    validateDescriptor(d, this.limits);
    if (d.kind === 'input' && d.owner >= this.n)
      throw new ValidationError(`input mask for party ${d.owner}, but the session has ${this.n} parties`, 'key');
    const key = formatMaterialKey(d);
    let slot = this.#slots.get(index);
    if (!slot) {
      if (this.#slots.size >= this.#maxOutstanding)
        throw new DesyncError(
          `preprocessing request #${index}: ${this.#slots.size} requests are outstanding, the most allowed; parties are out of step`,
        );
      slot = this.#deal(index, key, d);
      this.#slots.set(index, slot);
    } else if (slot.key !== key) {
      throw new DesyncError(`preprocessing request #${index}: party ${party} asked for ${key}, another party for ${slot.key}`);
    }
    if (slot.taken[party]) throw new DesyncError(`preprocessing request #${index}: party ${party} asked twice`);
    slot.taken[party] = true;
    if (--slot.remaining === 0) this.#slots.delete(index);
    return { message: slot.messages[party], shapes: slot.shapes, clear: party === slot.owner ? slot.clear : undefined };
  }

  /** Drops all state and stops background generation. */
  close(): void {
    this.#closed = true;
    this.#slots.clear();
    this.#fixed.clear();
    this.#growth.clear();
    for (const p of this.#pinned.values()) release(p);
    this.#pinned.clear();
    if (this.#pools) for (const p of Object.values(this.#pools)) p.close();
  }

  /** Refuses material without MACs or sacrifice in a malicious session: `what` says why (e.g. "row triples are not sacrificed"). */
  #semiHonestOnly(what: string): void {
    if (this.mode === 'malicious')
      throw new ValidationError(`bad material request: ${what} and are dealt in semi-honest sessions only`, 'key');
  }

  #checkParty(party: number): void {
    if (!Number.isInteger(party) || party < 0 || party >= this.n)
      throw new RangeError(`bad party index ${party} (session of ${this.n} parties)`);
  }

  #deal(index: number, key: string, d: MaterialDescriptor): Slot {
    let clear: RingTensor | undefined;
    const plain = this.#generate(d);
    if (d.kind === 'input') clear = plain[0];
    if (this.options.corrupt?.({ kind: d.kind, index })) this.#corrupt(plain[plain.length - 1]);
    return {
      key,
      messages:
        d.kind === 'bitTriple'
          ? dealXorShares(plain, this.n)
          : d.kind === 'compareXor' || d.kind === 'compareRelu' || d.kind === 'compareReluPair'
            ? // The packed one-hot digits (material.ts ONE_HOT_INDEX) are XOR-shared, the rest additively.
              dealMixedShares(
                plain,
                plain.map((_, i) => i === ONE_HOT_INDEX),
                this.n,
              )
            : dealShares(plain, this.n, this.#alpha),
      shapes: plain.map((p) => p.shape),
      clear,
      owner: d.kind === 'input' ? d.owner : -1,
      taken: new Array<boolean>(this.n).fill(false),
      remaining: this.n,
    };
  }

  #generate(d: MaterialDescriptor): RingTensor[] {
    const ring = this.ring;
    switch (d.kind) {
      case 'bitTriple': {
        this.#semiHonestOnly('bit triples carry no MACs');
        const a = this.#prg.ringTensor(Z64, [d.size]);
        const b = this.#prg.ringTensor(Z64, [d.size]);
        const c = new BigUint64Array(d.size);
        for (let i = 0; i < d.size; i++) c[i] = a.data[i] & b.data[i];
        return [a, b, { ring: Z64, shape: [d.size], data: c }];
      }
      case 'triple':
        return this.#pools?.triple.take(d.size) ?? plainTriple(ring, d.size);
      case 'matrix':
        return plainMatrixTriple(ring, d.m, d.k, d.n);
      case 'rowTriple':
        this.#semiHonestOnly('row triples are not sacrificed');
        return plainRowTriple(ring, d.rows, d.len, d.squares);
      case 'fixedMask':
        return [this.#fixedOperand(d.id, d.k, d.n)];
      case 'fixedAppend':
        return [this.#appendFixedRows(d.id, d.rows, d.n)];
      case 'fixedTriple': {
        const b = this.#fixed.get(d.id);
        if (!b) throw new DesyncError(`fixed operand ${d.id}: fixedTriple requested before fixedMask`);
        const total = dealtElements(d, b.shape);
        if (total > this.limits.maxElements)
          throw new ValidationError(
            `bad material request ${formatMaterialKey(d)}: deals ${total} elements, above the limit of ${this.limits.maxElements} per request`,
            'key',
          );
        if (d.transposed) {
          const a = freshPrg().ringTensor(ring, [d.m, b.shape[1]]);
          return [a, matmulNT(a, b)];
        }
        const a = freshPrg().ringTensor(ring, [d.m, b.shape[0]]);
        // Only weight operands (ids "w.*") stay fixed; KV-cache operands grow every token.
        if (!this.options.pinOperands || !d.id.startsWith('w.')) return [a, matmul(a, b)];
        let p = this.#pinned.get(d.id);
        if (!p) this.#pinned.set(d.id, (p = pin(b)));
        return [a, matmulPinnedTensor(a, p)];
      }
      case 'square':
        return plainSquare(ring, d.size);
      case 'trunc':
      case 'compare': {
        const [shift, withBits] = d.kind === 'trunc' ? [d.shift, false] : [d.bits, true];
        const pooled = this.#pools?.mask.take(d.size);
        return pooled ? maskedBitsOf(pooled[0], shift, withBits) : plainMaskedBits(ring, d.size, shift, withBits);
      }
      case 'truncSquare':
        this.#semiHonestOnly('truncation masks with square products are not sacrificed');
        return plainTruncSquareMasks(ring, d.size, d.shift);
      case 'truncRow':
        this.#semiHonestOnly('truncation masks with row products are not sacrificed');
        return plainTruncRowMasks(ring, d.rows, d.len, d.shift);
      case 'compareXor':
      case 'compareRelu':
      case 'compareReluPair':
        this.#semiHonestOnly('XOR-shared comparison bits carry no MACs');
        if (d.bits < 1 || d.bits > 62)
          throw new ValidationError(`bad material request ${formatMaterialKey(d)}: bits must be in [1, 62]`, 'key');
        if (d.kind === 'compareXor') return plainXorMaskedBits(d.size, d.bits, d.low);
        return d.kind === 'compareRelu' ? plainReluMasks(d.size, d.bits, d.low) : plainReluPairMasks(d.size, d.bits, d.low);
      case 'chebMasks': {
        this.#semiHonestOnly('Chebyshev basis masks are not sacrificed');
        const plan = chebyshevPlan(d.degree);
        const prg = freshPrg();
        const masks = new Map(plan.factors.map((j) => [j, prg.ringTensor(ring, [d.size])]));
        const at = (j: number): RingTensor => masks.get(j) as RingTensor;
        return [...plan.factors.map(at), ...plan.pairs.map(([m, j]) => mul(at(m), at(j)))];
      }
      case 'chebTrunc': {
        this.#semiHonestOnly('fused Chebyshev basis masks are not sacrificed');
        const layout = fusedChebyshevLayout(d.degree, d.shift);
        const prg = freshPrg();
        const a1 = prg.ringTensor(ring, [d.size]);
        const masks = layout.truncated.map(() => maskedBitsOf(prg.ringTensor(ring, [d.size]), d.shift, false)); // [r, rMsb, rHigh]
        const truncated = new Map(layout.truncated.map((k, i) => [k, masks[i]]));
        const value = ({ k, part }: FusedPart): RingTensor => {
          if (part === 'a') return a1;
          const [, rMsb, rHigh] = truncated.get(k) as RingTensor[];
          return part === 'msb' ? rMsb : rHigh;
        };
        return [a1, ...masks.flat(), ...layout.terms.flat().map(([p, q]) => mul(value(p), value(q)))];
      }
      case 'random':
        return [freshPrg().ringTensor(ring, [d.size])];
      case 'input':
        return [this.#prg.ringTensor(ring, [d.size])];
      case 'oneHot':
        return plainOneHotMasks(ring, d.size, d.bits);
    }
  }

  /** B of fixed operand `id`, created on first use. */
  #fixedOperand(id: string, k: number, n: number): RingTensor {
    let b = this.#fixed.get(id);
    if (!b) {
      this.#checkFixedCount();
      b = this.#prg.ringTensor(this.ring, [k, n]);
      this.#fixed.set(id, b);
    } else if (b.shape[0] !== k || b.shape[1] !== n) {
      throw new DesyncError(`fixed operand ${id} has shape [${b.shape}], requested [${k},${n}]`);
    }
    return b;
  }

  /** Appends fresh mask rows to fixed operand `id` (creating it) and returns them. */
  #appendFixedRows(id: string, rows: number, n: number): RingTensor {
    const old = this.#fixed.get(id);
    if (old && old.shape[1] !== n) throw new DesyncError(`fixed operand ${id} has ${old.shape[1]} columns, append requested ${n}`);
    if (!old) this.#checkFixedCount();
    const k = (old?.shape[0] ?? 0) + rows;
    if (k * n > this.limits.maxOperandElements)
      throw new ValidationError(
        `fixed operand ${id} would grow to [${k},${n}], above the limit of ${this.limits.maxOperandElements} elements`,
        'key',
      );
    const stale = this.#pinned.get(id);
    if (stale) {
      release(stale);
      this.#pinned.delete(id);
    }
    const fresh = this.#prg.ringTensor(this.ring, [rows, n]);
    // Rows go behind the old ones in a buffer with spare capacity (O(rows) per append, not O(k)).
    const grown = appendRows(old, this.#growth.get(id), fresh);
    this.#growth.set(id, grown.buffer);
    this.#fixed.set(id, grown.tensor);
    return fresh;
  }

  #checkFixedCount(): void {
    if (this.#fixed.size >= this.#maxFixed) throw new ValidationError(`more than ${this.#maxFixed} fixed operands in one session`, 'key');
  }

  #corrupt(t: RingTensor): void {
    const size = sizeOf(t.shape);
    if (size === 0) return;
    const i = Number(this.#prg.words(1)[0] % BigInt(size));
    setElement(t, i, getElement(t, i) + 1n + (this.#prg.words(1)[0] >> 1n));
  }
}

/**
 * A queue of pregenerated plaintext chunks, each `width` tensors of shape [len] (e.g. a, b, c),
 * sliced elementwise to serve requests and refilled in the background.
 */
class PlainPool {
  #chunks: { tensors: RingTensor[]; off: number }[] = [];
  #level = 0;
  #scheduled = false;
  #closed = false;
  #hits = 0;
  #misses = 0;
  #generated = 0;

  constructor(
    private readonly ring: Ring,
    private readonly width: number,
    private readonly minSize: number,
    private readonly chunk: number,
    private readonly generate: (size: number) => RingTensor[],
  ) {}

  stats(): PoolStats {
    return { level: this.#level, minSize: this.minSize, hits: this.#hits, misses: this.#misses, chunks: this.#generated };
  }

  /** `size` elements of each tensor, or undefined if the pool holds fewer. */
  take(size: number): RingTensor[] | undefined {
    if (this.#closed || size > this.#level) {
      this.#misses++;
      this.refill();
      return undefined;
    }
    this.#hits++;
    const l = this.ring.limbs;
    const out = Array.from({ length: this.width }, () => zeros(this.ring, [size]));
    let done = 0;
    while (done < size) {
      const c = this.#chunks[0];
      const len = sizeOf(c.tensors[0].shape);
      const n = Math.min(size - done, len - c.off);
      for (let t = 0; t < this.width; t++) out[t].data.set(c.tensors[t].data.subarray(c.off * l, (c.off + n) * l), done * l);
      c.off += n;
      done += n;
      if (c.off === len) this.#chunks.shift();
    }
    this.#level -= size;
    this.refill();
    return out;
  }

  /** Starts background generation if the level is below minSize (until 2·minSize). */
  refill(): void {
    if (this.#scheduled || this.#closed || this.#level >= this.minSize) return;
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    this.#chunks = [];
    this.#level = 0;
  }

  #schedule(): void {
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#closed) return;
      const tensors = this.generate(this.chunk);
      this.#chunks.push({ tensors, off: 0 });
      this.#level += this.chunk;
      this.#generated++;
      if (this.#level < 2 * this.minSize) this.#schedule();
    }).unref();
  }
}
