/**
 * The comparator of compare.ts evaluated on bits (semi-honest mode): the borrow
 * [c mod 2^ℓ < r mod 2^ℓ] from public c and the dealer's one-hot digits of r, with XOR-shared
 * bits and AND gates instead of ring products.
 *
 * Digits: r's low ℓ bits are D digits of w_j ≤ 8 bits (preprocessing/compare-digits.ts; ℓ = 40:
 * eight of 5 bits) and the dealer deals each digit one-hot — 2^w_j XOR-shared bits of which
 * exactly one is set (`compareXorMasks`). With c public the digit's leaves are local:
 *   G_j = [c_j < r_j] = ⊕_u onehot_j[u] ∧ [c_j < u],   E_j = [c_j = r_j] = ⊕_u onehot_j[u] ∧ [c_j = u]
 * so the tree of AND gates runs over D leaves instead of ℓ (3 levels instead of 6 at ℓ = 40), as
 * the digit-wise millionaires' protocol of CrypTFlow2 (Rathee et al., CCS 2020) does with
 * 1-out-of-2^w OT — here the one-hot shares come from the dealer.
 *
 * Bit-sliced: every bit vector is packed 64 elements per word (element i at bit i mod 64 of word
 * ⌊i/64⌋), so one 32-bit operation evaluates 32 gates. AND gates use packed GF(2) triples
 * (`bitTriples`), and every AND costs 2 bits per party online instead of 2 ring elements.
 * The random bit s and the bit triple (a, b, ab) of the top level come with the masks as
 * arithmetic shares; the low bit of an additive Z_2^64 sharing is an XOR sharing of the value's
 * low bit (carries only move upwards), so they serve on both sides.
 *
 * Steps (digits least significant first; the tree of compare.ts over digits):
 *   leaves G_j, E_j from the one-hot shares and c's digit bits   (local: c is public)
 *   per level, in one round for all pairs:  G = G_hi ⊕ (E_hi ∧ G_lo),  E = E_hi ∧ E_lo
 *     (XOR is OR here: the two terms of G are never both 1);
 *   AND (Beaver over GF(2)): open d = x ⊕ a, e = y ⊕ b (packed words), then
 *     z = c ⊕ (d ∧ b) ⊕ (e ∧ a) ⊕ [party 0](d ∧ e);
 *   the top level (only G) goes straight to the ring in its own round (see `topLevel`): the AND
 *     with the dealer's arithmetic bit triple and public d, e, and G_hi converted (B2A) with the
 *     random bit s by opening o = G_hi ⊕ s in the same round; [G] = [G_hi] + [E_hi ∧ G_lo].
 *   (D = 1: the single leaf is converted with s in one round.)
 * Reveals: Beaver-masked bits (uniform) and o (uniform); the leaves are local. No MACs exist on
 * the binary values, so this is for semi-honest mode only; malicious mode keeps the MACed
 * arithmetic comparator.
 * Cost: max(1, ⌈log2 D⌉) rounds; bytes per party to each peer, with W = ⌈size/64⌉ words per
 * vector: Σ_levels 2·products·8W + 8W over the tree of D leaves (bits past `size` in the last
 * word travel as padding). Dealt: Σ_j 2^w_j packed bits per element (256 at ℓ = 40) instead of ℓ.
 * Citation: the comparator tree of Catrina & de Hoogh (SCN 2010) on GF(2) as in ABY
 * (Demmler, Schneider, Zohner, NDSS 2015); digits as in CrypTFlow2 (CCS 2020); Beaver, CRYPTO 1991.
 */
import { ProtocolAbort } from '../base/errors.ts';
import { comparatorDigits, digitPlaces, oneHotRows } from '../preprocessing/compare-digits.ts';
import { joinElements } from '../preprocessing/element-axis.ts';
import type { ReluPart, TopPart, XorMaskedBits } from '../preprocessing/material.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { comparatorLevels } from './compare-levels.ts';
import type { PartyContext } from './context.ts';

/** 32-bit words of a packed vector of `size` bits (a whole number of 64-bit words). */
const vectorWords = (size: number): number => 2 * Math.ceil(size / 64);

/** The 32-bit words of a tensor's data (Z_2^64 words on a little-endian host). */
function words32(t: RingTensor): Uint32Array {
  return new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);
}

/** Opens XOR-shared packed words in one round. */
async function openWords(ctx: PartyContext, mine: Uint32Array): Promise<Uint32Array> {
  const incoming = await ctx.channel.exchange(new Uint8Array(mine.buffer, mine.byteOffset, mine.byteLength));
  const out = mine.slice();
  for (let j = 0; j < ctx.n; j++) {
    if (j === ctx.id) continue;
    const b = incoming[j];
    if (b.length !== mine.byteLength) throw new ProtocolAbort(`open bits: party ${j} sent ${b.length} bytes, expected ${mine.byteLength}`);
    const w = (b.byteOffset & 3) === 0 ? new Uint32Array(b.buffer, b.byteOffset, b.length >> 2) : new Uint32Array(b.slice().buffer);
    for (let i = 0; i < out.length; i++) out[i] ^= w[i];
  }
  return out;
}

/** x ∧ y for XOR-shared packed vectors (equal even lengths in 32-bit words), one round, with packed GF(2) triples. */
async function and(ctx: PartyContext, x: Uint32Array, y: Uint32Array): Promise<Uint32Array> {
  const m = x.length;
  const t = await ctx.material.bitTriples(m / 2);
  const [a, b, c] = [words32(t.a.share), words32(t.b.share), words32(t.c.share)];
  const masked = new Uint32Array(2 * m);
  for (let i = 0; i < m; i++) {
    masked[i] = x[i] ^ a[i];
    masked[m + i] = y[i] ^ b[i];
  }
  const de = await openWords(ctx, masked);
  const z = new Uint32Array(m);
  const first = ctx.id === 0 ? 0xffffffff : 0;
  for (let i = 0; i < m; i++) {
    const d = de[i];
    const e = de[m + i];
    z[i] = c[i] ^ (d & b[i]) ^ (e & a[i]) ^ (first & d & e);
  }
  return z;
}

/**
 * Transposes a 32×32 bit matrix in place (row k = a[k], column i = bit i): afterwards bit k of
 * a[i] is the old bit i of a[k]. Swaps the off-diagonal blocks at every scale (Warren, Hacker's
 * Delight, 2nd ed., §7-3).
 */
function transpose32(a: Uint32Array): void {
  let m = 0x0000ffff;
  for (let j = 16; j !== 0; j >>>= 1, m ^= m << j) {
    for (let k = 0; k < 32; k = (k + j + 1) & ~j) {
      const t = ((a[k] >>> j) ^ a[k + j]) & m;
      a[k] ^= t << j;
      a[k + j] ^= t;
    }
  }
}

/** Bits 0..bits−1 of every element of public c (Z_2^64), packed: row i holds bit i. */
function publicBitRows(c: RingTensor, bits: number, size: number): Uint32Array[] {
  const v = vectorWords(size);
  const rows = Array.from({ length: bits }, () => new Uint32Array(v));
  const c32 = words32(c);
  const block = new Uint32Array(32);
  for (let half = 0; half < 2 && 32 * half < bits; half++) {
    for (let col = 0; 32 * col < size; col++) {
      const n = Math.min(32, size - 32 * col);
      for (let k = 0; k < n; k++) block[k] = c32[2 * (32 * col + k) + half];
      block.fill(0, n);
      transpose32(block);
      for (let i = 32 * half; i < Math.min(bits, 32 * half + 32); i++) rows[i][col] = block[i - 32 * half];
    }
  }
  return rows;
}

/** Bytes this party sends to each peer for a borrow over `size` elements on bits low..bits−1. */
export function binaryBorrowBytesPerPeer(size: number, bits: number, low = 0): number {
  const vectorBytes = 4 * vectorWords(size);
  return comparatorLevels(comparatorDigits(bits, low).length).reduce((s, products) => s + 2 * products * vectorBytes, 0) + vectorBytes;
}

/**
 * A secret as public coefficients on the comparator's dealt parts, pub + Σ_p coef_p ⊙ [p]
 * (a bigint coefficient applies to every element): what the borrow is once its last round is
 * open, so that products of it with r can come from the dealer (compare.ts relu).
 */
export interface PartForm {
  readonly pub: RingTensor;
  readonly coef: Partial<Record<ReluPart, RingTensor | bigint>>;
}

/** The shares of a {@link PartForm} (party 0 adds pub), from the parts' shares. */
export function formShares(ctx: PartyContext, form: PartForm, parts: Readonly<Record<ReluPart, SecretTensor>>): SecretTensor {
  return L.addSP(ctx, formSum(form, parts), form.pub);
}

/** Σ_p coef_p ⊙ [v_p] for per-part secrets v (the parts, or the dealer's products r·part). */
export function formSum(form: PartForm, v: Readonly<Record<ReluPart, SecretTensor>>): SecretTensor {
  let acc: SecretTensor | undefined;
  for (const [p, k] of Object.entries(form.coef) as [ReluPart, RingTensor | bigint][]) {
    const term = typeof k === 'bigint' ? L.mulScalarS(v[p], k) : L.mulSP(v[p], k);
    acc = acc ? L.addSS(acc, term) : term;
  }
  if (!acc) throw new RangeError('formSum: a form needs at least one coefficient');
  return acc;
}

/**
 * [c mod 2^bits < r mod 2^bits] as an arithmetic share, from public c ([size]) and the packed
 * masks of r; with masks whose digits leave out the low k = m.low bits (a coarse comparison),
 * [⌊(c mod 2^bits)/2^k⌋ < ⌊(r mod 2^bits)/2^k⌋] instead (compare.ts says what that changes).
 */
export async function binaryBorrow(ctx: PartyContext, c: RingTensor, m: XorMaskedBits, bits: number, size: number): Promise<SecretTensor> {
  return formShares(ctx, await binaryBorrowForm(ctx, c, m, bits, size), m);
}

/** {@link binaryBorrow} as a {@link PartForm} over s, andA, andB, andAB (same rounds and bytes). */
export async function binaryBorrowForm(ctx: PartyContext, c: RingTensor, m: XorMaskedBits, bits: number, size: number): Promise<PartForm> {
  if (ctx.mode !== 'semi-honest' || ctx.ring.limbs !== 1) throw new RangeError('binaryBorrow: semi-honest Z_2^64 only');
  const v = vectorWords(size);
  const own = words32(m.oneHot.share);
  const rows = oneHotRows(bits, m.low);
  if (m.bits !== bits || own.length !== rows * v)
    throw new RangeError(
      `binaryBorrow: masks for ${m.bits} bits with ${own.length / v} one-hot rows, expected ${bits} bits and ${rows} rows`,
    );
  const cRows = publicBitRows(c, bits, size);
  // Leaves, one per digit: G_j = [c_j < r_j], E_j = [c_j = r_j] from r_j's one-hot rows (local).
  const leaves = digitPlaces(bits, m.low).map(({ width, bit, row }) => digitLeaves(own, row, cRows.slice(bit, bit + width), v));
  return tree(
    ctx,
    leaves.map(([g]) => g),
    leaves.map(([, e]) => e),
    m,
    size,
  );
}

/**
 * {@link binaryBorrowForm} for k public values c_i against the SAME dealt digits of r, in the
 * rounds (and one AND per gate) of one comparator: the k vectors lie side by side at word-aligned
 * offsets i·P, P = 64·⌈size/64⌉, the one-hot rows repeated, and comparison i takes its top level
 * from tops[i]. Form i's coefficients refer to tops[i]'s parts. Sound as long as every c_i is the
 * mask's opening at a public offset (c + t_i): the leaves are local, and every AND opening and
 * top-level opening is masked by fresh triples and bits.
 */
export async function binaryBorrowForms(
  ctx: PartyContext,
  cs: readonly RingTensor[],
  m: XorMaskedBits,
  tops: readonly Readonly<Record<TopPart, SecretTensor>>[],
  bits: number,
  size: number,
): Promise<PartForm[]> {
  if (cs.length !== tops.length || cs.length < 1)
    throw new RangeError(`binaryBorrowForms: ${cs.length} values and ${tops.length} top levels`);
  const padded = 64 * Math.ceil(size / 64);
  const total = (cs.length - 1) * padded + size;
  const gap = padded - size;
  const withGaps = <X>(xs: readonly X[], pad: () => X): X[] => xs.flatMap((x, i) => (i === xs.length - 1 || gap === 0 ? [x] : [x, pad()]));
  const c = T.concatFlat(
    ctx.ring,
    withGaps(cs, () => T.zeros(ctx.ring, [gap])),
  );
  const zeros = (): SecretTensor => L.publicAsShared(ctx, T.zeros(ctx.ring, [gap]));
  const part = (p: TopPart): SecretTensor =>
    L.concatS(
      withGaps(
        tops.map((t) => t[p]),
        zeros,
      ),
    );
  const joined: XorMaskedBits = {
    ...m,
    oneHot: joinElements(cs.map(() => m.oneHot)),
    s: part('s'),
    andA: part('andA'),
    andB: part('andB'),
    andAB: part('andAB'),
  };
  const form = await binaryBorrowForm(ctx, c, joined, bits, total);
  const slice = (t: RingTensor, i: number): RingTensor => T.sliceFlat(t, i * padded, i * padded + size);
  return cs.map((_, i) => ({
    pub: slice(form.pub, i),
    coef: Object.fromEntries(Object.entries(form.coef).map(([p, k]) => [p, typeof k === 'bigint' ? k : slice(k as RingTensor, i)])),
  }));
}

/**
 * The leaves of one digit of width w = cBits.length from the party's share of its one-hot rows
 * (rows [row, row + 2^w) of `oneHot`) and the digit's public bit rows of c:
 *   eq_u = [c_j = u] (public), G_j = ⊕_u oneHot_u ∧ [c_j < u], E_j = ⊕_u oneHot_u ∧ eq_u.
 * Linear in the XOR shares (exactly one oneHot_u is 1), so every party applies it to its share.
 */
function digitLeaves(oneHot: Uint32Array, row: number, cBits: Uint32Array[], v: number): [Uint32Array, Uint32Array] {
  const values = 2 ** cBits.length;
  const g = new Uint32Array(v);
  const e = new Uint32Array(v);
  const eq = new Uint32Array(values);
  for (let w = 0; w < v; w++) {
    eq[0] = 0xffffffff;
    for (let k = 0, half = 1; k < cBits.length; k++, half <<= 1) {
      const ck = cBits[k][w];
      for (let u = 0; u < half; u++) {
        eq[u + half] = eq[u] & ck;
        eq[u] &= ~ck;
      }
    }
    let gw = 0;
    let ew = 0;
    let below = 0;
    for (let u = 0; u < values; u++) {
      const share = oneHot[(row + u) * v + w];
      gw ^= share & below;
      ew ^= share & eq[u];
      below |= eq[u];
    }
    g[w] = gw;
    e[w] = ew;
  }
  return [g, e];
}

/** The comparator tree over the digits' leaves (least significant first) → [G] as a {@link PartForm}. */
async function tree(ctx: PartyContext, leafG: Uint32Array[], leafE: Uint32Array[], m: XorMaskedBits, size: number): Promise<PartForm> {
  const v = vectorWords(size);
  let [g, e] = [leafG, leafE];
  // Levels below the top: AND gates on packed XOR shares.
  while (g.length > 2) {
    const pairs = Math.floor(g.length / 2);
    const left = new Uint32Array(2 * pairs * v);
    const right = new Uint32Array(2 * pairs * v);
    for (let p = 0; p < pairs; p++) {
      left.set(e[2 * p + 1], 2 * p * v);
      right.set(g[2 * p], 2 * p * v);
      left.set(e[2 * p + 1], (2 * p + 1) * v);
      right.set(e[2 * p], (2 * p + 1) * v);
    }
    const prods = await and(ctx, left, right);
    const nextG: Uint32Array[] = [];
    const nextE: Uint32Array[] = [];
    for (let p = 0; p < pairs; p++) {
      const gHi = g[2 * p + 1];
      const off = 2 * p * v;
      const gp = new Uint32Array(v);
      for (let w = 0; w < v; w++) gp[w] = gHi[w] ^ prods[off + w];
      nextG.push(gp);
      nextE.push(prods.subarray(off + v, off + 2 * v));
    }
    if (g.length % 2 === 1) {
      nextG.push(g[g.length - 1]);
      nextE.push(e[e.length - 1]);
    }
    g = nextG;
    e = nextE;
  }
  return g.length === 2 ? topLevel(ctx, g[1], e[1], g[0], m, size) : toArithmetic(ctx, g[0], m.s, size);
}

/** The packed bits of the low bits of arithmetic shares [size] (an XOR sharing of bit values). */
function lowBitsPacked(t: SecretTensor, size: number): Uint32Array {
  const t32 = words32(t.share);
  const out = new Uint32Array(vectorWords(size));
  for (let j = 0; j < size; j++) out[j >>> 5] |= (t32[2 * j] & 1) << (j & 31);
  return out;
}

/** The public bits of a packed vector as ring elements: bit j, and 1 − 2·bit j. */
function publicBitsRing(ctx: PartyContext, bits: Uint32Array, size: number): { bit: RingTensor; oneMinus2: RingTensor } {
  const bit = T.zeros(ctx.ring, [size]);
  const oneMinus2 = T.zeros(ctx.ring, [size]);
  const b32 = words32(bit);
  const f32 = words32(oneMinus2);
  for (let j = 0; j < size; j++) {
    const x = (bits[j >>> 5] >>> (j & 31)) & 1;
    b32[2 * j] = x;
    // 1 − 2·x: 1, or 2^64 − 1.
    f32[2 * j] = x ? 0xffffffff : 1;
    f32[2 * j + 1] = x ? 0xffffffff : 0;
  }
  return { bit, oneMinus2 };
}

/** B2A of XOR-shared bits with the dealer's random bit s: open o = x ⊕ s, then [x] = o + (1 − 2o)·[s]. One round. */
async function toArithmetic(ctx: PartyContext, x: Uint32Array, s: SecretTensor, size: number): Promise<PartForm> {
  const mine = x.slice();
  const sBits = lowBitsPacked(s, size);
  for (let w = 0; w < mine.length; w++) mine[w] ^= sBits[w];
  const o = publicBitsRing(ctx, await openWords(ctx, mine), size);
  return { pub: o.bit, coef: { s: o.oneMinus2 } };
}

/**
 * The top of the tree, G = G_hi ⊕ (E_hi ∧ G_lo), straight into arithmetic shares in ONE round:
 * open d = E_hi ⊕ a, f = G_lo ⊕ b (a, b: the dealer's bits, whose arithmetic shares' low bits are
 * XOR shares) and o = G_hi ⊕ s together; then with public d, f, o
 *   [E_hi ∧ G_lo] = d·f + d(1 − 2f)[b] + f(1 − 2d)[a] + (1 − 2d)(1 − 2f)[ab],
 *   [G_hi] = [s] + o·(1 − 2[s]),
 * and [G] = [G_hi] + [E_hi ∧ G_lo] (the two terms are never both 1).
 */
async function topLevel(
  ctx: PartyContext,
  gHi: Uint32Array,
  eHi: Uint32Array,
  gLo: Uint32Array,
  m: XorMaskedBits,
  size: number,
): Promise<PartForm> {
  const v = gHi.length;
  const [aBits, bBits, sBits] = [lowBitsPacked(m.andA, size), lowBitsPacked(m.andB, size), lowBitsPacked(m.s, size)];
  const masked = new Uint32Array(3 * v);
  for (let w = 0; w < v; w++) {
    masked[w] = eHi[w] ^ aBits[w];
    masked[v + w] = gLo[w] ^ bBits[w];
    masked[2 * v + w] = gHi[w] ^ sBits[w];
  }
  const opened = await openWords(ctx, masked);
  const d = publicBitsRing(ctx, opened.subarray(0, v), size);
  const f = publicBitsRing(ctx, opened.subarray(v, 2 * v), size);
  const o = publicBitsRing(ctx, opened.subarray(2 * v), size);
  return {
    pub: T.add(T.mul(d.bit, f.bit), o.bit),
    coef: { andB: T.mul(d.bit, f.oneMinus2), andA: T.mul(f.bit, d.oneMinus2), andAB: T.mul(d.oneMinus2, f.oneMinus2), s: o.oneMinus2 },
  };
}
