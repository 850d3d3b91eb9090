/**
 * Matrices kept resident in the WebAssembly kernels' memory, packed for the matmul kernel, so a
 * product with a fixed right operand (a weight matrix used every decode step) copies only the
 * small left operand in: 4–8× faster than `matmul` for [1,768]×[768,3072]…[768,50257] (measured:
 * 5.7 → 1.4 ms and 114 → 13 ms). Wasm memory is limited (4 GiB per process) and not returned to
 * the OS: pinning falls back to the plain tensor when memory runs out, and whoever pins must
 * `release` (e.g. at the end of a session) so the space is reused.
 */
import { matmulPinned, pinMatrix, unpin, type PinnedMatrix } from '../kernels/wasm-kernels.ts';
import type { RingTensor } from './tensor.ts';
import { matmul } from './tensor.ts';

export interface PinnedTensor {
  readonly tensor: RingTensor;
  /** undefined: not resident (memory was short); products fall back to `matmul`. */
  block: PinnedMatrix | undefined;
}

/** Pins a [k, n] tensor (or keeps it unpinned if the kernel memory cannot grow). */
export function pin(t: RingTensor): PinnedTensor {
  if (t.shape.length !== 2) throw new RangeError(`pin: expected a matrix, got shape [${t.shape}]`);
  try {
    return { tensor: t, block: pinMatrix(t.ring.limbs, t.data, t.shape[0], t.shape[1]) };
  } catch (e) {
    if (e instanceof RangeError) return { tensor: t, block: undefined };
    throw e;
  }
}

/** A·P for A [.., m, k] and a pinned P [k, n]. */
export function matmulPinnedTensor(a: RingTensor, p: PinnedTensor): RingTensor {
  if (!p.block) return matmul(a, p.tensor);
  const [k, n] = p.tensor.shape;
  if (a.shape[a.shape.length - 1] !== k || a.ring !== p.tensor.ring)
    throw new RangeError(`matmul: cannot multiply [${a.shape}] by [${k},${n}]`);
  const m = a.data.length / a.ring.limbs / k;
  return { ring: a.ring, shape: [...a.shape.slice(0, -1), n], data: matmulPinned(a.ring.limbs, a.data, p.block, m) };
}

/** Frees the kernel memory of a pinned tensor (idempotent); the tensor stays usable unpinned. */
export function release(p: PinnedTensor): void {
  if (p.block) unpin(p.block);
  p.block = undefined;
}
