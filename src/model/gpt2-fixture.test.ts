/**
 * A small random GPT-2 in the Hugging Face layout (written by test/fixtures/gpt2-fixture.ts):
 * secure and plaintext greedy generation agree on 64 tokens.
 * Fixture seed 24 is chosen so the plaintext top-2 logit margin stays ≥ 0.29 over the 64 steps
 * (21 distinct tokens): the comparison then tests the engine, not a near-tie.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadHfCheckpoint } from '../formats/hf-checkpoint.ts';
import { referenceGenerate } from '../reference/generate.ts';
import { runMemorySession } from '../services/memory-session.ts';
import { writeGpt2Fixture } from '../../test/fixtures/gpt2-fixture.ts';

for (const [parties, mode, tokens] of [
  [2, 'semi-honest', 64],
  [3, 'malicious', 16],
] as const) {
  test(`GPT-2 fixture: secure greedy equals plaintext greedy on ${tokens} tokens (${parties} parties, ${mode})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-gpt2-'));
    try {
      writeGpt2Fixture(dir, { seed: 24 });
      const model = loadHfCheckpoint(dir);
      const prompt = model.tokenizer!.encode('Hello world');
      const expected = referenceGenerate(model, prompt, tokens, { greedy: true });
      const { ids, stats } = await runMemorySession(model, prompt, {
        parties,
        mode,
        scaleBits: 16,
        maxContext: 128,
        maxNewTokens: tokens,
        sampler: { kind: 'greedy' },
      });
      t.diagnostic(`ms/token ${stats.ms_per_token.toFixed(1)}, rounds/token ${stats.rounds_per_token}`);
      assert.deepEqual(ids, expected);
      assert.ok(new Set(expected).size > 5, 'the fixture should not degenerate into one repeated token');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
