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
 * (seeded-deal.ts), so `stats.bytesReceived` shows what a networked dealer would send.
 */
import { DesyncError } from '../base/errors.ts';
import { Prg, randomSeed } from '../crypto/prg.ts';
import type { Ring } from '../ring/ring.ts';
import { Z128, Z64 } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { getElement, matmul, setElement, sizeOf, transpose } from '../ring/tensor.ts';
import { macKey, randomMacKeyShares, shareTensor } from '../sharing/additive.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { plainMaskedBits, plainMatrixTriple, plainSquare, plainTriple } from './dealer-math.ts';
import type { FixedTriple, InputMask, MaskedBits, MaterialStats, SquarePair, TripleSource, Triple } from './material.ts';
import { dealShares, expandMessage, messageBytes, type PartyMessage } from './seeded-deal.ts';

export type SecurityMode = 'semi-honest' | 'malicious';

export interface DealerOptions {
  /**
   * Test hook: return true to make the dealer corrupt one element of the product tensor of
   * this request (a faulty dealer; MACs are computed on the corrupted value, so only a
   * sacrifice check can catch it).
   */
  readonly corrupt?: (request: { kind: string; index: number }) => boolean;
}

interface Slot {
  readonly key: string;
  readonly messages: PartyMessage[];
  readonly shapes: (readonly number[])[];
  taken: number;
}

export class InsecureLocalDealer {
  readonly ring: Ring;
  readonly #alphaShares: bigint[] | undefined;
  readonly #alpha: bigint | undefined;
  readonly #slots = new Map<number, Slot>();
  readonly #fixed = new Map<string, RingTensor>();
  readonly #prg = new Prg(randomSeed());

  constructor(
    readonly n: number,
    readonly mode: SecurityMode,
    private readonly options: DealerOptions = {},
  ) {
    if (!Number.isInteger(n) || n < 2) throw new RangeError(`InsecureLocalDealer: need n >= 2 parties, got ${n}`);
    this.ring = mode === 'malicious' ? Z128 : Z64;
    this.#alphaShares = mode === 'malicious' ? randomMacKeyShares(n) : undefined;
    this.#alpha = this.#alphaShares && macKey(this.#alphaShares);
  }

  forParty(id: number): TripleSource {
    if (!Number.isInteger(id) || id < 0 || id >= this.n) throw new RangeError(`forParty: bad party id ${id}`);
    return new DealerView(this, id);
  }

  /**
   * Shares a known tensor among the parties with MACs (dealer-side input; for tests and for
   * material the dealer itself owns). Party inputs go through protocols/input.ts instead.
   */
  shareForTest(x: RingTensor): SecretTensor[] {
    return shareTensor(x, this.n, this.#alpha);
  }

  /** @internal: the MAC key share of party `id`. */
  macKeyShareOf(id: number): bigint | undefined {
    return this.#alphaShares?.[id];
  }

  /** @internal: party `id`'s part of request number `index`. */
  take(id: number, index: number, key: string, generate: () => RingTensor[]): { parts: SecretTensor[]; bytes: number } {
    let slot = this.#slots.get(index);
    if (!slot) {
      const plain = generate();
      if (this.options.corrupt?.({ kind: key.split(':')[0], index })) this.#corrupt(plain[plain.length - 1]);
      slot = { key, messages: dealShares(plain, this.n, this.#alpha), shapes: plain.map((p) => p.shape), taken: 0 };
      this.#slots.set(index, slot);
    } else if (slot.key !== key) {
      throw new DesyncError(`preprocessing request #${index}: party ${id} asked for ${key}, another party for ${slot.key}`);
    }
    const msg = slot.messages[id];
    if (++slot.taken === this.n) this.#slots.delete(index);
    return { parts: expandMessage(msg, this.ring, slot.shapes, this.mode === 'malicious'), bytes: messageBytes(msg) };
  }

  /** @internal: B of fixed operand `id`, created on first use. */
  fixedOperand(id: string, k: number, n: number): RingTensor {
    let b = this.#fixed.get(id);
    if (!b) {
      b = this.#prg.ringTensor(this.ring, [k, n]);
      this.#fixed.set(id, b);
    } else if (b.shape[0] !== k || b.shape[1] !== n) {
      throw new DesyncError(`fixed operand ${id} has shape [${b.shape}], requested [${k},${n}]`);
    }
    return b;
  }

  /** @internal: appends fresh mask rows to fixed operand `id` (creating it), returns them. */
  appendFixedRows(id: string, rows: number, n: number): RingTensor {
    const old = this.#fixed.get(id);
    if (old && old.shape[1] !== n) throw new DesyncError(`fixed operand ${id} has ${old.shape[1]} columns, append requested ${n}`);
    const fresh = this.#prg.ringTensor(this.ring, [rows, n]);
    const k = (old?.shape[0] ?? 0) + rows;
    const data = new BigUint64Array(k * n * this.ring.limbs);
    if (old) data.set(old.data, 0);
    data.set(fresh.data, old?.data.length ?? 0);
    this.#fixed.set(id, { ring: this.ring, shape: [k, n], data });
    return fresh;
  }

  /** @internal */
  knownFixedOperand(id: string): RingTensor {
    const b = this.#fixed.get(id);
    if (!b) throw new DesyncError(`fixed operand ${id}: fixedTriple requested before fixedMask`);
    return b;
  }

  readonly #inputMasks = new Map<number, RingTensor[]>();

  /** @internal: a fresh input mask, remembered for its owner. */
  inputMaskValue(owner: number, size: number): RingTensor {
    const r = this.#prg.ringTensor(this.ring, [size]);
    const q = this.#inputMasks.get(owner) ?? [];
    q.push(r);
    this.#inputMasks.set(owner, q);
    return r;
  }

  /** @internal: the owner's clear copy of its oldest outstanding input mask. */
  takeInputMaskValue(owner: number): RingTensor {
    const r = this.#inputMasks.get(owner)?.shift();
    if (!r) throw new DesyncError(`input mask for party ${owner} requested twice`);
    return r;
  }

  #corrupt(t: RingTensor): void {
    const i = Number(this.#prg.words(1)[0] % BigInt(sizeOf(t.shape)));
    setElement(t, i, getElement(t, i) + 1n + (this.#prg.words(1)[0] >> 1n));
  }
}

class DealerView implements TripleSource {
  readonly name = 'insecure-local-dealer';
  readonly stats: MaterialStats = { bytesReceived: 0, requests: 0 };
  #next = 0;

  constructor(
    private readonly dealer: InsecureLocalDealer,
    private readonly id: number,
  ) {}

  #take(key: string, generate: () => RingTensor[]): SecretTensor[] {
    const { parts, bytes } = this.dealer.take(this.id, this.#next++, key, generate);
    this.stats.requests++;
    this.stats.bytesReceived += bytes;
    return parts;
  }

  async macKeyShare(): Promise<bigint | undefined> {
    return this.dealer.macKeyShareOf(this.id);
  }

  async triples(size: number): Promise<Triple> {
    const [a, b, c] = this.#take(`triple:${size}`, () => plainTriple(this.dealer.ring, size));
    return { a, b, c };
  }

  async matrixTriple(m: number, k: number, n: number): Promise<Triple> {
    const [a, b, c] = this.#take(`matrix:${m}x${k}x${n}`, () => plainMatrixTriple(this.dealer.ring, m, k, n));
    return { a, b, c };
  }

  async fixedMask(id: string, k: number, n: number): Promise<SecretTensor> {
    const [b] = this.#take(`fixedMask:${id}:${k}x${n}`, () => [this.dealer.fixedOperand(id, k, n)]);
    return b;
  }

  async fixedAppend(id: string, rows: number, n: number): Promise<SecretTensor> {
    const [b] = this.#take(`fixedAppend:${id}:${rows}x${n}`, () => [this.dealer.appendFixedRows(id, rows, n)]);
    return b;
  }

  async fixedTriple(id: string, m: number, transposed = false): Promise<FixedTriple> {
    const [a, c] = this.#take(`fixedTriple:${id}:${m}:${transposed ? 'T' : 'N'}`, () => {
      const b = this.dealer.knownFixedOperand(id);
      const bb = transposed ? transpose(b) : b;
      const a = new Prg(randomSeed()).ringTensor(this.dealer.ring, [m, bb.shape[0]]);
      return [a, matmul(a, bb)];
    });
    return { a, c };
  }

  async inputMask(owner: number, size: number): Promise<InputMask> {
    let clear: RingTensor | undefined;
    const [mask] = this.#take(`input:${owner}:${size}`, () => [this.dealer.inputMaskValue(owner, size)]);
    if (this.id === owner) {
      clear = this.dealer.takeInputMaskValue(owner);
      this.stats.bytesReceived += clear.data.byteLength;
    }
    return { mask, clear };
  }

  async squares(size: number): Promise<SquarePair> {
    const [a, aa] = this.#take(`square:${size}`, () => plainSquare(this.dealer.ring, size));
    return { a, aa };
  }

  async truncMasks(size: number, shift: number): Promise<MaskedBits> {
    const [r, rMsb, rHigh] = this.#take(`trunc:${size}:${shift}`, () => plainMaskedBits(this.dealer.ring, size, shift, false));
    return { shift, r, rMsb, rHigh, bits: undefined };
  }

  async compareMasks(size: number, bits: number): Promise<MaskedBits> {
    const [r, rMsb, rHigh, b] = this.#take(`compare:${size}:${bits}`, () => plainMaskedBits(this.dealer.ring, size, bits, true));
    return { shift: bits, r, rMsb, rHigh, bits: b };
  }

  async randoms(size: number): Promise<SecretTensor> {
    const [r] = this.#take(`random:${size}`, () => [new Prg(randomSeed()).ringTensor(this.dealer.ring, [size])]);
    return r;
  }
}
