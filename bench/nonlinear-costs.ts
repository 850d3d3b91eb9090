/**
 * Bytes, rounds and time per element of the nonlinear layers, in one process: two parties over
 * in-memory channels with the pooled in-process dealer (semi-honest, Z_2^64, f = 16, the default
 * 'dealer' truncation), so the time is all parties' and the dealer's CPU in one thread — a
 * relative figure for comparing protocol variants, not a deployment time (`mpc-prompt bench`).
 *
 *   node --import tsx bench/nonlinear-costs.ts [--rows 12] [--len 1019] [--gelu 3072] [--reps 12]
 *
 * Per repetition: softmax's steps on [rows, len] scores (coarse row max, exp with 3 guard bits,
 * reciprocal of the row sums, the product with the probabilities) and GeLU on `gelu` elements.
 * Inputs come from a fixed-seed PRNG (test data, not secrets). Prints JSON: per step the mean ms
 * per call, bytes party 0 sends per element and rounds per call. The pooled dealer fetches whole
 * batches ahead, so use ≥ 12 repetitions for steady-state times.
 */
import { parseArgs } from 'node:util';
import { broadcastRows, rowSums } from '../src/approx/common.ts';
import { expForRows } from '../src/approx/exp.ts';
import { gelu } from '../src/approx/gelu.ts';
import { reciprocal } from '../src/approx/reciprocal.ts';
import { maxLowBits, softmaxSumLog2 } from '../src/approx/softmax.ts';
import { createMemoryNetwork } from '../src/net/memory-channel.ts';
import { InsecureLocalDealer } from '../src/preprocessing/insecure-local-dealer.ts';
import { PooledTripleSource } from '../src/preprocessing/pooled-source.ts';
import { mulTruncatedRows } from '../src/protocols/truncate-row-product.ts';
import { createPartyContext, type PartyContext } from '../src/protocols/context.ts';
import { max } from '../src/protocols/select.ts';
import { truncate } from '../src/protocols/truncate.ts';
import * as T from '../src/ring/tensor.ts';
import { shareTensor } from '../src/sharing/additive.ts';
import * as L from '../src/sharing/linear.ts';
import type { SecretTensor } from '../src/sharing/secret-tensor.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '12' },
    len: { type: 'string', default: '1019' },
    gelu: { type: 'string', default: '3072' },
    reps: { type: 'string', default: '12' },
  },
});
const count = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
};
const rows = count('rows', values.rows as string);
const len = count('len', values.len as string);
const geluSize = count('gelu', values.gelu as string);
const reps = count('reps', values.reps as string);

const dealer = new InsecureLocalDealer(2, 'semi-honest', {});
const ctxs = await Promise.all(
  createMemoryNetwork(2).map((channel, id) =>
    createPartyContext({ id, n: 2, mode: 'semi-honest', channel, material: new PooledTripleSource(dealer.forParty(id)), scaleBits: 16 }),
  ),
);

/** Test data: a fixed-seed xorshift32 stream of reals in [lo, hi). */
function uniform(seed: number, size: number, lo: number, hi: number): number[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length: size }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return lo + ((x >>> 0) / 2 ** 32) * (hi - lo);
  });
}
const share = (shape: number[], reals: number[]): SecretTensor[] =>
  shareTensor(
    T.fromBigInts(
      ctxs[0].ring,
      shape,
      reals.map((v) => BigInt(Math.round(v * 65536))),
    ),
    2,
  );

const totals = new Map<string, { ms: number; bytes: number; rounds: number; elements: number }>();
async function step<R>(name: string, elements: number, body: (ctx: PartyContext) => Promise<R>): Promise<R[]> {
  const [b0, r0, t0] = [ctxs[0].channel.stats.bytesSent, ctxs[0].channel.stats.rounds, performance.now()];
  const out = await Promise.all(ctxs.map(body));
  const acc = totals.get(name) ?? { ms: 0, bytes: 0, rounds: 0, elements };
  acc.ms += performance.now() - t0;
  acc.bytes += ctxs[0].channel.stats.bytesSent - b0;
  acc.rounds += ctxs[0].channel.stats.rounds - r0;
  totals.set(name, acc);
  return out;
}

for (let k = 0; k < reps; k++) {
  const scores = share([rows, len], uniform(2 * k + 1, rows * len, -4, 4));
  // As softmax.ts: the coarse tournament.
  const m = await step('max', rows * len, (ctx) => max(ctx, scores[ctx.id], ctx.compareBits, maxLowBits(ctx, len)));
  const shifted = (ctx: PartyContext): SecretTensor => L.subSS(scores[ctx.id], broadcastRows(ctx, m[ctx.id], rows, len));
  const e = await step('exp', rows * len, (ctx) => expForRows(ctx, shifted(ctx), {}, 3, rows, len));
  const r = await step('reciprocal', rows, (ctx) =>
    // As softmax.ts sets it: sums of 2^3-scaled probabilities in [2^3, 2^(⌈log2 len⌉ + 4)].
    reciprocal(ctx, rowSums(ctx, e[ctx.id].value, rows, len), { minLog2: 3, maxLog2: softmaxSumLog2(len) + 3, factor: 64 }),
  );
  await step('probabilities', rows * len, async (ctx) =>
    // As softmax.ts: only r is opened, masked once per row (protocols/truncate-row-product.ts).
    truncate(ctx, await mulTruncatedRows(ctx, e[ctx.id], r[ctx.id]), 22),
  );
  const xs = share([geluSize], uniform(2 * k + 2, geluSize, -8, 8));
  await step('gelu', geluSize, (ctx) => gelu(ctx, xs[ctx.id]));
}

const steps = Object.fromEntries(
  [...totals].map(([name, t]) => [
    name,
    {
      ms_per_call: +(t.ms / reps).toFixed(1),
      bytes_per_element: +(t.bytes / reps / t.elements).toFixed(1),
      rounds_per_call: t.rounds / reps,
    },
  ]),
);
console.log(JSON.stringify({ benchmark: 'bench/nonlinear-costs.ts', rows, len, gelu: geluSize, reps, steps }, null, 2));
process.exit(0);
