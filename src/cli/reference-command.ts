/**
 * `mpc-prompt reference --model PATH (--prompt TEXT | --prompt-ids 1,2,3) --max-new-tokens N [--greedy] --json`
 * Plaintext float64 generation → {"ids":[...], "text":"..."}.
 */
import { parseArgs } from 'node:util';
import { ValidationError } from '../base/errors.ts';
import { aint } from '../base/validate.ts';
import { loadModel } from '../formats/load-model.ts';
import { referenceGenerate } from '../reference/generate.ts';
import { decodeIds, promptIds } from './prompt.ts';

export async function referenceCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      prompt: { type: 'string' },
      'prompt-ids': { type: 'string' },
      'max-new-tokens': { type: 'string', default: '16' },
      greedy: { type: 'boolean', default: true },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.model) throw new ValidationError('is required', '--model');
  const model = loadModel(values.model, { tokenizer: values.tokenizer });
  const ids = promptIds(model, values.prompt, values['prompt-ids']);
  const maxNew = aint(Number(values['max-new-tokens']), '--max-new-tokens', 1, 1 << 20);
  const generated = referenceGenerate(model, ids, maxNew, {
    greedy: true,
    stopIds: model.config.eosId === undefined ? undefined : [model.config.eosId],
  });
  const text = decodeIds(model, generated);
  out(values.json ? JSON.stringify({ ids: generated, text }) : text || generated.join(' '));
}
