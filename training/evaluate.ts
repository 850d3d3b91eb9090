/**
 * Evaluates a written checkpoint with the project's own loader and plaintext float64 reference
 * (src/formats/hf-checkpoint.ts, src/reference): greedy answers for every problem, plus the
 * top-2 logit margins of the generated answer tokens (how far each greedy choice is from a tie,
 * which matters because the secure engine computes in fixed point).
 */
import { loadHfCheckpoint } from '../src/formats/hf-checkpoint.ts';
import { referenceGenerate } from '../src/reference/generate.ts';
import { createReferenceModel } from '../src/reference/index.ts';
import { answerText, MAX_OPERAND, promptText } from './data.ts';
import { trainingPrng } from './prng.ts';

export interface Evaluation {
  readonly problems: number;
  readonly correct: number;
  /** Up to 10 wrong answers, e.g. "19+81= → 90". */
  readonly failures: readonly string[];
  /** Smallest top-2 margin over the answer tokens of `marginSample` random prompts. */
  readonly minMarginSample: number;
  readonly marginSample: number;
  /** Smallest top-2 margin over the answer tokens of every problem. */
  readonly minMarginAll: number;
  /** The problem where minMarginAll occurs. */
  readonly minMarginAt: string;
  /** Largest |logit| seen (fixed-point range check). */
  readonly maxAbsLogit: number;
}

/** Top-2 margin of a logit vector. */
export function top2Margin(logits: ArrayLike<number>): number {
  let best = -Infinity;
  let second = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > best) {
      second = best;
      best = v;
    } else if (v > second) second = v;
  }
  return best - second;
}

/** Greedy answers for all (a, b) ∈ [0, 99]²; margins recorded for all, and for a seeded sample. */
export function evaluateCheckpoint(dir: string, options: { marginSample?: number; sampleSeed?: number } = {}): Evaluation {
  const { marginSample = 500, sampleSeed = 2024 } = options;
  const model = loadHfCheckpoint(dir);
  const tokenizer = model.tokenizer!;
  const ref = createReferenceModel(model);
  const eos = model.config.eosId!;
  const margins = new Float64Array((MAX_OPERAND + 1) ** 2);
  let correct = 0;
  let maxAbsLogit = 0;
  const failures: string[] = [];
  for (let a = 0; a <= MAX_OPERAND; a++) {
    for (let b = 0; b <= MAX_OPERAND; b++) {
      let margin = Infinity;
      const ids = referenceGenerate(ref, tokenizer.encode(promptText(a, b)), 4, {
        greedy: true,
        stopIds: [eos],
        onLogits: (logits) => {
          margin = Math.min(margin, top2Margin(logits));
          for (const v of logits) maxAbsLogit = Math.max(maxAbsLogit, Math.abs(v));
        },
      });
      const text = tokenizer.decode(ids);
      margins[a * (MAX_OPERAND + 1) + b] = margin;
      if (text === answerText(a, b)) correct++;
      else if (failures.length < 10) failures.push(`${promptText(a, b)} → ${JSON.stringify(text)}`);
    }
  }
  // a seeded sample of distinct problems (partial Fisher–Yates)
  const rng = trainingPrng(sampleSeed);
  const order = Array.from(margins.keys());
  let minMarginSample = Infinity;
  for (let i = 0; i < Math.min(marginSample, order.length); i++) {
    const j = i + rng.int(order.length - i);
    [order[i], order[j]] = [order[j], order[i]];
    minMarginSample = Math.min(minMarginSample, margins[order[i]]);
  }
  let at = 0;
  for (let i = 1; i < margins.length; i++) if (margins[i] < margins[at]) at = i;
  return {
    problems: margins.length,
    correct,
    failures,
    minMarginSample,
    marginSample,
    minMarginAll: margins[at],
    minMarginAt: promptText(Math.floor(at / (MAX_OPERAND + 1)), at % (MAX_OPERAND + 1)),
    maxAbsLogit,
  };
}
