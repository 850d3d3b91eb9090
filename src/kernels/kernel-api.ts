/**
 * The kernel contract: dense arithmetic over Z_2^64 (limbs = 1) and Z_2^128 (limbs = 2).
 *
 * Layout: a tensor of `size` ring elements is a `BigUint64Array` of `size * limbs` words; a
 * Z_2^128 element is two consecutive words, low word first. Matrices are row-major.
 * All operations wrap modulo 2^(64·limbs). `out`, when given, must have the right length and
 * may alias an input for elementwise ops (never for matmul).
 *
 * Three implementations: `wasm-kernels.ts` (WebAssembly SIMD, everywhere), `native-kernels.ts`
 * (an optional AVX-512 / AVX2 addon for Z_2^64 products, the wasm kernels for the rest) and
 * `js-kernels.ts` (BigInt, a slow executable specification used to cross-check both).
 * `kernels.ts` picks the one the engine uses.
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

/** A right operand B[k, n] held by a {@link MatrixPins} store, packed for its matmul kernel. */
export interface PinnedMatrix {
  readonly limbs: Limbs;
  readonly k: number;
  readonly n: number;
}

/**
 * Matrices kept packed for repeated products with the same right operand (weights, fixed masks).
 * Implementations: `wasmPins` (in the WebAssembly module's memory, at most 4 GiB per process) and
 * `nativePins` (packed panels in ordinary memory for the native kernel; Z_2^128 in wasm).
 * Both throw a RangeError when memory for a pin cannot be had, so callers can fall back to the
 * plain matrix; using a matrix after `unpin` throws an Error.
 */
export interface MatrixPins {
  readonly name: string;
  /** Packs B[k, n] (row-major words) once. */
  pin(limbs: Limbs, b: BigUint64Array, k: number, n: number): PinnedMatrix;
  /** Room for a packed [k, n] B, filled by {@link writeRows}. */
  reserve(limbs: Limbs, k: number, n: number): PinnedMatrix;
  /** Packs rows [start, start + r) of a reserved B from `rows` ([r, n] row-major words). */
  writeRows(b: PinnedMatrix, start: number, rows: BigUint64Array): void;
  /** C[m, n] = A[m, k] · B. */
  matmul(limbs: Limbs, a: BigUint64Array, b: PinnedMatrix, m: number): BigUint64Array;
  /** B's row-major words (Z_2^64 only). */
  read(b: PinnedMatrix): BigUint64Array;
  /** Releases B's memory; using it afterwards throws. */
  unpin(b: PinnedMatrix): void;
}
