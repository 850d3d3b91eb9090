/**
 * Measures the failure rate of both truncation methods over many random values:
 * a failure is a result outside ⌊x/2^f⌋ + {0, 1}.
 *   node --import tsx bench/truncation-failure.ts [--trials 1000000] [--bits 40] [--json]
 * Values are uniform in (−2^bits, 2^bits) as ring integers (at f = 16 and bits = 40: reals up to
 * 2^24 in magnitude).
 */
import { parseArgs } from 'node:util';
import { Prg, randomSeed } from '../src/crypto/prg.ts';
import { Z64 } from '../src/ring/ring.ts';
import * as T from '../src/ring/tensor.ts';
import { reveal } from '../src/protocols/reveal.ts';
import { truncate } from '../src/protocols/truncate.ts';
import type { TruncationMethod } from '../src/protocols/context.ts';
import { makeDealer, runParties } from '../test/helpers/parties.ts';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '1000000' },
    bits: { type: 'string', default: '40' },
    json: { type: 'boolean', default: false },
  },
});
const trials = Number(args.trials);
const bits = Number(args.bits);
const F = 16;
const BATCH = 100_000;

async function failures(method: TruncationMethod): Promise<number> {
  const prg = new Prg(randomSeed());
  const span = 1n << BigInt(bits + 1);
  let failed = 0;
  for (let done = 0; done < trials; done += BATCH) {
    const count = Math.min(BATCH, trials - done);
    const words = prg.words(count);
    const values = Array.from(words, (w) => (w % span) - (1n << BigInt(bits)));
    const dealer = makeDealer(2, 'semi-honest');
    const xs = dealer.shareForTest(T.fromBigInts(Z64, [count], values));
    const { results } = await runParties(dealer, async (ctx) => (await reveal(ctx, [await truncate(ctx, xs[ctx.id], F)]))[0], {
      truncation: method,
    });
    values.forEach((v, i) => {
      const d = BigInt.asIntN(64, results[0].data[i]) - (v >> BigInt(F));
      if (d !== 0n && d !== 1n) failed++;
    });
  }
  return failed;
}

const out = [];
for (const method of ['local', 'dealer'] as const) {
  const start = performance.now();
  const failed = await failures(method);
  out.push({
    method,
    trials,
    inputBits: bits,
    scaleBits: F,
    failures: failed,
    rate: failed / trials,
    seconds: (performance.now() - start) / 1000,
  });
}
if (args.json) console.log(JSON.stringify(out, null, 2));
else
  for (const o of out)
    console.log(`${o.method.padEnd(7)} ${o.failures}/${o.trials} failures (|x| < 2^${o.inputBits}) in ${o.seconds.toFixed(1)} s`);
