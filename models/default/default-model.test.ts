/**
 * The embedded default model (models/default, trained by training/train-default-model.ts):
 * it loads with the project's Hugging Face loader, stays within the 5 MB budget, and the
 * plaintext reference answers addition problems exactly with greedy decoding.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadHfCheckpoint } from '../../src/formats/hf-checkpoint.ts';
import type { LoadedModel } from '../../src/formats/model-spec.ts';
import { referenceGenerate } from '../../src/reference/generate.ts';
import { createReferenceModel } from '../../src/reference/index.ts';
import { testOnlyMulberry32 } from '../../test/fixtures/gpt2-fixture.ts';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const MAX_BYTES = 5 * 1024 * 1024;

let cached: LoadedModel | undefined;
const model = (): LoadedModel => (cached ??= loadHfCheckpoint(DIR));

/** Greedy answer of the plaintext reference to "a+b=" (without the prompt). */
function answer(m: LoadedModel, prompt: string): string {
  const ref = createReferenceModel(m);
  const ids = referenceGenerate(ref, m.tokenizer!.encode(prompt), 4, { greedy: true, stopIds: [m.config.eosId!] });
  return m.tokenizer!.decode(ids);
}

test('default model: files and size budget (≤ 5 MB)', () => {
  for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt', 'README.md']) {
    assert.ok(statSync(join(DIR, f)).isFile(), `${f} is missing`);
  }
  const weights = statSync(join(DIR, 'model.safetensors')).size;
  const total = readdirSync(DIR).reduce((sum, f) => sum + statSync(join(DIR, f)).size, 0);
  assert.ok(weights <= MAX_BYTES, `model.safetensors is ${weights} bytes`);
  assert.ok(total <= MAX_BYTES, `models/default holds ${total} bytes`);
  const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config['model_type'], 'gpt2');
});

test('default model: loads as GPT-2 with a one-byte-per-token tokenizer; "\\n" is EOS', () => {
  const m = model();
  assert.equal(m.config.arch, 'gpt2');
  assert.equal(m.config.vocabSize, 256);
  assert.ok(m.tokenizer !== undefined);
  const tok = m.tokenizer;
  assert.deepEqual(tok.encode('27+58=85\n'), [17, 22, 10, 20, 23, 28, 23, 20, 198]);
  assert.equal(m.config.eosId, tok.encode('\n')[0]);
  // Each party tokenizes its own part; the joint prompt is the concatenation.
  assert.deepEqual([...tok.encode('27+'), ...tok.encode('58=')], tok.encode('27+58='));
});

test('default model: worked examples', () => {
  const m = model();
  assert.equal(answer(m, '27+58='), '85\n');
  assert.equal(answer(m, '0+0='), '0\n');
  assert.equal(answer(m, '99+99='), '198\n');
  assert.equal(answer(m, '5+95='), '100\n');
});

test('default model: 200 seeded random problems are answered exactly (greedy, plaintext reference)', () => {
  const m = model();
  const random = testOnlyMulberry32(20240601);
  const wrong: string[] = [];
  for (let i = 0; i < 200; i++) {
    const a = Math.floor(random() * 100);
    const b = Math.floor(random() * 100);
    const got = answer(m, `${a}+${b}=`);
    if (got !== `${a + b}\n`) wrong.push(`${a}+${b}= → ${JSON.stringify(got)}`);
  }
  assert.deepEqual(wrong, []);
});
