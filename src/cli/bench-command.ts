/**
 * mpc-prompt bench [--json] [--model gpt2-small-random|SPEC|PATH] [--parties 2[,3]]
 *                  [--security semi-honest[,malicious]] [--contexts 64[,256,1024]] [--sessions 1[,4,8]]
 *                  [--decode-tokens 6] [--prefill-chunk 64] [--prefill-max-scores 16384] [--out FILE.json] [--chart FILE.svg] [--logs DIR]
 *
 * Secure decoding through the real services (separate processes, mTLS on loopback; see
 * bench/deployment-run.ts), for every combination of the listed parties, security modes,
 * contexts (= prompt tokens prefilled before decoding, at most --prefill-chunk rows per pass and
 * fewer once a pass would score more than --prefill-max-scores pairs per head) and
 * concurrent sessions. Per run it
 * reports the decode time per token (median of the nodes' per-step times; at least 5 steps with
 * the default 6 tokens), bytes and rounds per token per party, prefill and weight-setup time,
 * tokens/s over all sessions, peak RSS of every process, the per-phase breakdown, and the
 * plaintext float64 reference's time per token in the same process and the ratio. Machine info
 * and the CrypTen baseline of the brief are included for comparison. --chart writes the first
 * run's time breakdown as SVG. --logs keeps every run's service logs under DIR/<run>/ (by default
 * they are deleted after a successful run), e.g. for MPC_PROMPT_NODE_FLAGS="--trace-gc".
 */
import { writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ValidationError } from '../base/errors.ts';
import { aint } from '../base/validate.ts';
import { DEFAULT_CONFIG } from '../config/config.ts';
import { loadModel } from '../formats/load-model.ts';
import { kernels } from '../kernels/kernels.ts';
import { GPT2_SMALL_SPEC } from '../formats/random-gpt2.ts';
import { foldedShapes } from '../model/fold-weights.ts';
import { benchPrompt, runDeployment } from './bench/deployment-run.ts';
import { median, runPlaintext } from './bench/plaintext-run.ts';
import { timeBreakdownSvg } from './bench/time-chart.ts';

/** CrypTen on this machine (brief, DESIGN.md §8): GPT-2-small decode step at context 64, 2 parties + TTP. */
export const CRYPTEN_BASELINE = { ms_per_token: 23_100, bytes_per_token_per_party: 1.05e9, rounds_per_token: 2407 } as const;

const list = (v: string, field: string, allowed?: readonly string[]): string[] => {
  const items = v.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '' || (allowed && !allowed.includes(s))))
    throw new ValidationError(
      `expected a comma-separated list${allowed ? ` of ${allowed.join(', ')}` : ''}, got ${JSON.stringify(v)}`,
      field,
    );
  return items;
};
const ints = (v: string, field: string, min: number, max: number): number[] => list(v, field).map((s) => aint(Number(s), field, min, max));

export async function benchCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      model: { type: 'string', default: GPT2_SMALL_SPEC },
      parties: { type: 'string', default: '2' },
      security: { type: 'string', default: 'semi-honest' },
      contexts: { type: 'string', default: '64' },
      sessions: { type: 'string', default: '1' },
      'decode-tokens': { type: 'string', default: '6' },
      'prefill-chunk': { type: 'string', default: String(DEFAULT_CONFIG.scheduler.prefill_chunk) },
      'prefill-max-scores': { type: 'string', default: String(DEFAULT_CONFIG.scheduler.prefill_max_scores) },
      out: { type: 'string' },
      chart: { type: 'string' },
      logs: { type: 'string' },
    },
  });
  if (positionals.length) throw new ValidationError(`unexpected argument ${JSON.stringify(positionals[0])}`, 'bench');
  const parties = ints(values.parties as string, '--parties', 2, 8);
  const modes = list(values.security as string, '--security', ['semi-honest', 'malicious']) as ('semi-honest' | 'malicious')[];
  const contexts = ints(values.contexts as string, '--contexts', 1, 1 << 16);
  const sessions = ints(values.sessions as string, '--sessions', 1, 64);
  const decodeTokens = aint(Number(values['decode-tokens']), '--decode-tokens', 2, 1024);
  const prefillChunk = aint(Number(values['prefill-chunk']), '--prefill-chunk', 1, 1 << 20);
  const prefillMaxScores = aint(Number(values['prefill-max-scores']), '--prefill-max-scores', 1, 1 << 30);
  const progress = (line: string): void => {
    if (values.json) process.stderr.write(`bench: ${line}\n`);
    else out(`  ${line}`);
  };

  const model = loadModel(values.model as string);
  const c = model.config;
  const params = foldedShapes(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  for (const ctx of contexts)
    if (ctx + decodeTokens > c.maxSeqLen)
      throw new ValidationError(
        `context ${ctx} + ${decodeTokens} decode tokens exceeds the model's ${c.maxSeqLen} positions`,
        '--contexts',
      );

  const plaintext = new Map<number, ReturnType<typeof runPlaintext>>();
  const runs: Record<string, unknown>[] = [];
  for (const ctx of contexts) {
    progress(`plaintext reference, context ${ctx}`);
    const plain = runPlaintext(model, benchPrompt(ctx, c.vocabSize, 0), decodeTokens);
    plaintext.set(ctx, plain);
    for (const n of parties)
      for (const security of modes)
        for (const s of sessions) {
          progress(`secure: ${n} parties, ${security}, context ${ctx}, ${s} session(s)`);
          const r = await runDeployment({
            model: values.model as string,
            vocabSize: c.vocabSize,
            parties: n,
            security,
            promptTokens: ctx,
            decodeTokens,
            prefillChunk,
            prefillMaxScores,
            sessions: s,
            log: progress,
            ...(values.logs === undefined ? {} : { logDir: join(values.logs, `${n}p-${security}-ctx${ctx}-s${s}`) }),
          });
          const st = r.stats[0];
          const decodeMs = median(r.stats.flatMap((x) => x.decodeMs));
          const plainMs = median(plain.decodeMs);
          runs.push({
            parties: n,
            security,
            context: ctx,
            sessions: s,
            decode_ms_per_token: round(decodeMs),
            decode_ms_samples: st.decodeMs.map(round),
            bytes_per_token_per_party: Math.round(st.bytesPerTokenPerParty),
            rounds_per_token: round(st.roundsPerToken),
            prefill_ms: round(st.prefillMs - st.setupMs),
            prefill_chunk: prefillChunk,
            prefill_max_scores: prefillMaxScores,
            weights_setup_ms: round(st.setupMs),
            preprocessing_bytes_per_party: Math.round(st.preprocessingBytes),
            tokens_per_second: round(r.tokensPerSecond, 3),
            peak_rss_mb: r.peakRssMb,
            decode_rss_mb: r.decodeRssMb,
            cpu_ms_per_token: r.cpuMsPerToken,
            plaintext_ms_per_token: round(plainMs),
            ratio_to_plaintext: round(decodeMs / plainMs, 1),
            tokens_equal_reference: r.ids[0].every((id, i) => id === plain.ids[i]),
            ids: r.ids[0],
            reference_ids: plain.ids,
            reference_top2_margins: plain.margins.map((m) => round(m, 4)),
            phases: st.decodePhases.map((p) => ({ name: p.name, ms: round(p.ms), bytes: Math.round(p.bytes), rounds: round(p.rounds) })),
          });
          progress(
            `→ ${round(decodeMs)} ms/token, ${(st.bytesPerTokenPerParty / 1e6).toFixed(1)} MB/token, ${round(st.roundsPerToken)} rounds/token`,
          );
        }
  }
  const result = {
    benchmark: 'mpc-prompt bench',
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memory_gb: round(totalmem() / 2 ** 30, 1),
      os: `${platform()} ${release()}`,
      node: process.version,
      // The services are started with this process's environment, so they select the same (MPC_PROMPT_KERNELS).
      kernels: kernels.name,
    },
    model: { spec: values.model, parameters: params, layers: c.nLayers, dim: c.dim, heads: c.nHeads, mlp: c.hiddenDim, vocab: c.vocabSize },
    decode_tokens: decodeTokens,
    crypten_baseline: CRYPTEN_BASELINE,
    runs,
  };
  const text = JSON.stringify(result, null, 2);
  if (values.out) writeFileSync(values.out, text + '\n');
  const first = runs[0] as {
    decode_ms_per_token: number;
    phases: { name: string; ms: number; bytes: number; rounds: number }[];
    parties: number;
    security: string;
    context: number;
  };
  if (values.chart && first)
    writeFileSync(
      values.chart,
      timeBreakdownSvg(
        `Where a decode step's time goes: ${values.model}, ${first.parties} parties, ${first.security}, context ${first.context} (${first.decode_ms_per_token} ms/token)`,
        first.phases,
        first.decode_ms_per_token,
      ),
    );
  if (values.json) out(text);
  else
    for (const r of runs as {
      parties: number;
      security: string;
      context: number;
      sessions: number;
      decode_ms_per_token: number;
      bytes_per_token_per_party: number;
      rounds_per_token: number;
      ratio_to_plaintext: number;
    }[])
      out(
        `${r.parties} parties, ${r.security}, context ${r.context}, ${r.sessions} session(s): ${r.decode_ms_per_token} ms/token, ` +
          `${(r.bytes_per_token_per_party / 1e6).toFixed(2)} MB/token/party, ${r.rounds_per_token} rounds/token, ${r.ratio_to_plaintext}× plaintext`,
      );
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
