/**
 * Fixed-point encoding: a real x is the ring element round(x · 2^f) (two's complement in the
 * low 64 bits), f = `fixed_point.scale_bits` (default 16, valid 8–24).
 *
 * Precision: the encoding error is at most 2^−(f+1). A product of two encodings carries 2f
 * fractional bits and must be truncated by f (protocols/truncate.ts), adding at most 2^−f.
 * Range: |x| < 2^(63−f) to encode; products need |x·y| < 2^(63−2f) before truncation.
 */
import { ValidationError } from '../base/errors.ts';
import type { Ring } from './ring.ts';
import { sizeOf, type RingTensor, zeros } from './tensor.ts';

export const DEFAULT_SCALE_BITS = 16;
export const MIN_SCALE_BITS = 8;
export const MAX_SCALE_BITS = 24;

/** Validates `fixed_point.scale_bits`. */
export function ascaleBits(value: unknown, field = 'fixed_point.scale_bits'): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= MIN_SCALE_BITS && value <= MAX_SCALE_BITS) {
    return value;
  }
  throw new ValidationError(`expected an integer in [${MIN_SCALE_BITS}, ${MAX_SCALE_BITS}], got ${String(value)}`, field);
}

/** Encodes one real number as a ring integer (not reduced: may be negative). */
export function encodeScalar(x: number, scaleBits: number): bigint {
  const scaled = Math.round(x * 2 ** scaleBits);
  if (!Number.isFinite(scaled) || Math.abs(scaled) >= 2 ** 62) {
    throw new RangeError(`fixed point: ${x} is outside the encodable range at scale 2^${scaleBits}`);
  }
  return BigInt(scaled);
}

/** Encodes reals into a ring tensor (sign-extended to the full ring width in Z_2^128). */
export function encode(ring: Ring, shape: readonly number[], values: ArrayLike<number>, scaleBits: number): RingTensor {
  const n = sizeOf(shape);
  if (values.length !== n) throw new RangeError(`encode: ${values.length} values for shape [${shape}]`);
  const t = zeros(ring, shape);
  const scale = 2 ** scaleBits;
  for (let i = 0; i < n; i++) {
    const scaled = Math.round(values[i] * scale);
    if (!(Math.abs(scaled) < 2 ** 62)) {
      throw new RangeError(`encode: element ${i} = ${values[i]} is outside the encodable range at scale 2^${scaleBits}`);
    }
    const v = BigInt(scaled);
    if (ring.limbs === 1) t.data[i] = BigInt.asUintN(64, v);
    else {
      t.data[2 * i] = BigInt.asUintN(64, v);
      t.data[2 * i + 1] = v < 0n ? 0xffffffffffffffffn : 0n;
    }
  }
  return t;
}

/** Decodes the low 64 bits of every element as a signed fixed-point number. */
export function decode(t: RingTensor, scaleBits: number): Float64Array {
  const n = sizeOf(t.shape);
  const out = new Float64Array(n);
  const inv = 2 ** -scaleBits;
  const l = t.ring.limbs;
  for (let i = 0; i < n; i++) out[i] = Number(BigInt.asIntN(64, t.data[i * l])) * inv;
  return out;
}

/** Signed integer value of the low 64 bits of every element (no scaling). */
export function decodeIntegers(t: RingTensor): bigint[] {
  const n = sizeOf(t.shape);
  const out = new Array<bigint>(n);
  for (let i = 0; i < n; i++) out[i] = BigInt.asIntN(64, t.data[i * t.ring.limbs]);
  return out;
}
