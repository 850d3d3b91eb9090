/**
 * Selection, maximum and argmax built from ltz and Beaver products.
 *
 * select(b, x, y) = y + b⊙(x − y) for a shared bit b: 1 round, mulBytes(size).
 * max / argmax over the last axis: a tournament tree. Each level compares pairs (a, b) with
 * d = ltz(a − b) and keeps a + d⊙(b − a) (ties keep the lower index). The index of the winner is
 * carried along: in the first level indices are public, so i_a + d·(i_b − i_a) is local; later
 * levels select the (secret) index in the same product round as the value. `max` carries no
 * index: one product per pair instead of two (softmax needs only the value).
 * Semi-honest mode (Z_2^64) folds the value's select into the comparison: max(a, b) =
 * b + relu(a − b) (compare.ts relu: the product comes from the dealer's r·part material, no
 * round); only argmax's secret index (levels after the first) still takes one product round.
 * Cost per level: ltz (compare.ts ltzRounds: 4 rounds semi-honest, 7 malicious at ℓ = 40) + 1
 * product round (malicious; semi-honest: argmax levels after the first only); ⌈log2 len⌉ levels.
 * `max` may compare coarsely (compare.ts, `low` = k > 0: 3 rounds per level in semi-honest mode,
 * 6 in malicious mode at ℓ = 40, k = 12): a level then keeps the smaller of two candidates within
 * 2^k of each other, so the result is one of the row's values and at least the true maximum
 * minus ⌈log2 len⌉·2^k (softmax.ts only needs the max within a bound; argmax stays exact).
 * Reveals: nothing beyond the Beaver-masked values of its sub-protocols.
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { mul } from './beaver.ts';
import { ltz, ltzCost, relu, reluFolds } from './compare.ts';
import type { PartyContext } from './context.ts';
import { mulBytes } from './beaver.ts';

/** b ? x : y for a shared bit b (0/1 ring integer). */
export async function select(ctx: PartyContext, b: SecretTensor, x: SecretTensor, y: SecretTensor): Promise<SecretTensor> {
  return L.addSS(y, await mul(ctx, b, L.subSS(x, y)));
}

export interface MaxResult {
  /** Shape [rows]. */
  readonly max: SecretTensor;
  /** Shape [rows]; index along the last axis as a ring integer. */
  readonly index: SecretTensor;
}

/** Documented cost of {@link argmax} on [rows, len]. */
export function argmaxCost(
  ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>,
  rows: number,
  len: number,
  bits: number,
): { rounds: number; bytes: number } {
  return tournamentCost(ctx, rows, len, bits, true);
}

/** Documented cost of {@link max} on [rows, len]: the rounds of argmax, one product per pair. */
export function maxCost(
  ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>,
  rows: number,
  len: number,
  bits: number,
  low = 0,
): { rounds: number; bytes: number } {
  return tournamentCost(ctx, rows, len, bits, false, low);
}

function tournamentCost(
  ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>,
  rows: number,
  len: number,
  bits: number,
  withIndex: boolean,
  low = 0,
): { rounds: number; bytes: number } {
  let rounds = 0;
  let bytes = 0;
  let first = true;
  for (let width = len; width > 1; width = Math.ceil(width / 2)) {
    const pairs = Math.floor(width / 2) * rows;
    const c = ltzCost(ctx, pairs, bits, low);
    // Folded: the value's select is free (relu); a secret index still takes one product round.
    const products = reluFolds(ctx) ? (withIndex && !first ? 1 : 0) : first || !withIndex ? 1 : 2;
    rounds += c.rounds + (products > 0 ? 1 : 0);
    bytes += c.bytes + (products > 0 ? mulBytes(ctx, pairs * products) : 0);
    first = false;
  }
  return { rounds, bytes };
}

/** Max and argmax along the last axis of x [rows, len] (or [len]). Values need |a − b| < 2^ℓ. */
export async function argmax(ctx: PartyContext, x: SecretTensor, bits = ctx.compareBits): Promise<MaxResult> {
  const r = await tournament(ctx, x, bits, true);
  return { max: r.max, index: r.index as SecretTensor };
}

/**
 * Max along the last axis (the tournament of {@link argmax} without the index; cost
 * {@link maxCost}). With low = k > 0 the comparisons are coarse: the result is one of the row's
 * values, at least the row maximum − ⌈log2 len⌉·2^k; values need |a − b| < 2^bits − 2^k.
 */
export async function max(ctx: PartyContext, x: SecretTensor, bits = ctx.compareBits, low = 0): Promise<SecretTensor> {
  return (await tournament(ctx, x, bits, false, low)).max;
}

async function tournament(
  ctx: PartyContext,
  x: SecretTensor,
  bits: number,
  withIndex: boolean,
  low = 0,
): Promise<{ max: SecretTensor; index: SecretTensor | undefined }> {
  const len = x.shape[x.shape.length - 1];
  const rows = T.sizeOf(x.shape) / len;
  // Candidate-major: element j·rows + r is candidate j of row r. Adjacent candidates are paired,
  // so the lower index is always on the `lo` side and ties keep it.
  let values = rows === 1 ? L.reshapeS(x, [len]) : L.gatherS(x, candidateMajor(rows, len), [len * rows]);
  let width = len;
  let indices: SecretTensor | undefined; // undefined: still the public 0..width−1
  while (width > 1) {
    const pairs = Math.floor(width / 2);
    const lo = L.gatherS(values, pairIndex(pairs, rows, 0), [pairs * rows]);
    const hi = L.gatherS(values, pairIndex(pairs, rows, 1), [pairs * rows]);
    // The secret indices of the pair's candidates (levels after argmax's first).
    const idxLo = withIndex && indices ? L.gatherS(indices, pairIndex(pairs, rows, 0), [pairs * rows]) : undefined;
    const idxDiff = idxLo && indices ? L.subSS(L.gatherS(indices, pairIndex(pairs, rows, 1), [pairs * rows]), idxLo) : undefined;
    let newVals: SecretTensor;
    let newIdx: SecretTensor | undefined;
    if (reluFolds(ctx)) {
      // max(lo, hi) = hi + max(lo − hi, 0) from the comparison's own material (no product round).
      const { geq, relu: above } = await relu(ctx, L.subSS(lo, hi), bits, low); // geq = [lo ≥ hi]
      newVals = L.addSS(hi, above);
      const d = L.subPS(ctx, T.fill(ctx.ring, geq.shape, 1n), geq); // d = [lo < hi]
      if (idxLo && idxDiff) newIdx = L.addSS(idxLo, await mul(ctx, d, idxDiff));
      else if (withIndex) newIdx = L.addSP(ctx, d, firstLevelBase(ctx, pairs, rows));
    } else {
      const d = await ltz(ctx, L.subSS(lo, hi), bits, low); // d = [lo < hi]
      const diff = L.subSS(hi, lo);
      if (idxLo && idxDiff) {
        // The value and the secret index in one product round.
        const [dv, di] = L.splitS(await mul(ctx, L.concatS([d, d]), L.concatS([diff, idxDiff])), [[pairs * rows], [pairs * rows]]);
        newVals = L.addSS(lo, dv);
        newIdx = L.addSS(idxLo, di);
      } else {
        newVals = L.addSS(lo, await mul(ctx, d, diff));
        // Public indices 2p and 2p + 1: index = 2p + d.
        if (withIndex) newIdx = L.addSP(ctx, d, firstLevelBase(ctx, pairs, rows));
      }
    }
    if (width % 2 === 1) {
      const last = L.sliceS(values, (width - 1) * rows, width * rows);
      newVals = L.concatS([newVals, last]);
      if (newIdx)
        newIdx = L.concatS([newIdx, indices ? L.sliceS(indices, (width - 1) * rows, width * rows) : publicIndex(ctx, rows, width - 1)]);
    }
    values = newVals;
    indices = newIdx;
    width = Math.ceil(width / 2);
  }
  return { max: values, index: withIndex ? (indices ?? publicIndex(ctx, rows, 0)) : undefined };
}

/** The public index 2p of pair p's lower candidate, candidate-major [pairs·rows]. */
function firstLevelBase(ctx: PartyContext, pairs: number, rows: number): RingTensor {
  const base = T.zeros(ctx.ring, [pairs * rows]);
  for (let p = 0; p < pairs; p++) base.data.fill(BigInt(2 * p), p * rows * ctx.ring.limbs, (p + 1) * rows * ctx.ring.limbs);
  if (ctx.ring.limbs === 2) for (let i = 1; i < base.data.length; i += 2) base.data[i] = 0n;
  return base;
}

/** index[j·rows + r] = r·len + j: row-major [rows, len] to candidate-major. */
function candidateMajor(rows: number, len: number): Int32Array {
  const idx = new Int32Array(rows * len);
  for (let j = 0; j < len; j++) for (let r = 0; r < rows; r++) idx[j * rows + r] = r * len + j;
  return idx;
}

/** Positions of candidates 2p + side (p < pairs) in a candidate-major tensor. */
function pairIndex(pairs: number, rows: number, side: 0 | 1): Int32Array {
  const idx = new Int32Array(pairs * rows);
  for (let p = 0; p < pairs; p++) for (let r = 0; r < rows; r++) idx[p * rows + r] = (2 * p + side) * rows + r;
  return idx;
}

function publicIndex(ctx: PartyContext, rows: number, j: number): SecretTensor {
  return L.publicAsShared(ctx, T.fill(ctx.ring, [rows], BigInt(j)));
}
