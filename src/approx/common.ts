/**
 * Small shared pieces of the approximation layer: the comparison round count, local row
 * operations on [rows, len] secret tensors (row sums and broadcasts, done as products with public
 * all-ones matrices: 0 rounds, exact, MACs follow linearly), and a constant multiplication with a
 * more precise constant than mulConstFx.
 */
import { ltzRounds as compareRounds } from '../protocols/compare.ts';
import type { PartyContext } from '../protocols/context.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { truncate } from '../protocols/truncate.ts';

/** Rounds of one batched ltz / nonNegative call with ℓ = ctx.compareBits (protocols/compare.ts). */
export function ltzRounds(ctx: Pick<PartyContext, 'compareBits' | 'mode'>): number {
  return compareRounds(ctx.mode, ctx.compareBits);
}

/** Row sums of x [rows, len] → [rows] (ring sums: scale unchanged). */
export function rowSums(ctx: PartyContext, x: SecretTensor, rows: number, len: number): SecretTensor {
  return L.reshapeS(L.matmulSP(L.reshapeS(x, [rows, len]), T.fill(ctx.ring, [len, 1], 1n)), [rows]);
}

/** Repeats each element of v [rows] along a new last axis: → [rows, len] (the row products' broadcast). */
export { broadcastRows } from '../protocols/row-product.ts';

/** Rows and row length of a tensor whose last axis is the reduction axis. */
export function rowsOf(shape: readonly number[]): { rows: number; len: number } {
  const len = shape[shape.length - 1];
  return { rows: T.sizeOf(shape) / len, len };
}

/**
 * c·x for a public real c, with c carried at f + extra bits (mulConstFx encodes c at scale f,
 * which for c = 1/768 is off by 0.4 %): x·round(c·2^(f+extra)) truncated by f + extra; exactly a
 * shift when c is a power of two. One truncation. Magnitude of the product: |c·x|·2^(2f+extra).
 */
export async function mulConstPrecise(ctx: PartyContext, x: SecretTensor, c: number, extra = 8): Promise<SecretTensor> {
  const k = -Math.log2(c);
  if (Number.isInteger(k) && k > 0) return truncate(ctx, x, k);
  const bits = ctx.scaleBits + extra;
  return truncate(ctx, L.mulScalarS(x, BigInt(Math.round(c * 2 ** bits))), bits);
}
