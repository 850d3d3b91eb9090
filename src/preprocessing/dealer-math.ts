/**
 * Plaintext generation of preprocessing material (what a dealer computes before sharing).
 * Shared by the in-process dealer and the triple service. All randomness: OS CSPRNG seeds
 * expanded by AES-CTR.
 */
import { Prg, randomSeed } from '../crypto/prg.ts';
import { Z64, type Ring } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { msbAndHigh } from '../ring/bit-fields.ts';
import { matmul, mul, reshape, zeros } from '../ring/tensor.ts';
import { digitPlaces, oneHotRows } from './compare-digits.ts';

export function freshPrg(): Prg {
  return new Prg(randomSeed());
}

/** a, b uniform; c = a ⊙ b. */
export function plainTriple(ring: Ring, size: number, prg = freshPrg()): RingTensor[] {
  const a = prg.ringTensor(ring, [size]);
  const b = prg.ringTensor(ring, [size]);
  return [a, b, mul(a, b)];
}

export function plainMatrixTriple(ring: Ring, m: number, k: number, n: number, prg = freshPrg()): RingTensor[] {
  const a = prg.ringTensor(ring, [m, k]);
  const b = prg.ringTensor(ring, [k, n]);
  return [a, b, matmul(a, b)];
}

/**
 * r [rows] uniform in [0, 2^bits) (the low bits of AES-CTR words: exactly uniform, 2^bits
 * divides 2^64) and its one-hot rows e [rows, 2^bits], e[t, j] = [j = r_t] (the `oneHot` material).
 */
export function plainOneHotMasks(ring: Ring, rows: number, bits: number, prg = freshPrg()): RingTensor[] {
  const width = 2 ** bits;
  const low = (1n << BigInt(bits)) - 1n;
  const words = prg.words(rows);
  const r = zeros(ring, [rows]);
  const e = zeros(ring, [rows, width]);
  for (let t = 0; t < rows; t++) {
    const index = words[t] & low;
    r.data[t * ring.limbs] = index;
    e.data[(t * width + Number(index)) * ring.limbs] = 1n;
  }
  return [r, e];
}

/**
 * a [rows, len], b [rows] uniform; ab = a ⊙ b broadcast along each row; with `squares` also
 * aa = a ⊙ a (the `rowTriple` material, material.ts RowTriple).
 */
export function plainRowTriple(ring: Ring, rows: number, len: number, squares: boolean, prg = freshPrg()): RingTensor[] {
  const a = prg.ringTensor(ring, [rows, len]);
  const b = prg.ringTensor(ring, [rows]);
  const out = [a, b, mul(a, alongRows(b, len))];
  return squares ? [...out, mul(a, a)] : out;
}

/** b [rows] repeated along each row: [rows, len]. */
function alongRows(b: RingTensor, len: number): RingTensor {
  const rows = b.shape[0];
  const l = b.ring.limbs;
  const wide = zeros(b.ring, [rows, len]);
  for (let i = 0; i < rows; i++) {
    if (l === 1) {
      wide.data.fill(b.data[i], i * len, (i + 1) * len);
      continue;
    }
    const bi = b.data.subarray(i * l, (i + 1) * l);
    for (let j = 0; j < len; j++) wide.data.set(bi, (i * len + j) * l);
  }
  return wide;
}

/**
 * [r, rMsb, rHigh, b, rMsb ⊙ b, rHigh ⊙ b] for a truncation by `shift` of x [rows, len] whose
 * output is multiplied by one value per row (the `truncRow` material, material.ts TruncRowMasks):
 * r uniform [rows, len] with its parts, b uniform [rows], the products with b broadcast.
 */
export function plainTruncRowMasks(ring: Ring, rows: number, len: number, shift: number, prg = freshPrg()): RingTensor[] {
  const [r, rMsb, rHigh] = plainMaskedBits(ring, rows * len, shift, false, prg).map((t) => reshape(t, [rows, len]));
  const b = prg.ringTensor(ring, [rows]);
  const wide = alongRows(b, len);
  return [r, rMsb, rHigh, b, mul(rMsb, wide), mul(rHigh, wide)];
}

export function plainSquare(ring: Ring, size: number, prg = freshPrg()): RingTensor[] {
  const a = prg.ringTensor(ring, [size]);
  return [a, mul(a, a)];
}

/**
 * r uniform over the ring; rMsb, rHigh and (optionally) the low `shift` bits of r mod 2^64,
 * in the order [r, rMsb, rHigh, bits?] (see material.ts MaskedBits).
 */
export function plainMaskedBits(ring: Ring, size: number, shift: number, withBits: boolean, prg = freshPrg()): RingTensor[] {
  return maskedBitsOf(prg.ringTensor(ring, [size]), shift, withBits);
}

/**
 * [r, rMsb, rHigh, rHigh², rHigh·rMsb] for a truncation by `shift` whose output is squared
 * (the `truncSquare` material, material.ts TruncSquareMasks).
 */
export function plainTruncSquareMasks(ring: Ring, size: number, shift: number, prg = freshPrg()): RingTensor[] {
  const [r, rMsb, rHigh] = plainMaskedBits(ring, size, shift, false, prg);
  return [r, rMsb, rHigh, mul(rHigh, rHigh), mul(rHigh, rMsb)];
}

/** [r, rMsb, rHigh, bits?] derived from a given uniform r [size]. */
export function maskedBitsOf(r: RingTensor, shift: number, withBits: boolean): RingTensor[] {
  const { msb: rMsb, high: rHigh } = msbAndHigh(r, shift);
  if (!withBits) return [r, rMsb, rHigh];
  const size = r.shape[0];
  const l = r.ring.limbs;
  const bits = zeros(r.ring, [shift, size]);
  const src = new Uint32Array(r.data.buffer, r.data.byteOffset, r.data.length * 2);
  const dst = new Uint32Array(bits.data.buffer);
  for (let i = 0; i < size; i++)
    for (let j = 0; j < shift; j++) dst[2 * l * (j * size + i)] = (src[2 * l * i + (j >>> 5)] >>> (j & 31)) & 1;
  return [r, rMsb, rHigh, bits];
}

/**
 * [r, rMsb, rHigh, s, a, b, ab, oneHot] for the binary comparator (material.ts XorMaskedBits),
 * Z_2^64: r uniform, rMsb = bit 63, rHigh = ⌊(r mod 2^63) / 2^bits⌋, s, a, b uniform bits, and
 * the digits of r's bits low..bits−1 (compare-digits.ts) one-hot, packed 64 elements per word:
 * row offset_j + v holds [digit j of r = v] (bits ≤ 62; low > 0 for a coarse comparison).
 */
export function plainXorMaskedBits(size: number, bits: number, low = 0, prg = freshPrg()): RingTensor[] {
  if (!(Number.isInteger(bits) && bits >= 1 && bits <= 62))
    throw new RangeError(`plainXorMaskedBits: bits must be in [1, 62], got ${bits}`);
  const r = prg.ringTensor(Z64, [size]);
  const { msb: rMsb, high: rHigh } = msbAndHigh(r, bits);
  const top = plainTopBits(size, prg);
  const words = Math.ceil(size / 64);
  const places = digitPlaces(bits, low);
  const packed = new BigUint64Array(oneHotRows(bits, low) * words);
  const r32 = new Uint32Array(r.data.buffer, r.data.byteOffset, 2 * size);
  const p32 = new Uint32Array(packed.buffer);
  // Element i is bit i mod 32 of 32-bit word ⌊i/32⌋ of each row (little-endian 64-bit words).
  // Digit by digit with the digit's bit field extracted inline (2.5× faster than per element).
  const stride = 2 * words;
  for (const { width, bit, row } of places) {
    const base = row * stride;
    const mask = (1 << width) - 1;
    for (let i = 0; i < size; i++) {
      const lo = r32[2 * i];
      const hi = r32[2 * i + 1];
      const digit =
        bit >= 32 ? (hi >>> (bit - 32)) & mask : bit + width <= 32 ? (lo >>> bit) & mask : ((lo >>> bit) | (hi << (32 - bit))) & mask;
      p32[base + digit * stride + (i >>> 5)] |= 1 << (i & 31);
    }
  }
  return [r, rMsb, rHigh, ...top, { ring: Z64, shape: [oneHotRows(bits, low), words], data: packed }];
}

/** The comparator's top-level bits [s, a, b, ab] (Z_2^64, [size] each): s, a, b uniform bits, ab = a·b. */
function plainTopBits(size: number, prg: Prg): RingTensor[] {
  const coins = prg.bytes(Math.ceil(size / 8));
  const andCoins = prg.bytes(Math.ceil(size / 4));
  const [s, a, b, ab] = [0, 1, 2, 3].map(() => new BigUint64Array(size));
  const [s32, a32, b32, ab32] = [s, a, b, ab].map((t) => new Uint32Array(t.buffer));
  for (let i = 0; i < size; i++) {
    s32[2 * i] = (coins[i >> 3] >>> (i & 7)) & 1;
    const ai = (andCoins[i >> 2] >>> (2 * (i & 3))) & 1;
    const bi = (andCoins[i >> 2] >>> (2 * (i & 3) + 1)) & 1;
    a32[2 * i] = ai;
    b32[2 * i] = bi;
    ab32[2 * i] = ai & bi;
  }
  return [s, a, b, ab].map((data) => ({ ring: Z64, shape: [size], data }));
}

/**
 * {@link plainXorMaskedBits} followed by r ⊙ part for the comparator parts rMsb, rHigh, s, a, b,
 * ab (material.ts RELU_PARTS order): the `compareRelu` material.
 */
export function plainReluMasks(size: number, bits: number, low = 0, prg = freshPrg()): RingTensor[] {
  const xor = plainXorMaskedBits(size, bits, low, prg);
  const r = xor[0];
  return [...xor, ...xor.slice(1, 7).map((part) => mul(r, part))];
}

/**
 * {@link plainReluMasks} followed by a second top level s, a, b, ab (fresh random bits, ab = a·b)
 * for a second comparison of the same masked value: the `compareReluPair` material.
 */
export function plainReluPairMasks(size: number, bits: number, low = 0, prg = freshPrg()): RingTensor[] {
  return [...plainReluMasks(size, bits, low, prg), ...plainTopBits(size, prg)];
}
