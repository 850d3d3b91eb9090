/**
 * `RingTensor`: a dense, row-major tensor over Z_2^64 or Z_2^128 (see ring.ts for the word
 * layout). Immutable by convention: every operation returns a new tensor or a view (reshape,
 * sliceFlat and splitFlat share the input's words), so nothing may write into a tensor it did not
 * just create. Heavy arithmetic goes to the kernels; reshaping and slicing are plain typed-array work.
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

/** a − b; into `out` (a.data.length words, not aliasing a or b) when given. */
export function sub(a: RingTensor, b: RingTensor, out?: BigUint64Array): RingTensor {
  sameShape(a, b, 'sub');
  if (out && out.length !== a.data.length) throw new RangeError(`sub: output has ${out.length} words, need ${a.data.length}`);
  return { ring: a.ring, shape: a.shape, data: kernels.sub(a.ring.limbs, a.data, b.data, out) };
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
  if (a.ring.limbs !== 1) return add(a, fill(a.ring, a.shape, s));
  // Z_2^64 on 32-bit halves with the carry (no scalar tensor, no BigInt per element).
  const v = BigInt.asUintN(64, s);
  const lo = Number(v & 0xffffffffn);
  const hi = Number(v >> 32n);
  const data = new BigUint64Array(a.data.length);
  const x = halves(a.data);
  const o = halves(data);
  for (let i = 0; i < x.length; i += 2) {
    const low = x[i] + lo;
    o[i] = low >>> 0;
    o[i + 1] = (x[i + 1] + hi + (low > 0xffffffff ? 1 : 0)) >>> 0;
  }
  return { ring: a.ring, shape: a.shape, data };
}

/** The 32-bit halves of 64-bit words (low half first on the little-endian hosts Node runs on). */
function halves(d: BigUint64Array): Uint32Array {
  return new Uint32Array(d.buffer, d.byteOffset, d.length * 2);
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
  const u = 2 * a.ring.limbs;
  const out = zeros(a.ring, [c, r]);
  const src = halves(a.data);
  const dst = halves(out.data);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      const from = (i * c + j) * u;
      const to = (j * r + i) * u;
      for (let w = 0; w < u; w++) dst[to + w] = src[from + w];
    }
  }
  return out;
}

/**
 * A·Bᵀ for A [.., m, n] and B [k, n] → [.., m, k], computed as (B·Aᵀ)ᵀ: only the A side and the
 * [k, m] result are transposed (nothing at all for one row, m = 1), never B — for products with
 * large operands used transposed such as a KV cache's keys.
 */
export function matmulNT(a: RingTensor, b: RingTensor): RingTensor {
  const n = a.shape[a.shape.length - 1];
  if (b.shape.length !== 2 || b.shape[1] !== n || a.ring !== b.ring) {
    throw new RangeError(`matmulNT: cannot multiply [${a.shape}] by the transpose of [${b.shape}]`);
  }
  const m = sizeOf(a.shape) / n;
  const k = b.shape[0];
  const aT = m === 1 ? reshape(a, [n, 1]) : transpose(reshape(a, [m, n]));
  const bA = matmul(b, aT);
  return { ring: a.ring, shape: [...a.shape.slice(0, -1), k], data: m === 1 ? bA.data : transpose(bA).data };
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

/** Split a flat tensor back into tensors of the given shapes (views of t's words: no copy). */
export function splitFlat(t: RingTensor, shapes: readonly (readonly number[])[]): RingTensor[] {
  let off = 0;
  return shapes.map((shape) => {
    const len = sizeOf(shape) * t.ring.limbs;
    const part = { ring: t.ring, shape: [...shape], data: t.data.subarray(off, off + len) };
    off += len;
    return part;
  });
}

/** out[i] = t[index[i]] over the flattened tensor (a public re-arrangement), with shape `shape`. */
export function gather(t: RingTensor, index: ArrayLike<number>, shape: readonly number[]): RingTensor {
  const l = t.ring.limbs;
  const out = zeros(t.ring, shape);
  for (let i = 0; i < index.length; i++) for (let w = 0; w < l; w++) out.data[i * l + w] = t.data[index[i] * l + w];
  return out;
}

/** Elements [start, end) of the flattened tensor, as a 1-D tensor (a view of t's words: no copy). */
export function sliceFlat(t: RingTensor, start: number, end: number): RingTensor {
  const l = t.ring.limbs;
  return { ring: t.ring, shape: [end - start], data: t.data.subarray(start * l, end * l) };
}
