/**
 * Causal self-attention over a secret-shared KV cache, with grouped-query heads.
 *
 * The cache of each layer holds, per key/value head h, two growing fixed operands K_h, V_h
 * [positions, headDim] (protocols/fixed-operand.ts): a token's k and v rows are masked and
 * opened once when appended, and every later token multiplies against them opening only its own
 * masked query/probabilities. Per call (T new tokens at startPos, L = startPos + T positions):
 *
 *   1. append k_h, v_h rows for every kv head                    1 round (all heads)
 *   2. scores_h = Q_h · K_hᵀ  (Q_h = the G = nHeads/nKvHeads query heads of group h, stacked
 *      to [G·T, headDim]; 1/√headDim is folded into Wq)          1 round (all heads) + trunc
 *   3. P = softmax(scores) with the causal mask (row t sees positions ≤ startPos + t)
 *   4. out_h = P_h · V_h                                         1 round (all heads) + trunc
 *
 * Mirrors reference/attention.ts. Reveals nothing beyond its sub-protocols.
 */
import { softmax } from '../approx/softmax.ts';
import { phase, type PartyContext } from '../protocols/context.ts';
import {
  appendFixed,
  fixedMatmulBatch,
  requestAppendMasks,
  requestFixedMaterial,
  type FixedMaterial,
  type FixedOperand,
} from '../protocols/fixed-operand.ts';
import { truncateBatch } from '../protocols/truncate.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

export interface HeadSpec {
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
}

/** One layer's cache: K_h and V_h per kv head (undefined until the first token). */
export interface LayerCache {
  readonly id: string;
  keys: (FixedOperand | undefined)[];
  values: (FixedOperand | undefined)[];
  length: number;
}

export function emptyLayerCache(id: string, nKvHeads: number): LayerCache {
  return { id, keys: new Array(nKvHeads).fill(undefined), values: new Array(nKvHeads).fill(undefined), length: 0 };
}

/** Fixed-operand ids of head h's keys and values in a layer's cache. */
const keyId = (cache: LayerCache, h: number): string => `${cache.id}.k${h}`;
const valueId = (cache: LayerCache, h: number): string => `${cache.id}.v${h}`;

/** The dealer material of one {@link causalAttention} call, requested ahead ({@link requestAttentionMaterial}). */
export interface AttentionMaterial {
  readonly rows: number;
  readonly appendMasks: Promise<SecretTensor[]>;
  readonly scores: FixedMaterial;
  readonly values: FixedMaterial;
}

/**
 * Requests the dealer material of a later {@link causalAttention} call on `cache` with `rows` new
 * tokens: the KV rows' masks, then the triples of both products (which include those rows: the
 * dealer serves requests in order). Issued synchronously, so a decode step can request every
 * layer's material at its start and the dealer prepares it while the layers before run.
 */
export function requestAttentionMaterial(ctx: PartyContext, cache: LayerCache, rows: number, spec: HeadSpec): AttentionMaterial {
  const { nHeads, nKvHeads, headDim: hd } = spec;
  const heads = Array.from({ length: nKvHeads }, (_, h) => h);
  const appendMasks = requestAppendMasks(ctx, [
    ...heads.map((h) => ({ id: keyId(cache, h), rows, n: hd })),
    ...heads.map((h) => ({ id: valueId(cache, h), rows, n: hd })),
  ]);
  const m = (nHeads / nKvHeads) * rows;
  const scores = requestFixedMaterial(
    ctx,
    heads.map((h) => ({ id: keyId(cache, h), m, transposed: true })),
  );
  const values = requestFixedMaterial(
    ctx,
    heads.map((h) => ({ id: valueId(cache, h), m })),
  );
  return { rows, appendMasks, scores, values };
}

/** Columns [h·hd, (h+1)·hd) of x [T, width] as [T, hd]. */
function headColumns(x: SecretTensor, h: number, hd: number): SecretTensor {
  const [rows, width] = x.shape;
  const idx = new Int32Array(rows * hd);
  for (let t = 0; t < rows; t++) for (let j = 0; j < hd; j++) idx[t * hd + j] = t * width + h * hd + j;
  return L.gatherS(x, idx, [rows, hd]);
}

/** Query heads [h·G, (h+1)·G) of q [T, nHeads·hd] stacked as [G·T, hd] (head-major). */
function groupQueries(q: SecretTensor, h: number, group: number, hd: number): SecretTensor {
  const [rows, width] = q.shape;
  const idx = new Int32Array(group * rows * hd);
  for (let g = 0; g < group; g++) {
    for (let t = 0; t < rows; t++) for (let j = 0; j < hd; j++) idx[(g * rows + t) * hd + j] = t * width + (h * group + g) * hd + j;
  }
  return L.gatherS(q, idx, [group * rows, hd]);
}

/**
 * q [T, nHeads·hd], k and v [T, nKvHeads·hd] for positions startPos..; updates `cache`;
 * returns the attention output [T, nHeads·hd] (before Wo).
 */
export async function causalAttention(
  ctx: PartyContext,
  q: SecretTensor,
  k: SecretTensor,
  v: SecretTensor,
  cache: LayerCache,
  spec: HeadSpec,
  requested?: AttentionMaterial,
): Promise<SecretTensor> {
  const { nHeads, nKvHeads, headDim: hd } = spec;
  const group = nHeads / nKvHeads;
  const rows = q.shape[0];
  const startPos = cache.length;
  const total = startPos + rows;

  const heads = Array.from({ length: nKvHeads }, (_, h) => h);
  // The appends' masks and both products' triples: requested ahead by the caller, or here in
  // one batch (one dealer round trip per layer instead of three).
  if (requested && requested.rows !== rows)
    throw new Error(`causalAttention: material was requested for ${requested.rows} rows, the call has ${rows}`);
  const material = requested ?? requestAttentionMaterial(ctx, cache, rows, spec);
  const appended = await appendFixed(
    ctx,
    [
      ...heads.map((h) => ({ id: keyId(cache, h), operand: cache.keys[h], rows: headColumns(k, h, hd) })),
      ...heads.map((h) => ({ id: valueId(cache, h), operand: cache.values[h], rows: headColumns(v, h, hd) })),
    ],
    material.appendMasks,
  );
  cache.keys = appended.slice(0, nKvHeads);
  cache.values = appended.slice(nKvHeads);
  cache.length = total;

  const scores = await truncateBatch(
    ctx,
    await fixedMatmulBatch(
      ctx,
      heads.map((h) => ({ x: groupQueries(q, h, group, hd), w: cache.keys[h] as FixedOperand, transposed: true })),
      material.scores,
    ),
  );
  // Causal mask: the row of query token t (any head) sees positions ≤ startPos + t.
  const mask = new Uint8Array(nKvHeads * group * rows * total);
  for (let r = 0; r < nKvHeads * group * rows; r++) {
    const t = r % rows;
    for (let p = 0; p <= startPos + t; p++) mask[r * total + p] = 1;
  }
  const probs = await phase(ctx, 'attention.softmax', () =>
    softmax(ctx, L.reshapeS(L.concatS(scores), [nKvHeads * group * rows, total]), { mask }),
  );
  const perHead = L.splitS(
    probs,
    heads.map(() => [group * rows, total]),
  );
  const outs = await truncateBatch(
    ctx,
    await fixedMatmulBatch(
      ctx,
      heads.map((h) => ({ x: perHead[h], w: cache.values[h] as FixedOperand })),
      material.values,
    ),
  );
  // Back to [T, nHeads·hd]: head (h·G + g), token t ← outs[h][(g·T + t), :].
  const joined = L.concatS(outs);
  const idx = new Int32Array(rows * nHeads * hd);
  for (let t = 0; t < rows; t++) {
    for (let head = 0; head < nHeads; head++) {
      const h = Math.floor(head / group);
      const g = head % group;
      for (let j = 0; j < hd; j++) idx[t * nHeads * hd + head * hd + j] = h * group * rows * hd + (g * rows + t) * hd + j;
    }
  }
  return L.gatherS(joined, idx, [rows, nHeads * hd]);
}
