/**
 * The secure engine on a real LLaMA-architecture checkpoint (llama2.c stories260K) against
 * llama2.c's own float32 run (stories260K-reference.json): the greedy ids must match exactly, in
 * both security modes, with 2 and 3 parties; the logits at positions 0–3 within 0.05.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadLlama2c } from '../formats/llama2c.ts';
import { runMemorySession } from '../services/memory-session.ts';
import { secureTeacherForcedLogits } from '../../test/helpers/secure-model.ts';
import { requireTestdata } from '../../test/helpers/testdata.ts';

interface Reference {
  input_ids: number[];
  greedy_next_ids: number[];
  logits: Record<string, number[]>;
}

const FILES = ['llama2c/stories260K.bin', 'llama2c/stories260K-reference.json'];
/** Issue goal for the max |logit error| against llama2.c at positions 0–3. */
const LOGIT_TOLERANCE = 0.05;

for (const mode of ['semi-honest', 'malicious'] as const) {
  for (const parties of [2, 3]) {
    test(`stories260K: secure greedy from BOS reproduces llama2.c's 16 ids (${parties} parties, ${mode})`, async (t) => {
      const paths = requireTestdata(t, ...FILES);
      if (!paths) return;
      const model = loadLlama2c(paths[0]);
      const ref = JSON.parse(readFileSync(paths[1], 'utf8')) as Reference;
      const { ids, stats } = await runMemorySession(model, [1], {
        parties,
        mode,
        scaleBits: 16,
        maxContext: 512,
        maxNewTokens: 16,
        sampler: { kind: 'greedy' },
      });
      t.diagnostic(
        `ms/token ${stats.ms_per_token.toFixed(1)}, bytes/token ${stats.bytes_per_token_per_party}, rounds/token ${stats.rounds_per_token}`,
      );
      assert.deepEqual(ids, ref.greedy_next_ids);
    });
  }
}

for (const mode of ['semi-honest', 'malicious'] as const) {
  test(`stories260K: secure logits at positions 0–3 within ${LOGIT_TOLERANCE} of llama2.c (${mode})`, async (t) => {
    const paths = requireTestdata(t, ...FILES);
    if (!paths) return;
    const model = loadLlama2c(paths[0]);
    const ref = JSON.parse(readFileSync(paths[1], 'utf8')) as Reference;
    const logits = await secureTeacherForcedLogits(model, ref.input_ids.slice(0, 4), { parties: 2, mode });
    let maxErr = 0;
    for (let p = 0; p < 4; p++) {
      const expected = ref.logits[String(p)];
      logits[p].forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - expected[i]))));
    }
    t.diagnostic(`max |logit error| at positions 0–3: ${maxErr.toExponential(3)}`);
    assert.ok(maxErr <= LOGIT_TOLERANCE, `max |logit error| ${maxErr} > ${LOGIT_TOLERANCE}`);
  });
}
