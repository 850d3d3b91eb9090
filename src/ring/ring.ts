/**
 * The two rings of the engine.
 *
 * - `Z64` = Z_2^64: semi-honest mode. Values, shares and fixed-point numbers all live here.
 * - `Z128` = Z_2^(k+s) with k = 64, s = 64: malicious (SPDZ2k) mode. The meaningful value is the
 *   low k = 64 bits; the upper s bits carry the statistical security of the MACs
 *   (Cramer, Damgård, Escudero, Scholl, Xing: "SPDZ2k", CRYPTO 2018, eprint 2018/482).
 */
import type { Limbs } from '../kernels/kernel-api.ts';

export interface Ring {
  readonly name: 'Z2^64' | 'Z2^128';
  /** Bit width of the ring modulus. */
  readonly bits: 64 | 128;
  /** u64 words per element. */
  readonly limbs: Limbs;
  /** 2^bits − 1. */
  readonly mask: bigint;
  /** Bytes per element on the wire. */
  readonly bytes: 8 | 16;
}

export const Z64: Ring = Object.freeze({ name: 'Z2^64', bits: 64, limbs: 1, mask: (1n << 64n) - 1n, bytes: 8 });
export const Z128: Ring = Object.freeze({ name: 'Z2^128', bits: 128, limbs: 2, mask: (1n << 128n) - 1n, bytes: 16 });

/** Reduce a bigint into [0, 2^bits). */
export function reduce(ring: Ring, v: bigint): bigint {
  return v & ring.mask;
}

/** Interpret the low 64 bits as a two's-complement signed integer. */
export function toSigned64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}
