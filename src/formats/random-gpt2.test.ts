import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../base/errors.ts';
import { loadModel, loadModelPublic } from './load-model.ts';
import { isRandomModelSpec, randomGpt2, randomGpt2Config } from './random-gpt2.ts';

test('random GPT-2 specs: shapes, determinism per seed, tied head, GPT-2-like statistics', () => {
  assert.ok(
    isRandomModelSpec('gpt2-small-random') && isRandomModelSpec('gpt2-random:2x8x2x16x50@3') && !isRandomModelSpec('models/default'),
  );
  const small = randomGpt2Config('gpt2-small-random').config;
  assert.deepEqual(
    [small.nLayers, small.dim, small.nHeads, small.hiddenDim, small.vocabSize, small.maxSeqLen],
    [12, 768, 12, 3072, 50257, 1024],
  );
  const a = randomGpt2('gpt2-random:2x16x4x64x100');
  const b = loadModel('gpt2-random:2x16x4x64x100');
  const c = randomGpt2('gpt2-random:2x16x4x64x100@2');
  assert.deepEqual(a.weights.tokenEmbedding.data, b.weights.tokenEmbedding.data, 'same spec and seed: identical weights');
  assert.notDeepEqual(a.weights.tokenEmbedding.data, c.weights.tokenEmbedding.data, 'another seed: other weights');
  const w = a.weights;
  assert.equal(w.arch, 'gpt2');
  if (w.arch !== 'gpt2') return;
  assert.equal(w.outputEmbedding, w.tokenEmbedding, 'tied: the LM head is the token embedding itself');
  const qkv = w.layers[0].qkvWeight.data;
  const mean = qkv.reduce((s, x) => s + x, 0) / qkv.length;
  const std = Math.sqrt(qkv.reduce((s, x) => s + (x - mean) ** 2, 0) / qkv.length);
  assert.ok(Math.abs(mean) < 0.003 && Math.abs(std - 0.02) < 0.003, `qkv ~ N(0, 0.02²): mean ${mean}, std ${std}`);
  assert.deepEqual(loadModelPublic('gpt2-random:2x16x4x64x100').config, a.config);
  for (const bad of [
    'gpt2-random:2x10x3x64x100',
    'gpt2-random:0x16x4x64x100',
    'gpt2-random:2x16',
    'gpt2-small-random@x',
    'gpt2-small-random@1@2',
  ])
    assert.throws(() => randomGpt2Config(bad), ValidationError, bad);
});
