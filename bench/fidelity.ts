/**
 * Fidelity of the secure engine against the plaintext float64 reference on a checkpoint:
 *   node --import tsx bench/fidelity.ts [--model PATH] [--tokens 256] [--parties 2] [--security semi-honest] [--json]
 * Reports (1) free-running agreement: how many of N secure greedy tokens equal the reference's
 * greedy tokens position by position, and the first divergence; (2) teacher-forced agreement:
 * feeding the reference's tokens, at how many steps the secure argmax equals the reference
 * argmax, the max |logit error|, and how many disagreements fall on near-ties (top-2 margin < 0.05).
 * Default model: ../shared/testdata/llama2c/stories260K.bin, greedy from BOS.
 * --teacher-forced-only skips (1) (for large models such as gpt2-small-random, whose BOS is
 * undefined: the prompt is then token 0).
 */
import { parseArgs } from 'node:util';
import { loadModel } from '../src/formats/load-model.ts';
import { createReferenceModel } from '../src/reference/index.ts';
import { referenceGenerate } from '../src/reference/generate.ts';
import { runMemorySession } from '../src/services/memory-session.ts';
import { secureTeacherForcedLogits } from '../test/helpers/secure-model.ts';
import { TESTDATA } from '../test/helpers/testdata.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: `${TESTDATA}/llama2c/stories260K.bin` },
    tokens: { type: 'string', default: '256' },
    parties: { type: 'string', default: '2' },
    security: { type: 'string', default: 'semi-honest' },
    json: { type: 'boolean', default: false },
    'teacher-forced-only': { type: 'boolean', default: false },
  },
});
const model = loadModel(a.model as string);
const n = Number(a.tokens);
const mode = a.security as 'semi-honest' | 'malicious';
const parties = Number(a.parties);
const prompt = [model.config.bosId ?? 0];

const reference = referenceGenerate(model, prompt, n, { greedy: true });
const t0 = performance.now();
const secure = a['teacher-forced-only']
  ? undefined
  : await runMemorySession(model, prompt, {
      parties,
      mode,
      scaleBits: 16,
      maxContext: model.config.maxSeqLen,
      maxNewTokens: n,
      sampler: { kind: 'greedy' },
    });
const freeSeconds = (performance.now() - t0) / 1000;
const agree = secure?.ids.filter((id, i) => id === reference[i]).length;
const firstDivergence = secure?.ids.findIndex((id, i) => id !== reference[i]);

// Teacher forcing on the reference sequence: position p's logits predict reference[p].
const forced = [...prompt, ...reference.slice(0, n - 1)];
const secureLogits = await secureTeacherForcedLogits(model, forced, { parties, mode });
const ref = createReferenceModel(model);
let argmaxAgree = 0;
let maxErr = 0;
let nearTieDisagreements = 0;
let clearSteps = 0;
let clearAgree = 0;
let minMargin = Infinity;
forced.forEach((id, p) => {
  const r = ref.forward(id, p);
  const s = secureLogits[p];
  let best = 0;
  let second = -Infinity;
  let sBest = 0;
  r.forEach((v, i) => {
    maxErr = Math.max(maxErr, Math.abs(v - s[i]));
    if (v > r[best]) best = i;
    if (s[i] > s[sBest]) sBest = i;
  });
  r.forEach((v, i) => {
    if (i !== best && v > second) second = v;
  });
  const margin = r[best] - second;
  minMargin = Math.min(minMargin, margin);
  if (margin > 0.05) {
    clearSteps++;
    if (sBest === best) clearAgree++;
  }
  if (sBest === best) argmaxAgree++;
  else if (margin < 0.05) nearTieDisagreements++;
});

const result = {
  model: a.model,
  tokens: n,
  parties,
  security: mode,
  free_running: secure && { agree, of: n, first_divergence: firstDivergence, seconds: freeSeconds, stats: secure.stats },
  teacher_forced: {
    argmax_agree: argmaxAgree,
    of: forced.length,
    max_abs_logit_error: maxErr,
    disagreements_on_near_ties: nearTieDisagreements,
    steps_with_margin_above_0_05: clearSteps,
    argmax_agree_where_margin_above_0_05: clearAgree,
    min_top2_margin: minMargin,
    seconds: (performance.now() - t0) / 1000 - freeSeconds,
  },
};
console.log(a.json ? JSON.stringify(result, null, 2) : result);
