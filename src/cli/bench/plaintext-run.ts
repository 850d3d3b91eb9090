/**
 * The plaintext float64 reference on the same model and prompt, in the benchmark's process: its
 * greedy tokens (to compare with the secure run) and its decode time per token (the ratio's
 * denominator). Single-threaded JavaScript, KV cache, no batching.
 */
import type { LoadedModel } from '../../formats/model-spec.ts';
import { createReferenceModel } from '../../reference/index.ts';
import { argmax } from '../../reference/ops.ts';

export interface PlaintextResult {
  readonly ids: number[];
  /** Top-1 minus top-2 logit at each generated token (a secure run may differ where this is tiny). */
  readonly margins: number[];
  readonly decodeMs: number[];
  readonly prefillMs: number;
}

export function runPlaintext(model: LoadedModel, prompt: readonly number[], tokens: number): PlaintextResult {
  const ref = createReferenceModel(model);
  const t0 = performance.now();
  let logits = ref.prefill(prompt);
  const prefillMs = performance.now() - t0;
  const ids = [argmax(logits)];
  const margins = [topMargin(logits)];
  const decodeMs: number[] = [];
  for (let step = 1; step < tokens; step++) {
    const t = performance.now();
    logits = ref.forward(ids[ids.length - 1], prompt.length + step - 1);
    ids.push(argmax(logits));
    decodeMs.push(performance.now() - t);
    margins.push(topMargin(logits));
  }
  return { ids, margins, decodeMs, prefillMs };
}

/** Largest minus second-largest entry. */
function topMargin(xs: ArrayLike<number>): number {
  let a = -Infinity;
  let b = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (v > a) [a, b] = [v, a];
    else if (v > b) b = v;
  }
  return a - b;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
