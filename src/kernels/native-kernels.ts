/**
 * {@link RingKernels} and {@link MatrixPins} on the optional native addon build/ring-kernels.node
 * (native/ring-kernels.c: AVX-512 or AVX2, chosen at load time for this CPU), for Z_2^64 matrix
 * products; elementwise kernels and Z_2^128 stay on WebAssembly, whose elementwise kernels are
 * as fast as a native call for these sizes.
 *
 * Unlike the wasm kernels, the addon reads and writes the callers' BigUint64Arrays in place: no
 * operand is copied, and a pinned matrix is an ordinary array of packed 32-column panels instead
 * of a region of wasm memory (so pins are not bound by wasm's 4 GiB).
 * Measured (bench/kernels.ts --json, this machine, AVX-512): see README "Performance".
 *
 * {@link loadNativeKernels} returns the implementation or the reason there is none (addon not
 * built: `npm run build:native`; no AVX2; a load error), so kernels.ts can fall back to wasm.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Limbs, MatrixPins, PinnedMatrix, RingKernels } from './kernel-api.ts';
import { wasmKernels, wasmPins } from './wasm-kernels.ts';

/** The addon's exports (native/ring-kernels.c). */
export interface NativeAddon {
  matmul64(a: BigUint64Array, b: BigUint64Array, c: BigUint64Array, m: number, k: number, n: number): void;
  matmulPacked64(a: BigUint64Array, p: BigUint64Array, c: BigUint64Array, m: number, k: number, n: number): void;
  packRows64(rows: BigUint64Array, p: BigUint64Array, start: number, k: number, n: number): void;
  unpack64(p: BigUint64Array, b: BigUint64Array, k: number, n: number): void;
  packedWords(k: number, n: number): number;
  /** "avx512", "avx2" or "none". */
  isa(): string;
  /** Selects an instruction set this CPU supports; false if it does not. */
  useIsa(name: 'avx512' | 'avx2'): boolean;
}

export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../build/ring-kernels.node', import.meta.url));

export type NativeLoad =
  | { readonly ok: true; readonly addon: NativeAddon; readonly kernels: RingKernels; readonly pins: MatrixPins }
  | { readonly ok: false; readonly reason: string };

let loaded: NativeLoad | undefined;

/** Loads the addon once; never throws. */
export function loadNativeKernels(): NativeLoad {
  loaded ??= tryLoad();
  return loaded;
}

function tryLoad(): NativeLoad {
  if (!existsSync(NATIVE_ADDON_PATH)) return { ok: false, reason: `${NATIVE_ADDON_PATH} is not built (npm run build:native)` };
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
  } catch (err) {
    return { ok: false, reason: `cannot load ${NATIVE_ADDON_PATH}: ${(err as Error).message}` };
  }
  if (addon.isa() === 'none') return { ok: false, reason: 'this CPU has neither AVX-512 nor AVX2' };
  return { ok: true, addon, kernels: nativeKernelsOf(addon), pins: nativePinsOf(addon) };
}

function nativeKernelsOf(addon: NativeAddon): RingKernels {
  return Object.freeze({
    ...wasmKernels,
    get name() {
      return `native-${addon.isa()}`;
    },
    matmul(limbs: Limbs, a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): BigUint64Array {
      if (limbs !== 1) return wasmKernels.matmul(limbs, a, b, m, k, n);
      checkDims(m, k, n);
      const c = new BigUint64Array(m * n);
      addon.matmul64(a, b, c, m, k, n);
      return c;
    },
  });
}

function checkDims(...dims: number[]): void {
  for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`matmul: dimensions must be integers >= 0, got ${d}`);
}

/** A Z_2^64 pin: B's packed panels, or undefined once unpinned. */
class NativePin implements PinnedMatrix {
  readonly limbs = 1;
  constructor(
    readonly k: number,
    readonly n: number,
    public packed: BigUint64Array | undefined,
  ) {}
}

function nativePinsOf(addon: NativeAddon): MatrixPins {
  const live = (b: NativePin, what: string): BigUint64Array => {
    if (!b.packed) throw new Error(`${what}: matrix is not pinned (unpinned already?)`);
    return b.packed;
  };
  const reserve = (limbs: Limbs, k: number, n: number): PinnedMatrix => {
    if (limbs !== 1) return wasmPins.reserve(limbs, k, n);
    checkDims(k, n);
    // new BigUint64Array throws a RangeError when the memory cannot be had, as the contract says.
    return new NativePin(k, n, new BigUint64Array(addon.packedWords(k, n)));
  };
  const writeRows = (b: PinnedMatrix, start: number, rows: BigUint64Array): void => {
    if (!(b instanceof NativePin)) return wasmPins.writeRows(b, start, rows);
    addon.packRows64(rows, live(b, 'writeRows'), start, b.k, b.n);
  };
  return Object.freeze({
    get name() {
      return `native-${addon.isa()}`;
    },
    reserve,
    writeRows,
    pin(limbs: Limbs, b: BigUint64Array, k: number, n: number): PinnedMatrix {
      if (limbs !== 1) return wasmPins.pin(limbs, b, k, n);
      if (!(b instanceof BigUint64Array) || b.length !== k * n) throw new RangeError(`pin: expected ${k}·${n} words`);
      const pin = reserve(1, k, n);
      writeRows(pin, 0, b);
      return pin;
    },
    matmul(limbs: Limbs, a: BigUint64Array, b: PinnedMatrix, m: number): BigUint64Array {
      if (!(b instanceof NativePin)) return wasmPins.matmul(limbs, a, b, m);
      const packed = live(b, 'matmulPinned');
      if (limbs !== 1) throw new RangeError(`pinned matrix is [${b.k},${b.n}] limbs=1, expected limbs=${limbs}`);
      checkDims(m);
      const c = new BigUint64Array(m * b.n);
      addon.matmulPacked64(a, packed, c, m, b.k, b.n);
      return c;
    },
    read(b: PinnedMatrix): BigUint64Array {
      if (!(b instanceof NativePin)) return wasmPins.read(b);
      const out = new BigUint64Array(b.k * b.n);
      addon.unpack64(live(b, 'readPinned'), out, b.k, b.n);
      return out;
    },
    unpin(b: PinnedMatrix): void {
      if (!(b instanceof NativePin)) return wasmPins.unpin(b);
      live(b, 'unpin');
      b.packed = undefined;
    },
  });
}
