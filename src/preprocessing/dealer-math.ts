/**
 * Plaintext generation of preprocessing material (what a dealer computes before sharing).
 * Shared by the in-process dealer and the triple service. All randomness: OS CSPRNG seeds
 * expanded by AES-CTR.
 */
import { Prg, randomSeed } from '../crypto/prg.ts';
import { Z64, type Ring } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { matmul, mul, zeros } from '../ring/tensor.ts';

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

export function plainSquare(ring: Ring, size: number, prg = freshPrg()): RingTensor[] {
  const a = prg.ringTensor(ring, [size]);
  return [a, mul(a, a)];
}

/**
 * r uniform over the ring; rMsb, rHigh and (optionally) the low `shift` bits of r mod 2^64,
 * in the order [r, rMsb, rHigh, bits?] (see material.ts MaskedBits).
 */
export function plainMaskedBits(ring: Ring, size: number, shift: number, withBits: boolean, prg = freshPrg()): RingTensor[] {
  const r = prg.ringTensor(ring, [size]);
  const rMsb = zeros(ring, [size]);
  const rHigh = zeros(ring, [size]);
  const bits = withBits ? zeros(ring, [shift, size]) : undefined;
  const l = ring.limbs;
  const low63 = (1n << 63n) - 1n;
  for (let i = 0; i < size; i++) {
    const w = r.data[i * l];
    rMsb.data[i * l] = w >> 63n;
    rHigh.data[i * l] = (w & low63) >> BigInt(shift);
    if (bits) for (let j = 0; j < shift; j++) bits.data[(j * size + i) * l] = (w >> BigInt(j)) & 1n;
  }
  return bits ? [r, rMsb, rHigh, bits] : [r, rMsb, rHigh];
}

/**
 * [r, rMsb, rHigh, s, xorBits] for the binary comparator (material.ts XorMaskedBits), Z_2^64:
 * r uniform, rMsb = bit 63, rHigh = ⌊(r mod 2^63) / 2^bits⌋, s a uniform bit, and bits 0..bits−1
 * of r packed 64 elements per word, row j holding bit j (bits ≤ 63).
 */
export function plainXorMaskedBits(size: number, bits: number, prg = freshPrg()): RingTensor[] {
  if (!(Number.isInteger(bits) && bits >= 1 && bits <= 63))
    throw new RangeError(`plainXorMaskedBits: bits must be in [1, 63], got ${bits}`);
  const r = prg.ringTensor(Z64, [size]);
  const coins = prg.bytes(Math.ceil(size / 8));
  const words = Math.ceil(size / 64);
  const rMsb = new BigUint64Array(size);
  const rHigh = new BigUint64Array(size);
  const s = new BigUint64Array(size);
  const packed = new BigUint64Array(bits * words);
  const r32 = new Uint32Array(r.data.buffer, r.data.byteOffset, 2 * size);
  const h32 = new Uint32Array(rHigh.buffer);
  const m32 = new Uint32Array(rMsb.buffer);
  const s32 = new Uint32Array(s.buffer);
  const p32 = new Uint32Array(packed.buffer);
  const lowMask = 2 ** Math.min(bits, 32) - 1;
  for (let i = 0; i < size; i++) {
    const lo = r32[2 * i];
    const hi = r32[2 * i + 1];
    m32[2 * i] = hi >>> 31;
    s32[2 * i] = (coins[i >> 3] >>> (i & 7)) & 1;
    // rHigh = (r mod 2^63) >> bits, from the 32-bit halves.
    const hi63 = hi & 0x7fffffff;
    if (bits < 32) {
      h32[2 * i] = ((lo >>> bits) | (hi63 << (32 - bits))) >>> 0;
      h32[2 * i + 1] = hi63 >>> bits;
    } else {
      h32[2 * i] = hi63 >>> (bits - 32);
    }
    const wordBit = 1 << (i & 31);
    const col = 2 * (i >> 6) + ((i >> 5) & 1);
    let low = lo & lowMask;
    for (let j = 0; low !== 0; j++, low >>>= 1) if (low & 1) p32[j * 2 * words + col] |= wordBit;
    let high = bits > 32 ? hi & (2 ** (bits - 32) - 1) : 0;
    for (let j = 32; high !== 0; j++, high >>>= 1) if (high & 1) p32[j * 2 * words + col] |= wordBit;
  }
  return [
    r,
    { ring: Z64, shape: [size], data: rMsb },
    { ring: Z64, shape: [size], data: rHigh },
    { ring: Z64, shape: [size], data: s },
    { ring: Z64, shape: [bits, words], data: packed },
  ];
}
