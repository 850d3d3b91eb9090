/**
 * Plaintext float64 reference models: `createReferenceModel` picks the architecture.
 * (Generation lives in `generate.ts`, which imports this file.)
 */
import type { LoadedModel } from '../formats/model-spec.ts';
import { createGpt2Reference } from './gpt2.ts';
import { createLlamaReference } from './llama.ts';
import type { ReferenceModel, ReferenceOptions } from './reference-model.ts';

export type { ReferenceModel, ReferenceOptions } from './reference-model.ts';
export { createLlamaReference } from './llama.ts';
export { createGpt2Reference } from './gpt2.ts';

/** A reference model (with an empty KV cache) for a loaded checkpoint of either architecture. */
export function createReferenceModel(model: LoadedModel, options: ReferenceOptions = {}): ReferenceModel {
  const { config, weights } = model;
  return weights.arch === 'llama' ? createLlamaReference(config, weights, options) : createGpt2Reference(config, weights, options);
}
