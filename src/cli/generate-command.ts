/**
 * `mpc-prompt generate --model PATH (--prompt TEXT | --prompt-ids ...) --max-new-tokens N
 *    [--greedy | --topk K --temperature T --seed S] [--parties N] [--security semi-honest|malicious]
 *    [--transport memory|grpc] [--scale-bits F] [--max-context N] [--config FILE] --json`
 * → {"ids":[...], "text":"...", "stats":{"ms_per_token", "bytes_per_token_per_party", "rounds_per_token", ...}}
 */
import { parseArgs } from 'node:util';
import { ValidationError } from '../base/errors.ts';
import { aint, anumber, aoneOf } from '../base/validate.ts';
import { DEFAULT_CONFIG, loadConfigFile, type Config } from '../config/config.ts';
import type { Sampler } from '../model/sampling.ts';
import { runMemorySession } from '../services/memory-session.ts';
import { generateOverGrpc } from './grpc-generate.ts';
import { decodeIds, MODEL_PROMPT_OPTIONS, modelAndPrompt } from './prompt.ts';

export async function generateCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...MODEL_PROMPT_OPTIONS,
      greedy: { type: 'boolean' },
      topk: { type: 'string' },
      temperature: { type: 'string' },
      seed: { type: 'string' },
      parties: { type: 'string', default: '2' },
      security: { type: 'string' },
      transport: { type: 'string', default: 'grpc' },
      'scale-bits': { type: 'string' },
      'max-context': { type: 'string' },
      config: { type: 'string' },
    },
    strict: true,
  });
  const cfg: Config = values.config ? loadConfigFile(values.config) : DEFAULT_CONFIG;
  const transport = aoneOf(values.transport, '--transport', ['memory', 'grpc'] as const);
  const topk = values.topk !== undefined ? aint(Number(values.topk), '--topk', 1, 1 << 20) : cfg.topk;
  if (values.greedy && values.topk !== undefined) throw new ValidationError('give either --greedy or --topk, not both', '--greedy');
  const sampler: Sampler =
    values.greedy || topk === 0
      ? { kind: 'greedy' }
      : {
          kind: 'topk',
          k: topk,
          temperature: anumber(Number(values.temperature ?? cfg.temperature), '--temperature', 1e-3, 1e3),
          seed: values.seed,
        };
  const { model, ids } = modelAndPrompt(values);
  const common = {
    parties: aint(Number(values.parties), '--parties', 2, 16),
    mode: aoneOf(values.security ?? cfg.security.mode, '--security', ['semi-honest', 'malicious'] as const),
    scaleBits: aint(Number(values['scale-bits'] ?? cfg.fixed_point.scale_bits), '--scale-bits', 8, 24),
    chebyDeg: cfg.cheby.deg,
    maxContext: aint(Number(values['max-context'] ?? cfg.scheduler.max_context), '--max-context', 1, 1 << 20),
    prefillChunk: cfg.scheduler.prefill_chunk,
    prefillMaxScores: cfg.scheduler.prefill_max_scores,
    maxNewTokens: aint(Number(values['max-new-tokens']), '--max-new-tokens', 1, 1 << 20),
  };
  const result =
    transport === 'memory'
      ? await runMemorySession(model, ids, {
          ...common,
          sampler,
          stopIds: model.config.eosId === undefined ? undefined : [model.config.eosId],
        })
      : await generateOverGrpc({
          ...common,
          modelPath: values.model as string,
          model,
          promptIds: ids,
          sampling:
            sampler.kind === 'greedy'
              ? { topK: 0, temperature: 1, seed: '' }
              : { topK: sampler.k, temperature: sampler.temperature, seed: sampler.seed ?? '' },
        });
  const text = decodeIds(model, result.ids);
  out(values.json ? JSON.stringify({ ids: result.ids, text, stats: result.stats }) : text || result.ids.join(' '));
}
