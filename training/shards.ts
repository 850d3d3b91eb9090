/**
 * Data-parallel gradient computation over a fixed number of shards (2). Every batch is split
 * into the same two halves, each half accumulates into its own gradient array, and the two
 * arrays are added in a fixed order. Whether the second shard runs in a worker thread or on the
 * main thread changes the speed, never the numbers: `--threads 1` and `--threads 2` give
 * byte-identical models.
 */
import { Worker } from 'node:worker_threads';
import type { TrainConfig, TrainSequence } from './gpt2-train.ts';
import { Gpt2Trainer } from './gpt2-train.ts';

export const SHARDS = 2;

/** What a shard returns for a batch. */
export interface ShardResult {
  readonly loss: number;
  readonly correct: number;
  readonly count: number;
}

/** Request to the worker (see shard-worker.ts). */
export type ShardRequest =
  | { readonly kind: 'train'; readonly seqs: readonly TrainSequence[]; readonly gradScale: number }
  | { readonly kind: 'logits'; readonly seqs: readonly TrainSequence[] };

/** Splits `items` into SHARDS contiguous parts (the first ones one longer when uneven). */
export function splitShards<T>(items: readonly T[]): T[][] {
  const parts: T[][] = [];
  let start = 0;
  for (let s = 0; s < SHARDS; s++) {
    const size = Math.floor(items.length / SHARDS) + (s < items.length % SHARDS ? 1 : 0);
    parts.push(items.slice(start, start + size));
    start += size;
  }
  return parts;
}

/**
 * The shard executors. Parameters live in shared memory (`params`, float32, updated in place by
 * the optimizer); `grads` is the summed gradient after each {@link trainStep}.
 */
export class ShardedTrainer {
  readonly params: Float32Array;
  readonly grads: Float64Array;
  private readonly local: Gpt2Trainer[];
  private readonly worker: Worker | undefined;
  private readonly workerGrads: Float64Array | undefined;

  constructor(
    readonly config: TrainConfig,
    initial: Float32Array,
    threads: 1 | 2,
  ) {
    this.params = new Float32Array(new SharedArrayBuffer(initial.length * 4));
    this.params.set(initial);
    this.grads = new Float64Array(initial.length);
    const shard = (grads?: Float64Array) => new Gpt2Trainer(config, this.params, grads);
    if (threads === 2) {
      this.workerGrads = new Float64Array(new SharedArrayBuffer(initial.length * 8));
      this.local = [shard()];
      // The worker loads TypeScript through tsx's loader API (a worker does not inherit
      // `--import tsx` hooks in Node 20), then imports shard-worker.ts.
      const api = import.meta.resolve('tsx/esm/api');
      const entry = new URL('./shard-worker.ts', import.meta.url).href;
      const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
      this.worker = new Worker(boot, { eval: true, workerData: { config, params: this.params, grads: this.workerGrads } });
    } else {
      this.local = [shard(), shard()];
      this.worker = undefined;
      this.workerGrads = undefined;
    }
  }

  private call<R>(request: ShardRequest): Promise<R> {
    const worker = this.worker!;
    return new Promise<R>((resolve, reject) => {
      const onMessage = (value: R) => {
        worker.off('error', onError);
        resolve(value);
      };
      const onError = (e: Error) => {
        worker.off('message', onMessage);
        reject(e);
      };
      worker.once('message', onMessage);
      worker.once('error', onError);
      worker.postMessage(request);
    });
  }

  /**
   * Gradient of gradScale · Σ losses over `seqs` into `grads` (overwritten), computed on the
   * current `params`. Returns Σ losses, correct argmax count, number of loss positions.
   */
  async trainStep(seqs: readonly TrainSequence[], gradScale: number): Promise<ShardResult> {
    const [first, second] = splitShards(seqs);
    for (const t of this.local) {
      t.setParams(this.params);
      t.grads.fill(0);
    }
    let r1: ShardResult;
    let r2: ShardResult;
    if (this.worker) {
      const pending = this.call<ShardResult>({ kind: 'train', seqs: second, gradScale });
      r1 = this.local[0].forwardBackward(first, gradScale);
      r2 = await pending;
    } else {
      r1 = this.local[0].forwardBackward(first, gradScale);
      r2 = this.local[1].forwardBackward(second, gradScale);
    }
    const g1 = this.local[0].grads;
    const g2 = this.worker ? this.workerGrads! : this.local[1].grads;
    const g = this.grads;
    for (let i = 0; i < g.length; i++) g[i] = g1[i] + g2[i];
    return { loss: r1.loss + r2.loss, correct: r1.correct + r2.correct, count: r1.count + r2.count };
  }

  /** Logits at every sequence's loss positions ([Σ positions, V], in order), current params. */
  async logits(seqs: readonly TrainSequence[]): Promise<Float64Array> {
    const [first, second] = splitShards(seqs);
    this.local[0].setParams(this.params);
    let l2: Float64Array;
    let l1: Float64Array;
    if (this.worker) {
      const pending = this.call<Float64Array>({ kind: 'logits', seqs: second });
      l1 = this.local[0].logitsAt(first).slice();
      l2 = await pending;
    } else {
      this.local[1].setParams(this.params);
      l1 = this.local[0].logitsAt(first).slice();
      l2 = this.local[1].logitsAt(second).slice();
    }
    const out = new Float64Array(l1.length + l2.length);
    out.set(l1);
    out.set(l2, l1.length);
    return out;
  }

  async close(): Promise<void> {
    if (this.worker) await this.worker.terminate();
  }
}
