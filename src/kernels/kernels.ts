/**
 * The kernels the engine uses. Everything above this layer imports `kernels` from here, so
 * switching implementation is a one-line change.
 */
import type { RingKernels } from './kernel-api.ts';
import { jsKernels } from './js-kernels.ts';

// TEMPORARY until the WebAssembly kernels land: the BigInt specification.
export const kernels: RingKernels = jsKernels;
