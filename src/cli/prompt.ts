/** Turns `--prompt TEXT` / `--prompt-ids 1,2,3` into token ids for a loaded model. */
import { ValidationError } from '../base/errors.ts';
import { loadModel } from '../formats/load-model.ts';
import type { LoadedModel } from '../formats/model-spec.ts';

/** The model and prompt flags shared by `reference` and `generate` (node:util parseArgs options). */
export const MODEL_PROMPT_OPTIONS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  prompt: { type: 'string' },
  'prompt-ids': { type: 'string' },
  'max-new-tokens': { type: 'string', default: '16' },
  json: { type: 'boolean', default: false },
} as const;

/** Loads `--model` (required) with its tokenizer and encodes the prompt flags. */
export function modelAndPrompt(values: { model?: string; tokenizer?: string; prompt?: string; 'prompt-ids'?: string }): {
  model: LoadedModel;
  ids: number[];
} {
  if (!values.model) throw new ValidationError('is required', '--model');
  const model = loadModel(values.model, { tokenizer: values.tokenizer });
  return { model, ids: promptIds(model, values.prompt, values['prompt-ids']) };
}

export function promptIds(model: LoadedModel, text: string | undefined, ids: string | undefined): number[] {
  if ((text === undefined) === (ids === undefined))
    throw new ValidationError('give exactly one of --prompt TEXT or --prompt-ids 1,2,3', '--prompt');
  const vocab = model.config.vocabSize;
  if (ids !== undefined) {
    const parts = ids.split(',').map((s) => s.trim());
    return parts.map((p, i) => {
      const v = Number(p);
      if (p === '' || !Number.isInteger(v) || v < 0 || v >= vocab) {
        throw new ValidationError(`item ${i} is ${JSON.stringify(p)}; expected an integer token id in [0, ${vocab})`, '--prompt-ids');
      }
      return v;
    });
  }
  if (!model.tokenizer) throw new ValidationError(`${model.source} has no tokenizer; pass --prompt-ids instead`, '--prompt');
  const encoded = model.tokenizer.encode(text as string);
  const bos = model.config.arch === 'llama' ? model.config.bosId : undefined;
  const all = bos === undefined ? encoded : [bos, ...encoded];
  if (all.length === 0) throw new ValidationError('the prompt encodes to no tokens', '--prompt');
  return all;
}

/** Decoded text of generated ids ('' without a tokenizer). */
export function decodeIds(model: LoadedModel, ids: readonly number[]): string {
  return model.tokenizer ? model.tokenizer.decode(ids) : '';
}
