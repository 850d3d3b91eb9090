/**
 * The LLaMA reference against llama2.c `run.c` on stories260K (float32 logits and greedy ids
 * recorded in stories260K-reference.json). Test data: $MPC_PROMPT_TESTDATA, else
 * ../shared/testdata next to the repository; skipped when absent unless CI=true.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../base/errors.ts';
import { loadLlama2c } from '../formats/llama2c.ts';
import type { LoadedModel } from '../formats/model-spec.ts';
import { referenceGenerate } from './generate.ts';
import { createReferenceModel } from './index.ts';

interface StoriesReference {
  config: {
    dim: number;
    hidden_dim: number;
    n_layers: number;
    n_heads: number;
    n_kv_heads: number;
    vocab_size: number;
    seq_len: number;
    shared_classifier: boolean;
  };
  input_ids: number[];
  greedy_next_ids: number[];
  logits: Record<string, number[]>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const testdata = process.env.MPC_PROMPT_TESTDATA ?? join(repoRoot, '..', 'shared', 'testdata');
const modelPath = join(testdata, 'llama2c', 'stories260K.bin');
const referencePath = join(testdata, 'llama2c', 'stories260K-reference.json');

/** Loads the checkpoint and its recorded run.c outputs, or skips (fails under CI=true). */
function loadFixture(t: TestContext): { model: LoadedModel; ref: StoriesReference } | undefined {
  if (!existsSync(modelPath) || !existsSync(referencePath)) {
    const message = `test data not found: ${modelPath} / ${referencePath} (set MPC_PROMPT_TESTDATA)`;
    if (process.env.CI === 'true') assert.fail(message);
    t.skip(message);
    return undefined;
  }
  fixture ??= {
    model: loadLlama2c(modelPath),
    ref: JSON.parse(readFileSync(referencePath, 'utf8')) as StoriesReference,
  };
  return fixture;
}
let fixture: { model: LoadedModel; ref: StoriesReference } | undefined;

test('stories260K: config matches the recorded header', (t) => {
  const fx = loadFixture(t);
  if (!fx) return;
  const { config } = fx.model;
  const c = fx.ref.config;
  assert.deepEqual(
    [config.dim, config.hiddenDim, config.nLayers, config.nHeads, config.nKvHeads, config.vocabSize, config.maxSeqLen],
    [c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len],
  );
  assert.equal(config.tiedEmbeddings, c.shared_classifier);
});

test('stories260K: logits at positions 0..3 match run.c within 1e-3', (t) => {
  const fx = loadFixture(t);
  if (!fx) return;
  const model = createReferenceModel(fx.model);
  let maxErr = 0;
  for (let pos = 0; pos < 4; pos++) {
    const logits = model.forward(fx.ref.input_ids[pos], pos); // (vocab)
    const expected: number[] = fx.ref.logits[String(pos)];
    assert.equal(logits.length, expected.length);
    for (let i = 0; i < logits.length; i++) maxErr = Math.max(maxErr, Math.abs(logits[i] - expected[i]));
  }
  t.diagnostic(`max |logit - run.c| over positions 0..3 = ${maxErr.toExponential(3)}`);
  assert.ok(maxErr <= 1e-3, `max |logit error| ${maxErr} > 1e-3`);
});

test('stories260K: greedy from BOS reproduces run.c for 16 tokens', (t) => {
  const fx = loadFixture(t);
  if (!fx) return;
  const margins: number[] = [];
  const ids = referenceGenerate(fx.model, [1], 16, {
    greedy: true,
    onLogits: (logits) => {
      const [a, b] = Array.from(logits).sort((x, y) => y - x);
      margins.push(a - b);
    },
  });
  t.diagnostic(`min top-2 logit margin over 16 steps = ${Math.min(...margins).toFixed(4)}`);
  assert.deepEqual(ids, fx.ref.greedy_next_ids);
});

test('stories260K: prefill, cache rewind and sampling are consistent', (t) => {
  const fx = loadFixture(t);
  if (!fx) return;
  const model = createReferenceModel(fx.model);
  const ids = fx.ref.input_ids.slice(0, 4);
  const last = model.prefill(ids);
  assert.equal(model.length, 4);
  const again = model.forward(ids[3], 3); // rewinding to pos 3 recomputes the same logits
  assert.deepEqual(again, last);
  model.reset();
  assert.equal(model.length, 0);
  assert.throws(() => model.forward(1, 1), ValidationError); // cannot skip positions
  assert.throws(() => model.forward(512, 0), ValidationError); // token out of range
  assert.throws(() => model.prefill([]), ValidationError);

  // top-1 sampling is greedy; a fixed seed is reproducible
  assert.deepEqual(referenceGenerate(model, [1], 16, { topk: 1, temperature: 1, seed: 7 }), fx.ref.greedy_next_ids);
  const sampled = referenceGenerate(fx.model, [1], 24, { topk: 40, temperature: 1, seed: 42 });
  assert.deepEqual(referenceGenerate(fx.model, [1], 24, { topk: 40, temperature: 1, seed: 42 }), sampled);
  assert.ok(sampled.every((id) => Number.isInteger(id) && id >= 0 && id < 512));
  assert.deepEqual(referenceGenerate(fx.model, [1], 16, { greedy: true, stopIds: [401] }), [461, 461, 401]);
  assert.throws(() => referenceGenerate(fx.model, [1], 513, { greedy: true }), /need 513 positions; the model has maxSeqLen 512/);
});
