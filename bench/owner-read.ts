/**
 * How long the owner node's per-session model read blocks its event loop
 * (services/party/weights-loader.ts), on the main thread against in a worker thread.
 *
 *   node --import tsx bench/owner-read.ts [--json] [--model SPEC_OR_PATH] [--runs N]
 *
 * Each run reads the model (and its SHA-256) once on the main thread (`readWithDigest`) and once
 * in a worker (`readWithDigestOffThread`), while a 5 ms interval timer records the longest gap
 * between its ticks: the longest time the node could not serve another session's messages.
 * Prints per run and mode: read ms, max event-loop gap ms, timer ticks. Default model
 * `gpt2-small-random`, 2 runs.
 */
import { parseArgs } from 'node:util';
import { readWithDigest, readWithDigestOffThread } from '../src/services/party/weights-loader.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    model: { type: 'string', default: 'gpt2-small-random' },
    runs: { type: 'string', default: '2' },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new RangeError(`--runs must be an integer in [1, 100], got ${values.runs}`);
const model = values.model as string;

async function measure(read: () => Promise<unknown>): Promise<{ read_ms: number; max_event_loop_gap_ms: number; ticks: number }> {
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks += 1;
  }, 5);
  const t0 = performance.now();
  await read();
  const ms = performance.now() - t0;
  clearInterval(timer);
  maxGap = Math.max(maxGap, performance.now() - last);
  return { read_ms: Math.round(ms), max_event_loop_gap_ms: Math.round(maxGap), ticks };
}

const results: { run: number; mode: 'main-thread' | 'worker'; read_ms: number; max_event_loop_gap_ms: number; ticks: number }[] = [];
for (let run = 0; run < runs; run++) {
  results.push({ run, mode: 'main-thread', ...(await measure(async () => readWithDigest(model))) });
  results.push({ run, mode: 'worker', ...(await measure(() => readWithDigestOffThread(model))) });
}
if (values.json) console.log(JSON.stringify({ benchmark: 'owner-read', model, timer_ms: 5, results }, null, 2));
else
  for (const r of results)
    console.log(
      `${r.mode.padEnd(11)} run ${r.run}: read ${r.read_ms} ms, longest event-loop gap ${r.max_event_loop_gap_ms} ms, ${r.ticks} ticks`,
    );
