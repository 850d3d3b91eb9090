/**
 * The kernels the engine uses. Everything above this layer imports `kernels` from here, so
 * switching implementation is a one-line change.
 */
import type { RingKernels } from './kernel-api.ts';
import { wasmKernels } from './wasm-kernels.ts';

export const kernels: RingKernels = wasmKernels;
