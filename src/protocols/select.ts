/**
 * Selection, maximum and argmax built from ltz and Beaver products.
 *
 * select(b, x, y) = y + b⊙(x − y) for a shared bit b: 1 round, mulBytes(size).
 * max / argmax over the last axis: a tournament tree. Each level compares pairs (a, b) with
 * d = ltz(a − b) and keeps a + d⊙(b − a) (ties keep the lower index). The index of the winner is
 * carried along: in the first level indices are public, so i_a + d·(i_b − i_a) is local; later
 * levels select the (secret) index in the same product round as the value.
 * Cost per level: ltz (1 + ⌈log2 ℓ⌉ rounds; one more in semi-honest mode, see compare.ts) + 1 round; ⌈log2 len⌉ levels.
 * Reveals: nothing beyond the Beaver-masked values of its sub-protocols.
 */
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { mul } from './beaver.ts';
import { ltz, ltzCost } from './compare.ts';
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
  let rounds = 0;
  let bytes = 0;
  let first = true;
  for (let width = len; width > 1; width = Math.ceil(width / 2)) {
    const pairs = Math.floor(width / 2) * rows;
    const c = ltzCost(ctx, pairs, bits);
    rounds += c.rounds + 1;
    bytes += c.bytes + mulBytes(ctx, pairs * (first ? 1 : 2));
    first = false;
  }
  return { rounds, bytes };
}

/** Max and argmax along the last axis of x [rows, len] (or [len]). Values need |a − b| < 2^ℓ. */
export async function argmax(ctx: PartyContext, x: SecretTensor, bits = ctx.compareBits): Promise<MaxResult> {
  const len = x.shape[x.shape.length - 1];
  const rows = T.sizeOf(x.shape) / len;
  // columns[j]: the j-th candidate of every row, shape [rows].
  const flat = L.reshapeS(x, [rows, len]);
  let values = Array.from({ length: len }, (_, j) => column(flat, rows, len, j));
  let indices: (SecretTensor | bigint)[] = Array.from({ length: len }, (_, j) => BigInt(j));
  while (values.length > 1) {
    const pairs = Math.floor(values.length / 2);
    const lo = L.concatS(values.filter((_, i) => i % 2 === 0).slice(0, pairs));
    const hi = L.concatS(values.filter((_, i) => i % 2 === 1).slice(0, pairs));
    const diff = L.subSS(hi, lo);
    const d = await ltz(ctx, L.subSS(lo, hi), bits); // d = [lo < hi]
    const publicIdx = typeof indices[0] === 'bigint';
    let newVals: SecretTensor;
    let newIdx: SecretTensor;
    if (publicIdx) {
      newVals = L.addSS(lo, await mul(ctx, d, diff));
      const step = T.zeros(ctx.ring, [pairs * rows]);
      for (let p = 0; p < pairs; p++) {
        const delta = (indices[2 * p + 1] as bigint) - (indices[2 * p] as bigint);
        for (let r = 0; r < rows; r++) T.setElement(step, p * rows + r, delta);
      }
      const base = T.zeros(ctx.ring, [pairs * rows]);
      for (let p = 0; p < pairs; p++) for (let r = 0; r < rows; r++) T.setElement(base, p * rows + r, indices[2 * p] as bigint);
      newIdx = L.addSP(ctx, L.mulSP(d, step), base);
    } else {
      const idxLo = L.concatS(indices.filter((_, i) => i % 2 === 0).slice(0, pairs) as SecretTensor[]);
      const idxHi = L.concatS(indices.filter((_, i) => i % 2 === 1).slice(0, pairs) as SecretTensor[]);
      const prod = await mul(ctx, L.concatS([d, d]), L.concatS([diff, L.subSS(idxHi, idxLo)]));
      const [dv, di] = L.splitS(prod, [[pairs * rows], [pairs * rows]]);
      newVals = L.addSS(lo, dv);
      newIdx = L.addSS(idxLo, di);
    }
    const nextVals = L.splitS(
      newVals,
      Array.from({ length: pairs }, () => [rows]),
    );
    const nextIdx = L.splitS(
      newIdx,
      Array.from({ length: pairs }, () => [rows]),
    );
    if (values.length % 2 === 1) {
      nextVals.push(values[values.length - 1]);
      const lastIdx = indices[indices.length - 1];
      nextIdx.push(typeof lastIdx === 'bigint' ? L.publicAsShared(ctx, T.fill(ctx.ring, [rows], lastIdx)) : lastIdx);
    }
    values = nextVals;
    indices = nextIdx;
  }
  const index = indices[0];
  return { max: values[0], index: typeof index === 'bigint' ? L.publicAsShared(ctx, T.fill(ctx.ring, [rows], index)) : index };
}

/** Max along the last axis (computed by {@link argmax}; same cost). */
export async function max(ctx: PartyContext, x: SecretTensor, bits = ctx.compareBits): Promise<SecretTensor> {
  return (await argmax(ctx, x, bits)).max;
}

function column(x: SecretTensor, rows: number, len: number, j: number): SecretTensor {
  const l = x.share.ring.limbs;
  const pick = (t: T.RingTensor): T.RingTensor => {
    const out = T.zeros(t.ring, [rows]);
    for (let r = 0; r < rows; r++) for (let w = 0; w < l; w++) out.data[r * l + w] = t.data[(r * len + j) * l + w];
    return out;
  };
  return { shape: [rows], share: pick(x.share), mac: x.mac && pick(x.mac) };
}
