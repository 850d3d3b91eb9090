/**
 * The model owner's plaintext weights on its node, held only while a session brings them into
 * MPC. After a session's weight setup the secure model holds shares and public masked operands
 * only; no decode step reads the plaintext. So the node keeps the weights only while some session
 * is inputting them (concurrent setups share one copy) and reads them again from the model
 * source for the next session — for GPT-2-small this frees ≈ 0.6 GiB (163M Float32 values) for
 * the whole decode, at the cost of one read per session (≈ 2.6 s for `gpt2-small-random`,
 * against ≈ 50 s of weight setup), which the node does in a worker thread (weights-loader.ts) so
 * that its other sessions keep running meanwhile.
 *
 * A reload must be the model the node started with: its config and a SHA-256 over every weight
 * tensor (names, shapes, values) are compared; a changed or missing file aborts that session with
 * a precise error and leaves the node and its other sessions running.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ModelConfig, ModelWeights } from '../../formats/model-spec.ts';

/** A model read for its owner: the weights with their {@link weightsDigest}. */
export interface DigestedWeights {
  /** Where it came from (for messages), e.g. the file path. */
  readonly source: string;
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly digest: string;
}

/** Plaintext weights lent to sessions for their setup: `acquire` before input, `release` after. */
export interface OwnerWeights {
  /**
   * The weights; reads them when no session holds them (concurrent callers share one read).
   * Rejects, holding nothing, when the read fails or is not the startup model.
   */
  acquire(): Promise<ModelWeights>;
  /** Ends one successful `acquire`; the last release drops the weights. */
  release(): void;
  /** Whether a copy is held right now (metrics, tests). */
  readonly held: boolean;
}

/**
 * Weights read on demand with `read` (e.g. weights-loader.ts `readWithDigestOffThread`),
 * starting from the copy the node read at startup (`initial`), which the first session uses
 * before it is dropped.
 */
export function weightsOnDemand(initial: DigestedWeights, read: () => Promise<DigestedWeights>): OwnerWeights {
  const expected = { config: JSON.stringify(initial.config), digest: initial.digest };
  let held: ModelWeights | undefined = initial.weights;
  let reading: Promise<ModelWeights> | undefined;
  let users = 0;
  const reload = async (): Promise<ModelWeights> => {
    const m = await read();
    if (JSON.stringify(m.config) !== expected.config)
      throw new Error(`model ${m.source} changed since the node started: its config differs from ${expected.config}`);
    if (m.digest !== expected.digest)
      throw new Error(`model ${m.source} changed since the node started: its weights differ (SHA-256 ${expected.digest} at startup)`);
    return m.weights;
  };
  return {
    async acquire() {
      let w = held;
      if (!w) {
        reading ??= reload().finally(() => {
          reading = undefined;
        });
        w = await reading;
        // A release while this caller waited may have dropped the copy: hold this one again.
        held = w;
      }
      users += 1;
      return w;
    },
    release() {
      if (users === 0) throw new Error('OwnerWeights.release: no session holds the weights');
      users -= 1;
      if (users === 0) held = undefined;
    },
    get held() {
      return held !== undefined;
    },
  };
}

/** SHA-256 (hex) over every tensor of the weights, in the loader's order: path, shape, values. */
export function weightsDigest(weights: ModelWeights): string {
  const h = createHash('sha256');
  hashValue(h, 'weights', weights);
  return h.digest('hex');
}

function hashValue(h: Hash, path: string, v: unknown): void {
  if (v instanceof Float32Array) {
    h.update(`${path}:${v.length}\n`).update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => hashValue(h, `${path}[${i}]`, x));
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) hashValue(h, `${path}.${k}`, x);
  } else {
    h.update(`${path}=${String(v)}\n`);
  }
}
