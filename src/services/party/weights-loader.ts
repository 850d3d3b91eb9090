/**
 * Reading the owner's model off the event loop. The owner node reads its model again for every
 * session (owner-weights.ts), and reading is synchronous CPU work (≈ 2.5 s to regenerate
 * `gpt2-small-random`, plus ≈ 0.3 s for its SHA-256): on the node's main thread that would stall
 * every other session's protocol steps on this node for as long. So the read and the digest run
 * in a worker thread, which hands the Float32 tensors over by transfer (no copy).
 *
 * The worker is started from a small CommonJS bootstrap that registers tsx (the sources are
 * TypeScript; the services run them without a build step) and imports this module by URL, so it
 * works the same under `bin/mpc-prompt.js` and under the test runner.
 */
import { Worker } from 'node:worker_threads';
import { loadModel } from '../../formats/load-model.ts';
import { weightsDigest, type DigestedWeights } from './owner-weights.ts';

/** Reads `path` and digests its weights on the calling thread (startup, tests). */
export function readWithDigest(path: string): DigestedWeights {
  const m = loadModel(path);
  return { source: m.source, config: m.config, weights: m.weights, digest: weightsDigest(m.weights) };
}

const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  (await import(workerData.tsx)).register();
  const loaded = (await import(workerData.module)).readWithDigest(workerData.path);
  const buffers = new Set();
  (function collect(v) {
    if (ArrayBuffer.isView(v)) buffers.add(v.buffer);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) collect(x);
  })(loaded.weights);
  parentPort.postMessage({ loaded }, [...buffers]);
})().catch((e) => parentPort.postMessage({ error: e instanceof Error ? e.message : String(e) }));
`;

/**
 * Reads `path` and digests its weights in a worker thread. Rejects with the reader's message
 * (e.g. "no such file or directory: …") if the read fails or the worker dies.
 */
export function readWithDigestOffThread(path: string): Promise<DigestedWeights> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { tsx: import.meta.resolve('tsx/esm/api'), module: import.meta.url, path },
    });
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
      void worker.terminate();
    };
    worker.once('message', (m: { loaded?: DigestedWeights; error?: string }) =>
      settle(() => (m.loaded ? resolve(m.loaded) : reject(new Error(m.error ?? 'model reader: no result')))),
    );
    worker.once('error', (e) => settle(() => reject(e)));
    worker.once('exit', (code) => settle(() => reject(new Error(`model reader: worker exited with code ${code} before its result`))));
  });
}
