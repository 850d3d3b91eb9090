/**
 * Opens a checkpoint by path: a directory is a Hugging Face checkpoint (config.json +
 * model.safetensors + tokenizer files); a `.bin` file is a llama2.c checkpoint, with its
 * `tokenizer.bin` taken from `tokenizer` or, if present, from the same folder; a spec such as
 * `gpt2-small-random` is a seeded random model (random-gpt2.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import { loadHfCheckpoint, loadHfPublic } from './hf-checkpoint.ts';
import { loadLlama2c } from './llama2c.ts';
import type { LoadedModel, ModelConfig, Tokenizer } from './model-spec.ts';
import { isRandomModelSpec, randomGpt2, randomGpt2Config } from './random-gpt2.ts';

export function loadModel(path: string, options: { tokenizer?: string } = {}): LoadedModel {
  if (isRandomModelSpec(path)) return randomGpt2(path);
  if (!existsSync(path)) throw new ValidationError(`no such file or directory: ${path}`, '--model');
  if (statSync(path).isDirectory()) return loadHfCheckpoint(path);
  if (path.endsWith('.bin')) {
    const sibling = join(dirname(path), 'tokenizer.bin');
    const tokenizer = options.tokenizer ?? (existsSync(sibling) ? sibling : undefined);
    return loadLlama2c(path, tokenizer);
  }
  throw new ValidationError(
    `cannot tell the format of ${path}: expected a Hugging Face checkpoint directory or a llama2.c .bin file`,
    '--model',
  );
}

/**
 * The public part of a model — config and tokenizer — for services that must not hold the
 * weights (coordinator, clients, party nodes fed by the enclave). A checkpoint directory's
 * weights are never read; a llama2.c file carries its config in the weights file, which is read
 * and dropped.
 */
export function loadModelPublic(
  path: string,
  options: { tokenizer?: string } = {},
): { config: ModelConfig; tokenizer: Tokenizer | undefined } {
  if (isRandomModelSpec(path)) return { config: randomGpt2Config(path).config, tokenizer: undefined };
  if (existsSync(path) && statSync(path).isDirectory()) return loadHfPublic(path);
  const { config, tokenizer } = loadModel(path, options);
  return { config, tokenizer };
}
