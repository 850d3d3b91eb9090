/** Turns `--prompt TEXT` / `--prompt-ids 1,2,3` into token ids for a loaded model. */
import { ValidationError } from '../base/errors.ts';
import type { LoadedModel } from '../formats/model-spec.ts';

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
