/**
 * The kernels the engine uses. Everything above this layer imports `kernels` (and `pins`, for
 * matrices kept packed) from here.
 *
 * Chosen once per process by the environment variable MPC_PROMPT_KERNELS:
 *   auto (default)  the native addon when it is built and this CPU has AVX-512, else wasm (the
 *                   addon's AVX2 path is slower than the wasm kernels for decode products:
 *                   bench/kernels.ts, [1,768]x[768,3072] 0.89 against 0.72 ms on this machine);
 *   native          the native addon (AVX-512 or AVX2), or an error at startup saying why not;
 *   wasm            the WebAssembly SIMD kernels.
 * Both give bit-identical results (ring arithmetic is exact), so parties may differ.
 */
import type { MatrixPins, RingKernels } from './kernel-api.ts';
import { loadNativeKernels } from './native-kernels.ts';
import { wasmKernels, wasmPins } from './wasm-kernels.ts';

export const KERNEL_CHOICES = ['auto', 'native', 'wasm'] as const;
export type KernelChoice = (typeof KERNEL_CHOICES)[number];

/** The implementation for a choice (validated here: this is where the environment comes in). */
export function selectKernels(choice: string): { kernels: RingKernels; pins: MatrixPins } {
  if (!(KERNEL_CHOICES as readonly string[]).includes(choice))
    throw new RangeError(`MPC_PROMPT_KERNELS: expected one of ${KERNEL_CHOICES.join(', ')}, got ${JSON.stringify(choice)}`);
  if (choice === 'wasm') return { kernels: wasmKernels, pins: wasmPins };
  const native = loadNativeKernels();
  if (choice === 'native') {
    if (!native.ok) throw new Error(`MPC_PROMPT_KERNELS=native: ${native.reason}`);
    return { kernels: native.kernels, pins: native.pins };
  }
  if (native.ok && native.addon.isa() === 'avx512') return { kernels: native.kernels, pins: native.pins };
  return { kernels: wasmKernels, pins: wasmPins };
}

const selected = selectKernels(process.env.MPC_PROMPT_KERNELS ?? 'auto');

export const kernels: RingKernels = selected.kernels;
export const pins: MatrixPins = selected.pins;
