/**
 * The owner node's weights on demand (owner-weights.ts): the startup copy serves the first
 * session and is dropped after its setup; later sessions load again; concurrent setups share one
 * copy; a reload that is not the startup model (other config, other values) or fails is refused
 * with a precise error and changes nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomGpt2 } from '../../formats/random-gpt2.ts';
import type { LoadedModel } from '../../formats/model-spec.ts';
import { weightsDigest, weightsOnDemand } from './owner-weights.ts';

const SPEC = 'gpt2-random:1x8x2x16x20';

/** A loader that counts its calls and returns what `next` says. */
function counting(next: () => LoadedModel): { load: () => LoadedModel; calls: () => number } {
  let calls = 0;
  return {
    load: () => {
      calls += 1;
      return next();
    },
    calls: () => calls,
  };
}

test('the startup copy serves the first setup and is dropped after it; the next setup loads again', () => {
  const initial = randomGpt2(SPEC);
  const loader = counting(() => randomGpt2(SPEC));
  const w = weightsOnDemand(initial, loader.load);
  assert.equal(w.held, true);
  assert.equal(w.acquire(), initial.weights);
  assert.equal(loader.calls(), 0);
  w.release();
  assert.equal(w.held, false);
  const again = w.acquire();
  assert.equal(loader.calls(), 1);
  assert.notEqual(again, initial.weights);
  assert.equal(weightsDigest(again), weightsDigest(initial.weights));
  w.release();
  assert.equal(w.held, false);
});

test('concurrent setups share one copy, dropped only by the last release', () => {
  const loader = counting(() => randomGpt2(SPEC));
  const w = weightsOnDemand(randomGpt2(SPEC), loader.load);
  w.acquire();
  w.release();
  const a = w.acquire();
  const b = w.acquire();
  assert.equal(a, b);
  assert.equal(loader.calls(), 1);
  w.release();
  assert.equal(w.held, true);
  w.release();
  assert.equal(w.held, false);
  assert.throws(() => w.release(), /no session holds the weights/);
});

test('a reload with another config or other values, or a failing load, is refused and holds nothing', () => {
  let next = (): LoadedModel => randomGpt2('gpt2-random:1x8x2x16x24');
  const w = weightsOnDemand(randomGpt2(SPEC), () => next());
  w.acquire();
  w.release();
  assert.throws(() => w.acquire(), /changed since the node started: its config differs/);
  assert.equal(w.held, false);
  next = () => randomGpt2(`${SPEC}@7`); // same shapes, other seed
  assert.throws(() => w.acquire(), /changed since the node started: its weights differ \(SHA-256 [0-9a-f]{64}/);
  assert.equal(w.held, false);
  next = () => {
    throw new Error('no such file or directory: model.bin');
  };
  assert.throws(() => w.acquire(), /no such file/);
  assert.equal(w.held, false);
  // Nothing was counted as held: a good reload works, and one release drops it.
  next = () => randomGpt2(SPEC);
  w.acquire();
  w.release();
  assert.equal(w.held, false);
  assert.throws(() => w.release(), /no session holds the weights/);
});

test('the digest covers every tensor: one changed value changes it', () => {
  const m = randomGpt2(SPEC);
  const before = weightsDigest(m.weights);
  assert.match(before, /^[0-9a-f]{64}$/);
  if (m.weights.arch !== 'gpt2') throw new Error('expected GPT-2 weights');
  const last = m.weights.layers[m.weights.layers.length - 1];
  const t = Object.values(last).find((x): x is { data: Float32Array } => x !== null && typeof x === 'object' && 'data' in x);
  assert.ok(t);
  t.data[t.data.length - 1] += 1;
  assert.notEqual(weightsDigest(m.weights), before);
});
