/**
 * Development probe: one in-process session (memory channels, in-process dealer) on a model spec,
 * printing per-phase decode figures of party 0 as JSON. Not the benchmark of record (that is
 * `mpc-prompt bench`, real processes over mTLS); useful to find where a shape spends its time.
 *   node --import tsx bench/probe-memory.ts [--model SPEC] [--prompt N] [--tokens N] [--security MODE]
 */
import { parseArgs } from 'node:util';
import { loadModel } from '../src/formats/load-model.ts';
import { foldWeights } from '../src/model/fold-weights.ts';
import { promptFromOwners, secureGenerate } from '../src/model/generate.ts';
import { loadSecureModel } from '../src/model/secure-weights.ts';
import { createMemoryNetwork } from '../src/net/memory-channel.ts';
import { InsecureLocalDealer } from '../src/preprocessing/insecure-local-dealer.ts';
import { createPartyContext } from '../src/protocols/context.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'gpt2-random:2x768x12x3072x50257' },
    prompt: { type: 'string', default: '64' },
    tokens: { type: 'string', default: '3' },
    security: { type: 'string', default: 'semi-honest' },
    parties: { type: 'string', default: '2' },
  },
});
const mode = values.security === 'malicious' ? 'malicious' : 'semi-honest';
const n = Number(values.parties);
const model = loadModel(values.model as string);
const dealer = new InsecureLocalDealer(n, mode);
const channels = createMemoryNetwork(n);
const ctxs = await Promise.all(
  channels.map((channel, id) => createPartyContext({ id, n, mode, channel, material: dealer.forParty(id), scaleBits: 16, profile: true })),
);
const t0 = performance.now();
const folded = foldWeights(model.config, model.weights);
const secure = await Promise.all(ctxs.map((ctx) => loadSecureModel(ctx, model.config, 0, ctx.id === 0 ? folded : undefined)));
const setupMs = performance.now() - t0;
const prompt = Array.from({ length: Number(values.prompt) }, (_, i) => (i * 7919) % model.config.vocabSize);
const marks: { t: number; bytes: number; rounds: number }[] = [];
let prefillPhases: unknown;
await Promise.all(
  ctxs.map(async (ctx, i) => {
    const p = promptFromOwners(ctx, [{ owner: 0, length: prompt.length, ids: i === 0 ? prompt : undefined }], model.config.vocabSize);
    return secureGenerate(ctx, secure[i], p, {
      maxNewTokens: Number(values.tokens),
      sampler: { kind: 'greedy' },
      maxContext: 1024,
      onToken: (_id, index) => {
        if (i !== 0) return;
        marks.push({ t: performance.now(), bytes: ctx.channel.stats.bytesSent, rounds: ctx.channel.stats.rounds });
        if (index === 0) {
          prefillPhases = ctx.profiler?.snapshot();
          ctx.profiler?.reset();
        }
      },
    });
  }),
);
const steps = marks.length - 1;
const last = marks[marks.length - 1];
const first = marks[0];
const phases = Object.entries(ctxs[0].profiler?.snapshot() ?? {}).map(([name, v]) => ({
  name,
  ms: +(v.ms / steps).toFixed(1),
  kb: +(v.bytes / steps / 1024).toFixed(1),
  rounds: +(v.rounds / steps).toFixed(1),
}));
console.log(
  JSON.stringify(
    {
      model: values.model,
      mode,
      setup_ms: Math.round(setupMs),
      prefill_ms: Math.round(first.t - t0 - setupMs),
      decode_ms_per_token: +((last.t - first.t) / steps).toFixed(1),
      bytes_per_token: Math.round((last.bytes - first.bytes) / steps),
      rounds_per_token: (last.rounds - first.rounds) / steps,
      rss_gb: +(process.memoryUsage().rss / 1e9).toFixed(2),
      phases,
      prefillPhases,
    },
    null,
    1,
  ),
);
