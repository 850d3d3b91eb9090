/**
 * Trains the project's embedded default model — a 2-layer GPT-2 that adds two numbers — and
 * writes it as a Hugging Face GPT-2 checkpoint with its model card:
 *
 *   node --import tsx training/train-default-model.ts [--out models/default] [--seed 1] [--steps N]
 *        [--batch 64] [--lr 0.003] [--threads 2|1] [--no-eval]
 *
 * Task (training/data.ts): "a+b=c\n" with a, b ∈ [0, 99]; loss on the answer tokens only.
 * Schedule: AdamW, linear warm-up then cosine decay; batches are uniform over [0, 99]² at first,
 * then half of every batch is drawn from the currently hardest problems (hard-example mining,
 * see {@link hardPairs}) so the rare carries get trained until their logit margins are large.
 * Everything random comes from the seeded, non-cryptographic `trainingPrng`, and the gradient
 * sum does not depend on --threads, so the same options give byte-identical config.json,
 * model.safetensors, vocab.json and merges.txt (the README also records the measured time).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AdamW, learningRate } from './adamw.ts';
import { example, MAX_OPERAND, sampleBatch, trainSequence, VOCAB_SIZE, type Example } from './data.ts';
import { evaluateCheckpoint, type Evaluation } from './evaluate.ts';
import { writeCheckpoint } from './export.ts';
import { decayMask, initParams, paramLayout, type TrainConfig } from './gpt2-train.ts';
import { modelCard } from './model-card.ts';
import { substreamSeed, trainingPrng, type TrainingPrng } from './prng.ts';
import { ShardedTrainer } from './shards.ts';

/** The architecture of the default model. */
export const DEFAULT_CONFIG: TrainConfig = { vocabSize: VOCAB_SIZE, maxT: 16, nLayer: 2, nHead: 4, nEmbd: 64, eps: 1e-5 };

export interface TrainOptions {
  readonly seed: number;
  readonly steps: number;
  readonly batch: number;
  /** Peak learning rate. */
  readonly lr: number;
  readonly warmup: number;
  /** Final learning rate as a fraction of the peak (cosine decay). */
  readonly lrFloor: number;
  readonly weightDecay: number;
  /** Hard-example mining starts at this fraction of the steps... */
  readonly hardFrom: number;
  /** ...re-scores all problems every this many steps... */
  readonly hardEvery: number;
  /** ...keeps the this many lowest-margin problems... */
  readonly hardPool: number;
  /** ...and draws this fraction of each batch from them. */
  readonly hardFraction: number;
  readonly threads: 1 | 2;
}

export const DEFAULT_OPTIONS: TrainOptions = {
  seed: 1,
  steps: 4000,
  batch: 64,
  lr: 3e-3,
  warmup: 100,
  lrFloor: 0.05,
  weightDecay: 0.1,
  hardFrom: 0.3,
  hardEvery: 250,
  hardPool: 1000,
  hardFraction: 0.5,
  threads: 2,
};

const ALL_PAIRS: readonly (readonly [number, number])[] = Array.from({ length: (MAX_OPERAND + 1) ** 2 }, (_, i) => [
  Math.floor(i / (MAX_OPERAND + 1)),
  i % (MAX_OPERAND + 1),
]);

/** One line of the training log kept for the model card. */
export interface ScoreRecord {
  readonly step: number;
  readonly seconds: number;
  readonly exact: number;
  readonly minMargin: number;
  readonly below1: number;
}

/**
 * Teacher-forced scores of every problem: for each, the smallest margin over its answer tokens
 * between the target's logit and the best other logit (> 0 ⇔ greedy decoding writes exactly
 * the right answer).
 */
export async function scoreAllPairs(trainer: ShardedTrainer): Promise<Float64Array> {
  const V = trainer.config.vocabSize;
  const scores = new Float64Array(ALL_PAIRS.length);
  const chunk = 1000;
  for (let start = 0; start < ALL_PAIRS.length; start += chunk) {
    const seqs = ALL_PAIRS.slice(start, start + chunk).map(([a, b]) => trainSequence(example(a, b)));
    const logits = await trainer.logits(seqs);
    let row = 0;
    seqs.forEach((s, i) => {
      let worst = Infinity;
      for (const t of s.lossPositions) {
        const target = s.tokens[t + 1];
        const o = row++ * V;
        let other = -Infinity;
        for (let v = 0; v < V; v++) if (v !== target && logits[o + v] > other) other = logits[o + v];
        worst = Math.min(worst, logits[o + target] - other);
      }
      scores[start + i] = worst;
    });
  }
  return scores;
}

/** Indices of the `count` lowest scores (ties: lower index first). */
export function hardPairs(scores: Float64Array, count: number): number[] {
  return Array.from(scores.keys())
    .sort((i, j) => scores[i] - scores[j] || i - j)
    .slice(0, count);
}

function mixedBatch(rng: TrainingPrng, size: number, hard: readonly number[], fraction: number): Example[] {
  const nHard = hard.length === 0 ? 0 : Math.round(size * fraction);
  const out = sampleBatch(rng, size - nHard);
  for (let i = 0; i < nHard; i++) {
    const [a, b] = ALL_PAIRS[hard[rng.int(hard.length)]];
    out.push(example(a, b));
  }
  return out;
}

export interface TrainResult {
  readonly config: TrainConfig;
  readonly params: Float32Array;
  readonly seconds: number;
  readonly scores: readonly ScoreRecord[];
}

/** Trains the default model; `log` receives progress lines. */
export async function trainDefaultModel(opts: TrainOptions, log: (line: string) => void = () => {}): Promise<TrainResult> {
  const config = DEFAULT_CONFIG;
  const trainer = new ShardedTrainer(config, initParams(config, substreamSeed(opts.seed, 0)), opts.threads);
  const dataRng = trainingPrng(substreamSeed(opts.seed, 1));
  const optimizer = new AdamW(trainer.params, decayMask(config), { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: opts.weightDecay });
  const scores: ScoreRecord[] = [];
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const hardStart = Math.floor(opts.steps * opts.hardFrom);
  let hard: number[] = [];
  const score = async (step: number) => {
    const s = await scoreAllPairs(trainer);
    let exact = 0;
    let min = Infinity;
    let below1 = 0;
    for (const v of s) {
      if (v > 0) exact++;
      if (v < 1) below1++;
      min = Math.min(min, v);
    }
    scores.push({ step, seconds: elapsed(), exact, minMargin: min, below1 });
    log(`  score @${step}: exact ${exact}/${s.length}, min target margin ${min.toFixed(3)}, margins < 1: ${below1}`);
    return s;
  };
  let lossSum = 0;
  let tokens = 0;
  let correct = 0;
  try {
    for (let step = 0; step < opts.steps; step++) {
      if (step >= hardStart && (step - hardStart) % opts.hardEvery === 0) hard = hardPairs(await score(step), opts.hardPool);
      const batch = (step >= hardStart ? mixedBatch(dataRng, opts.batch, hard, opts.hardFraction) : sampleBatch(dataRng, opts.batch)).map(
        trainSequence,
      );
      const count = batch.reduce((n, s) => n + s.lossPositions.length, 0);
      const r = await trainer.trainStep(batch, 1 / count);
      const lr = learningRate(step, opts.steps, opts.lr, opts.warmup, opts.lrFloor);
      optimizer.step(trainer.grads, lr);
      lossSum += r.loss;
      tokens += r.count;
      correct += r.correct;
      if ((step + 1) % 100 === 0 || step + 1 === opts.steps) {
        log(
          `step ${String(step + 1).padStart(5)}/${opts.steps}  loss ${(lossSum / tokens).toFixed(4)}  token acc ${((100 * correct) / tokens).toFixed(2)}%  ` +
            `lr ${lr.toExponential(2)}  ${elapsed().toFixed(0)}s`,
        );
        lossSum = tokens = correct = 0;
      }
    }
    await score(opts.steps);
  } finally {
    await trainer.close();
  }
  return { config, params: Float32Array.from(trainer.params), seconds: elapsed(), scores };
}

function parseCli(argv: string[]): { out: string; eval: boolean; opts: TrainOptions } {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: 'models/default' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      threads: { type: 'string' },
      'no-eval': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'usage: node --import tsx training/train-default-model.ts [--out DIR] [--seed 1] [--steps N] [--batch 64] [--lr 0.003] [--threads 2|1] [--no-eval]',
    );
    process.exit(0);
  }
  const int = (v: string | undefined, def: number, name: string, min: number) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const lr = values.lr === undefined ? DEFAULT_OPTIONS.lr : Number(values.lr);
  if (!(lr > 0)) throw new Error(`--lr: expected a positive number, got ${JSON.stringify(values.lr)}`);
  const threads = int(values.threads, DEFAULT_OPTIONS.threads, 'threads', 1);
  if (threads !== 1 && threads !== 2) throw new Error('--threads: expected 1 or 2');
  const opts: TrainOptions = {
    ...DEFAULT_OPTIONS,
    seed: int(values.seed, DEFAULT_OPTIONS.seed, 'seed', 0),
    steps: int(values.steps, DEFAULT_OPTIONS.steps, 'steps', 1),
    batch: int(values.batch, DEFAULT_OPTIONS.batch, 'batch', 2),
    lr,
    threads,
  };
  return { out: values.out!, eval: !values['no-eval'], opts };
}

/** The exact command that reproduces a run (non-default options spelled out). */
export function reproduceCommand(out: string, o: TrainOptions): string {
  const parts = ['node --import tsx training/train-default-model.ts', `--out ${out}`, `--seed ${o.seed}`, `--steps ${o.steps}`];
  if (o.batch !== DEFAULT_OPTIONS.batch) parts.push(`--batch ${o.batch}`);
  if (o.lr !== DEFAULT_OPTIONS.lr) parts.push(`--lr ${o.lr}`);
  return parts.join(' ');
}

async function main(): Promise<void> {
  const { out, eval: doEval, opts } = parseCli(process.argv.slice(2));
  const params = paramLayout(DEFAULT_CONFIG).total;
  console.log(
    `training the default model (${params} parameters) for ${opts.steps} steps of ${opts.batch}, seed ${opts.seed}, ${opts.threads} thread(s)`,
  );
  const result = await trainDefaultModel(opts, (line) => console.log(line));
  console.log(`trained in ${result.seconds.toFixed(1)} s`);
  writeCheckpoint(out, result.config, result.params, {
    task: 'a+b=c (a, b in [0, 99]), byte-level tokens',
    trainer: 'training/train-default-model.ts',
    seed: String(opts.seed),
    steps: String(opts.steps),
    batch: String(opts.batch),
  });
  let evaluation: Evaluation | undefined;
  if (doEval) {
    const e0 = performance.now();
    evaluation = evaluateCheckpoint(out);
    console.log(
      `reference greedy: ${evaluation.correct}/${evaluation.problems} exact; min top-2 margin ${evaluation.minMarginSample.toFixed(3)} ` +
        `(${evaluation.marginSample} sampled prompts), ${evaluation.minMarginAll.toFixed(3)} (all, at ${evaluation.minMarginAt}); ` +
        `max |logit| ${evaluation.maxAbsLogit.toFixed(1)}; ${((performance.now() - e0) / 1000).toFixed(1)} s`,
    );
    for (const f of evaluation.failures) console.log(`  wrong: ${f}`);
  }
  writeFileSync(join(out, 'README.md'), modelCard({ dir: out, options: opts, result, evaluation, command: reproduceCommand(out, opts) }));
  console.log(`wrote ${out}/{config.json, model.safetensors, vocab.json, merges.txt, README.md}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
