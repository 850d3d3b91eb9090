/**
 * The kernel contract: dense arithmetic over Z_2^64 (limbs = 1) and Z_2^128 (limbs = 2).
 *
 * Layout: a tensor of `size` ring elements is a `BigUint64Array` of `size * limbs` words; a
 * Z_2^128 element is two consecutive words, low word first. Matrices are row-major.
 * All operations wrap modulo 2^(64·limbs). `out`, when given, must have the right length and
 * may alias an input for elementwise ops (never for matmul).
 *
 * Two implementations: `wasm-kernels.ts` (WebAssembly SIMD, the one the engine uses) and
 * `js-kernels.ts` (BigInt, a slow executable specification used to cross-check it).
 */
export type Limbs = 1 | 2;

export interface RingKernels {
  readonly name: string;
  add(limbs: Limbs, a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  sub(limbs: Limbs, a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  neg(limbs: Limbs, a: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  /** Elementwise product. */
  mul(limbs: Limbs, a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array;
  /** Every element times the scalar `s` (taken modulo 2^(64·limbs)). */
  mulScalar(limbs: Limbs, a: BigUint64Array, s: bigint, out?: BigUint64Array): BigUint64Array;
  /** C[m,n] = A[m,k] · B[k,n]. */
  matmul(limbs: Limbs, a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): BigUint64Array;
}
