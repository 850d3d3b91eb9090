/**
 * `mpc-prompt reference --model PATH (--prompt TEXT | --prompt-ids 1,2,3) --max-new-tokens N [--greedy] --json`
 * Plaintext float64 generation → {"ids":[...], "text":"..."}.
 */
import { parseArgs } from 'node:util';
import { aint } from '../base/validate.ts';
import { referenceGenerate } from '../reference/generate.ts';
import { decodeIds, MODEL_PROMPT_OPTIONS, modelAndPrompt } from './prompt.ts';

export async function referenceCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...MODEL_PROMPT_OPTIONS, greedy: { type: 'boolean', default: true } },
    strict: true,
  });
  const { model, ids } = modelAndPrompt(values);
  const maxNew = aint(Number(values['max-new-tokens']), '--max-new-tokens', 1, 1 << 20);
  const generated = referenceGenerate(model, ids, maxNew, {
    greedy: true,
    stopIds: model.config.eosId === undefined ? undefined : [model.config.eosId],
  });
  const text = decodeIds(model, generated);
  out(values.json ? JSON.stringify({ ids: generated, text }) : text || generated.join(' '));
}
