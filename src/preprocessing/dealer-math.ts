/**
 * Plaintext generation of preprocessing material (what a dealer computes before sharing).
 * Shared by the in-process dealer and the triple service. All randomness: OS CSPRNG seeds
 * expanded by AES-CTR.
 */
import { Prg, randomSeed } from '../crypto/prg.ts';
import type { Ring } from '../ring/ring.ts';
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
