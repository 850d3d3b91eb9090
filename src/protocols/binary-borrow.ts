/**
 * The comparator of compare.ts evaluated on bits (semi-honest mode): the borrow
 * [c mod 2^ℓ < r mod 2^ℓ] from public c and the dealer's shared bits of r, with XOR-shared bits
 * and AND gates instead of ring products.
 *
 * Observation: the low bit of an additive Z_2^64 sharing is an XOR sharing of the value's low bit
 * (carries only move upwards). So the dealer's arithmetic shares of r's bits (the comparison
 * masks) are XOR shares of those bits. AND gates use packed GF(2) triples (`bitTriples`, 64 per
 * word, 24 bytes of preprocessing per 64 gates instead of 24 per gate), and every AND costs 2
 * bits per party online instead of 2 ring elements.
 *
 * Steps (leaves least significant first; same tree as compare.ts):
 *   g_i = r_i ∧ ¬c_i, e_i = ¬(r_i ⊕ c_i)          (local: c is public)
 *   per level, in one round for all pairs:  G = G_hi ⊕ (E_hi ∧ G_lo),  E = E_hi ∧ E_lo
 *     (XOR is OR here: the two terms of G are never both 1); the top level needs only G;
 *   AND (Beaver over GF(2)): open d = x ⊕ a, e = y ⊕ b (bits packed 8 per byte), then
 *     z = c ⊕ (d ∧ b) ⊕ (e ∧ a) ⊕ [party 0](d ∧ e);
 *   back to the ring (B2A) with a random bit s arithmetically shared by the dealer (its low bits
 *   are XOR shares): open o = borrow ⊕ s, then [borrow] = [s] + o·(1 − 2[s]).
 * Reveals: Beaver-masked bits (uniform) and o (uniform). No MACs exist on the binary values, so
 * this is for semi-honest mode only; malicious mode keeps the MACed arithmetic comparator.
 * Cost: ⌈log2 ℓ⌉ + 1 rounds; bytes per party to each peer: Σ_levels ⌈2·products·size/8⌉ + ⌈size/8⌉.
 * Citation: the comparator tree of Catrina & de Hoogh (SCN 2010) on GF(2) as in ABY
 * (Demmler, Schneider, Zohner, NDSS 2015); Beaver, CRYPTO 1991.
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { comparatorLevels } from './compare-levels.ts';
import type { PartyContext } from './context.ts';

/** Low bit of each element (Z_2^64 words, little-endian host). */
export function lowBits(t: RingTensor): Uint8Array {
  const step = 2 * t.ring.limbs;
  const u32 = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);
  const out = new Uint8Array(t.data.length / t.ring.limbs);
  for (let i = 0; i < out.length; i++) out[i] = u32[i * step] & 1;
  return out;
}

function pack(bits: Uint8Array): Uint8Array {
  const out = new Uint8Array((bits.length + 7) >> 3);
  for (let i = 0; i < bits.length; i++) out[i >> 3] |= bits[i] << (i & 7);
  return out;
}

function unpackXor(into: Uint8Array, bytes: Uint8Array): void {
  for (let i = 0; i < into.length; i++) into[i] ^= (bytes[i >> 3] >> (i & 7)) & 1;
}

/** Opens XOR-shared bits in one round. */
async function openBits(ctx: PartyContext, mine: Uint8Array): Promise<Uint8Array> {
  const incoming = await ctx.channel.exchange(pack(mine));
  const out = mine.slice();
  for (let j = 0; j < ctx.n; j++) if (j !== ctx.id) unpackXor(out, incoming[j]);
  return out;
}

/** The first m bits of packed words (Z_2^64 shares of bit triples). */
function unpackWords(t: RingTensor, m: number): Uint8Array {
  const u32 = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);
  const out = new Uint8Array(m);
  for (let i = 0; i < m; i++) out[i] = (u32[i >>> 5] >>> (i & 31)) & 1;
  return out;
}

/** x ∧ y elementwise for XOR-shared bit vectors, one round, with packed GF(2) triples from the dealer. */
async function and(ctx: PartyContext, x: Uint8Array, y: Uint8Array): Promise<Uint8Array> {
  const m = x.length;
  const t = await ctx.material.bitTriples(Math.ceil(m / 64));
  const [a, b, c] = [unpackWords(t.a.share, m), unpackWords(t.b.share, m), unpackWords(t.c.share, m)];
  const masked = new Uint8Array(2 * m);
  for (let i = 0; i < m; i++) {
    masked[i] = x[i] ^ a[i];
    masked[m + i] = y[i] ^ b[i];
  }
  const de = await openBits(ctx, masked);
  const z = new Uint8Array(m);
  const first = ctx.id === 0 ? 1 : 0;
  for (let i = 0; i < m; i++) {
    const d = de[i];
    const e = de[m + i];
    z[i] = c[i] ^ (d & b[i]) ^ (e & a[i]) ^ (first & d & e);
  }
  return z;
}

/** Bit i of every element of public c (Z_2^64, i < 64). */
function publicBits(c: RingTensor, i: number, size: number): Uint8Array {
  const u32 = new Uint32Array(c.data.buffer, c.data.byteOffset, c.data.length * 2);
  const word = i >= 32 ? 1 : 0;
  const shift = i & 31;
  const out = new Uint8Array(size);
  for (let j = 0; j < size; j++) out[j] = (u32[2 * j + word] >>> shift) & 1;
  return out;
}

/** Bytes this party sends to each peer for a borrow over `size` elements with `bits` bits. */
export function binaryBorrowBytesPerPeer(size: number, bits: number): number {
  return comparatorLevels(bits).reduce((s, products) => s + Math.ceil((2 * products * size) / 8), 0) + Math.ceil(size / 8);
}

/** [c mod 2^bits < r mod 2^bits] as an arithmetic share, from public c and shared bits of r ([bits, size]). */
export async function binaryBorrow(
  ctx: PartyContext,
  c: RingTensor,
  rBits: SecretTensor,
  bits: number,
  size: number,
): Promise<SecretTensor> {
  if (ctx.mode !== 'semi-honest' || ctx.ring.limbs !== 1) throw new RangeError('binaryBorrow: semi-honest Z_2^64 only');
  const own = lowBits(rBits.share);
  const first = ctx.id === 0 ? 1 : 0;
  let g: Uint8Array[] = [];
  let e: Uint8Array[] = [];
  for (let i = 0; i < bits; i++) {
    const ci = publicBits(c, i, size);
    const gi = new Uint8Array(size);
    const ei = new Uint8Array(size);
    for (let j = 0; j < size; j++) {
      const r = own[i * size + j];
      gi[j] = r & (ci[j] ^ 1);
      ei[j] = r ^ (first & (ci[j] ^ 1));
    }
    g.push(gi);
    e.push(ei);
  }
  while (g.length > 1) {
    const pairs = Math.floor(g.length / 2);
    const top = Math.ceil(g.length / 2) === 1;
    const per = top ? 1 : 2;
    const left = new Uint8Array(pairs * per * size);
    const right = new Uint8Array(pairs * per * size);
    for (let p = 0; p < pairs; p++) {
      left.set(e[2 * p + 1], per * p * size);
      right.set(g[2 * p], per * p * size);
      if (!top) {
        left.set(e[2 * p + 1], (per * p + 1) * size);
        right.set(e[2 * p], (per * p + 1) * size);
      }
    }
    const prods = await and(ctx, left, right);
    const nextG: Uint8Array[] = [];
    const nextE: Uint8Array[] = [];
    for (let p = 0; p < pairs; p++) {
      const gHi = g[2 * p + 1];
      const gp = new Uint8Array(size);
      const off = per * p * size;
      for (let j = 0; j < size; j++) gp[j] = gHi[j] ^ prods[off + j];
      nextG.push(gp);
      if (!top) nextE.push(prods.subarray(off + size, off + 2 * size));
    }
    if (g.length % 2 === 1) {
      nextG.push(g[g.length - 1]);
      nextE.push(e[e.length - 1]);
    }
    g = nextG;
    e = nextE;
  }
  // B2A with a fresh random bit s (bit 0 of a dealer mask: arithmetic shares, low bits XOR shares).
  const sMask = await ctx.material.compareMasks(size, 1);
  const s = L.reshapeS(sMask.bits as SecretTensor, [size]);
  const sLow = lowBits(s.share);
  const mine = new Uint8Array(size);
  for (let j = 0; j < size; j++) mine[j] = g[0][j] ^ sLow[j];
  const o = await openBits(ctx, mine);
  const oRing = T.zeros(ctx.ring, [size]);
  const oneMinus2o = T.zeros(ctx.ring, [size]);
  for (let j = 0; j < size; j++) {
    oRing.data[j] = BigInt(o[j]);
    oneMinus2o.data[j] = o[j] ? (1n << 64n) - 1n : 1n;
  }
  return L.addSP(ctx, L.mulSP(s, oneMinus2o), oRing);
}
