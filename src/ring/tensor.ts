/**
 * `RingTensor`: a dense, row-major tensor over Z_2^64 or Z_2^128 (see ring.ts for the word
 * layout). Immutable by convention: every operation returns a new tensor. Heavy arithmetic goes
 * to the kernels; reshaping and slicing are plain typed-array work.
 */
import { kernels } from '../kernels/kernels.ts';
import type { Ring } from './ring.ts';

export interface RingTensor {
  readonly ring: Ring;
  readonly shape: readonly number[];
  /** size · ring.limbs words. */
  readonly data: BigUint64Array;
}

export function sizeOf(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

export function tensor(ring: Ring, shape: readonly number[], data: BigUint64Array): RingTensor {
  if (data.length !== sizeOf(shape) * ring.limbs) {
    throw new RangeError(`tensor: shape [${shape}] over ${ring.name} needs ${sizeOf(shape) * ring.limbs} words, got ${data.length}`);
  }
  return { ring, shape: [...shape], data };
}

export function zeros(ring: Ring, shape: readonly number[]): RingTensor {
  return tensor(ring, shape, new BigUint64Array(sizeOf(shape) * ring.limbs));
}

/** Build from bigints (reduced modulo the ring). */
export function fromBigInts(ring: Ring, shape: readonly number[], values: readonly bigint[]): RingTensor {
  const t = zeros(ring, shape);
  values.forEach((v, i) => setElement(t, i, v));
  return t;
}

export function getElement(t: RingTensor, i: number): bigint {
  return t.ring.limbs === 1 ? t.data[i] : t.data[2 * i] | (t.data[2 * i + 1] << 64n);
}

export function setElement(t: RingTensor, i: number, v: bigint): void {
  if (t.ring.limbs === 1) t.data[i] = BigInt.asUintN(64, v);
  else {
    t.data[2 * i] = BigInt.asUintN(64, v);
    t.data[2 * i + 1] = BigInt.asUintN(64, v >> 64n);
  }
}

export function toBigInts(t: RingTensor): bigint[] {
  const n = sizeOf(t.shape);
  const out = new Array<bigint>(n);
  for (let i = 0; i < n; i++) out[i] = getElement(t, i);
  return out;
}

function sameShape(a: RingTensor, b: RingTensor, op: string): void {
  if (a.ring !== b.ring || a.data.length !== b.data.length) {
    throw new RangeError(`${op}: operands differ: [${a.shape}] over ${a.ring.name} vs [${b.shape}] over ${b.ring.name}`);
  }
}

export function add(a: RingTensor, b: RingTensor): RingTensor {
  sameShape(a, b, 'add');
  return { ring: a.ring, shape: a.shape, data: kernels.add(a.ring.limbs, a.data, b.data) };
}

export function sub(a: RingTensor, b: RingTensor): RingTensor {
  sameShape(a, b, 'sub');
  return { ring: a.ring, shape: a.shape, data: kernels.sub(a.ring.limbs, a.data, b.data) };
}

export function neg(a: RingTensor): RingTensor {
  return { ring: a.ring, shape: a.shape, data: kernels.neg(a.ring.limbs, a.data) };
}

/** Elementwise product. */
export function mul(a: RingTensor, b: RingTensor): RingTensor {
  sameShape(a, b, 'mul');
  return { ring: a.ring, shape: a.shape, data: kernels.mul(a.ring.limbs, a.data, b.data) };
}

export function mulScalar(a: RingTensor, s: bigint): RingTensor {
  const reduced = BigInt.asUintN(a.ring.bits, s);
  return { ring: a.ring, shape: a.shape, data: kernels.mulScalar(a.ring.limbs, a.data, reduced) };
}

/** Adds the same scalar to every element. */
export function addScalar(a: RingTensor, s: bigint): RingTensor {
  return add(a, fill(a.ring, a.shape, s));
}

/** A tensor with every element equal to `v`. */
export function fill(ring: Ring, shape: readonly number[], v: bigint): RingTensor {
  const t = zeros(ring, shape);
  const lo = BigInt.asUintN(64, v);
  const hi = BigInt.asUintN(64, v >> 64n);
  if (ring.limbs === 1) t.data.fill(lo);
  else {
    for (let i = 0; i < t.data.length; i += 2) {
      t.data[i] = lo;
      t.data[i + 1] = hi;
    }
  }
  return t;
}

/** C = A·B for A [m,k], B [k,n] (leading dimensions of A are flattened into m). */
export function matmul(a: RingTensor, b: RingTensor): RingTensor {
  const k = a.shape[a.shape.length - 1];
  if (b.shape.length !== 2 || b.shape[0] !== k || a.ring !== b.ring) {
    throw new RangeError(`matmul: cannot multiply [${a.shape}] by [${b.shape}]`);
  }
  const m = sizeOf(a.shape) / k;
  const n = b.shape[1];
  return { ring: a.ring, shape: [...a.shape.slice(0, -1), n], data: kernels.matmul(a.ring.limbs, a.data, b.data, m, k, n) };
}

export function reshape(a: RingTensor, shape: readonly number[]): RingTensor {
  if (sizeOf(shape) !== sizeOf(a.shape)) throw new RangeError(`reshape: [${a.shape}] to [${shape}]`);
  return { ring: a.ring, shape: [...shape], data: a.data };
}

/** Transpose of a 2-D tensor. */
export function transpose(a: RingTensor): RingTensor {
  const [r, c] = a.shape;
  const l = a.ring.limbs;
  const out = zeros(a.ring, [c, r]);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      for (let w = 0; w < l; w++) out.data[(j * r + i) * l + w] = a.data[(i * c + j) * l + w];
    }
  }
  return out;
}

/** Concatenate flat views of tensors into one 1-D tensor (for batching openings). */
export function concatFlat(ring: Ring, parts: readonly RingTensor[]): RingTensor {
  const total = parts.reduce((s, p) => s + p.data.length, 0);
  const data = new BigUint64Array(total);
  let off = 0;
  for (const p of parts) {
    data.set(p.data, off);
    off += p.data.length;
  }
  return { ring, shape: [total / ring.limbs], data };
}

/** Split a flat tensor back into tensors of the given shapes. */
export function splitFlat(t: RingTensor, shapes: readonly (readonly number[])[]): RingTensor[] {
  let off = 0;
  return shapes.map((shape) => {
    const len = sizeOf(shape) * t.ring.limbs;
    const part = { ring: t.ring, shape: [...shape], data: t.data.slice(off, off + len) };
    off += len;
    return part;
  });
}

/** Elements [start, end) of the flattened tensor, as a 1-D tensor. */
export function sliceFlat(t: RingTensor, start: number, end: number): RingTensor {
  const l = t.ring.limbs;
  return { ring: t.ring, shape: [end - start], data: t.data.slice(start * l, end * l) };
}
