/**
 * Matrices kept packed for the matmul kernel (kernels.ts `pins`: in the WebAssembly kernels'
 * memory, or packed panels for the native kernel), so a product with a fixed right operand (a
 * weight matrix used every decode step) skips copying and packing B: with the wasm kernels 4–8×
 * faster than `matmul` for [1,768]×[768,3072]…[768,50257] (measured: 5.7 → 1.4 ms and
 * 114 → 13 ms). Wasm memory is limited (4 GiB per process) and not returned to the OS: pinning
 * falls back to the plain tensor when memory runs out, and whoever pins must `release` (e.g. at
 * the end of a session) so the space is reused.
 *
 * Resident-only pins (`resident: true`) drop the JavaScript copy once the matrix is packed, so a
 * weight matrix is held once, not twice; {@link pinnedValue} copies it back out (Z_2^64 only)
 * for the rare product that needs the plain tensor.
 */
import type { PinnedMatrix } from '../kernels/kernel-api.ts';
import { pins } from '../kernels/kernels.ts';
import type { RingTensor } from './tensor.ts';
import { matmul } from './tensor.ts';

export interface PinnedTensor {
  /** [k, n] */
  readonly shape: readonly [number, number];
  /** The plain tensor; undefined for a resident-only pin whose matrix lives in `block`. */
  readonly tensor: RingTensor | undefined;
  /** undefined: not resident (memory was short, or released); products fall back to `matmul`. */
  block: PinnedMatrix | undefined;
}

/**
 * Pins a [k, n] tensor (or keeps it unpinned if the kernel memory cannot grow). With `resident`
 * (Z_2^64 only) the returned pin does not keep `t` once the matrix is packed.
 */
export function pin(t: RingTensor, o: { resident?: boolean } = {}): PinnedTensor {
  if (t.shape.length !== 2) throw new RangeError(`pin: expected a matrix, got shape [${t.shape}]`);
  const shape: [number, number] = [t.shape[0], t.shape[1]];
  let block: PinnedMatrix | undefined;
  try {
    block = pins.pin(t.ring.limbs, t.data, shape[0], shape[1]);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
  }
  const resident = o.resident === true && block !== undefined && t.ring.limbs === 1;
  return { shape, tensor: resident ? undefined : t, block };
}

/**
 * A resident-only pin of a [k, n] Z_2^64 matrix to be filled row block by row block with
 * {@link writeRows} (the matrix never exists whole unpacked); undefined when the
 * kernel memory cannot grow.
 */
export function reserveResident(ring: RingTensor['ring'], shape: readonly [number, number]): PinnedTensor | undefined {
  if (ring.limbs !== 1) return undefined;
  try {
    return { shape, tensor: undefined, block: pins.reserve(1, shape[0], shape[1]) };
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return undefined;
  }
}

/** Writes rows [start, start + r) of a {@link reserveResident} pin from `rows` [r, n]. */
export function writeRows(p: PinnedTensor, start: number, rows: RingTensor): void {
  if (!p.block) throw new Error('writeRows: the pin was released');
  pins.writeRows(p.block, start, rows.data);
}

/** The pinned matrix as a plain tensor (unpacked for a resident-only pin). */
export function pinnedValue(p: PinnedTensor, ring: RingTensor['ring']): RingTensor {
  if (p.tensor) return p.tensor;
  if (!p.block) throw new Error('pinnedValue: a resident-only matrix was released');
  return { ring, shape: [...p.shape], data: pins.read(p.block) };
}

/** A·P for A [.., m, k] and a pinned P [k, n]. */
export function matmulPinnedTensor(a: RingTensor, p: PinnedTensor): RingTensor {
  const [k, n] = p.shape;
  if (!p.block) {
    if (!p.tensor) throw new Error('matmulPinnedTensor: a resident-only matrix was released');
    return matmul(a, p.tensor);
  }
  if (a.shape[a.shape.length - 1] !== k || a.ring.limbs !== p.block.limbs)
    throw new RangeError(`matmul: cannot multiply [${a.shape}] by [${k},${n}]`);
  const m = a.data.length / a.ring.limbs / k;
  return { ring: a.ring, shape: [...a.shape.slice(0, -1), n], data: pins.matmul(a.ring.limbs, a.data, p.block, m) };
}

/** Frees the kernel memory of a pinned tensor (idempotent); a resident-only matrix is gone afterwards. */
export function release(p: PinnedTensor): void {
  if (p.block) pins.unpin(p.block);
  p.block = undefined;
}
