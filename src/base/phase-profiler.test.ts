import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PhaseProfiler } from './phase-profiler.ts';

test('nested phases report exclusive bytes, rounds and calls that add up to the total', async () => {
  const c = { bytes: 0, rounds: 0 };
  const p = new PhaseProfiler(() => c);
  const send = (bytes: number) => {
    c.bytes += bytes;
    c.rounds += 1;
  };
  await p.run('layer', async () => {
    send(10);
    await p.run('softmax', async () => send(100));
    await p.run('softmax', async () => send(1000));
    send(1);
  });
  const s = p.snapshot();
  assert.deepEqual(
    { layer: [s.layer.bytes, s.layer.rounds, s.layer.calls], softmax: [s.softmax.bytes, s.softmax.rounds, s.softmax.calls] },
    { layer: [11, 2, 1], softmax: [1100, 2, 2] },
  );
  assert.ok(s.layer.ms >= 0 && s.softmax.ms >= 0);
  await assert.rejects(
    p.run('fails', async () => Promise.reject(new Error('x'))),
    /x/,
  );
  assert.equal(p.snapshot().fails.calls, 1, 'a failing phase is still closed');
  p.reset();
  assert.deepEqual(p.snapshot(), {});
});
