/**
 * The owner node's weights on demand (owner-weights.ts): the startup copy serves the first
 * session and is dropped after its setup; later sessions load again; concurrent setups share one
 * copy; a reload that is not the startup model (other config, other values) or fails is refused
 * with a precise error and changes nothing; the node's reads run in a worker thread
 * (weights-loader.ts) and give what a read on the main thread gives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomGpt2 } from '../../formats/random-gpt2.ts';
import { weightsDigest, weightsOnDemand, type DigestedWeights } from './owner-weights.ts';
import { readWithDigest, readWithDigestOffThread } from './weights-loader.ts';

const SPEC = 'gpt2-random:1x8x2x16x20';

/** A reader that counts its calls and returns what `next` says (in-thread, as a promise). */
function counting(next: () => DigestedWeights): { read: () => Promise<DigestedWeights>; calls: () => number } {
  let calls = 0;
  return {
    read: async () => {
      calls += 1;
      await new Promise((r) => setImmediate(r)); // resolve later, as a worker would
      return next();
    },
    calls: () => calls,
  };
}

test('the startup copy serves the first setup and is dropped after it; the next setup reads again', async () => {
  const initial = readWithDigest(SPEC);
  const reader = counting(() => readWithDigest(SPEC));
  const w = weightsOnDemand(initial, reader.read);
  assert.equal(w.held, true);
  assert.equal(await w.acquire(), initial.weights);
  assert.equal(reader.calls(), 0);
  w.release();
  assert.equal(w.held, false);
  const again = await w.acquire();
  assert.equal(reader.calls(), 1);
  assert.notEqual(again, initial.weights);
  assert.equal(weightsDigest(again), initial.digest);
  w.release();
  assert.equal(w.held, false);
});

test('concurrent setups share one read and one copy, dropped only by the last release', async () => {
  const reader = counting(() => readWithDigest(SPEC));
  const w = weightsOnDemand(readWithDigest(SPEC), reader.read);
  await w.acquire();
  w.release();
  const [a, b] = await Promise.all([w.acquire(), w.acquire()]);
  assert.equal(a, b);
  assert.equal(reader.calls(), 1);
  const c = await w.acquire();
  assert.equal(c, a);
  assert.equal(reader.calls(), 1);
  w.release();
  w.release();
  assert.equal(w.held, true);
  w.release();
  assert.equal(w.held, false);
  assert.throws(() => w.release(), /no session holds the weights/);
});

test('a reload with another config or other values, or a failing read, is refused and holds nothing', async () => {
  let next = (): DigestedWeights => readWithDigest('gpt2-random:1x8x2x16x24');
  const w = weightsOnDemand(readWithDigest(SPEC), async () => next());
  await w.acquire();
  w.release();
  await assert.rejects(w.acquire(), /changed since the node started: its config differs/);
  assert.equal(w.held, false);
  next = () => readWithDigest(`${SPEC}@7`); // same shapes, other seed
  await assert.rejects(w.acquire(), /changed since the node started: its weights differ \(SHA-256 [0-9a-f]{64}/);
  assert.equal(w.held, false);
  next = () => {
    throw new Error('no such file or directory: model.bin');
  };
  await assert.rejects(w.acquire(), /no such file/);
  assert.equal(w.held, false);
  // Nothing was counted as held: a good reload works, and one release drops it.
  next = () => readWithDigest(SPEC);
  await w.acquire();
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

test("a read in a worker thread gives the main thread's read, and the main thread keeps running meanwhile", async () => {
  const spec = 'gpt2-random:2x128x4x512x4000';
  const here = readWithDigest(spec);
  let ticks = 0;
  const timer = setInterval(() => (ticks += 1), 5);
  const there = await readWithDigestOffThread(spec);
  clearInterval(timer);
  assert.equal(there.source, here.source);
  assert.deepEqual(there.config, here.config);
  assert.equal(there.digest, here.digest);
  assert.equal(weightsDigest(there.weights), here.digest); // the transferred tensors themselves
  assert.ok(ticks >= 3, `the main thread's timer ran ${ticks} times during the read`);
});

test("a failing read in the worker rejects with the reader's message", async () => {
  await assert.rejects(readWithDigestOffThread('/nonexistent/model.bin'), /no such file or directory: \/nonexistent\/model\.bin/);
});
