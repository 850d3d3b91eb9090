/**
 * Products with one secret value per row: x ⊙ y for x [rows, len] and y [rows] broadcast along
 * each row (a normalisation: softmax's exp by its row's reciprocal sum, a norm's centred row by
 * its inverse root), and a row's square whose masked opening that product reuses.
 *
 * Semi-honest mode, with the dealer's row triple (a [rows, len], b [rows], ab = a ⊙ b per row,
 * and aa = a ⊙ a for squares; material.ts RowTriple):
 *   {@link mulRows}:    open ε = x − a and δ = y − b in one round (δ is one element per row);
 *                       x ⊙ y = ab + ε ⊙ b + a ⊙ δ + ε ⊙ δ    (b, δ broadcast; ε ⊙ δ by party 0)
 *   {@link squareRows}: open ε = x − a;  x ⊙ x = aa + 2ε ⊙ a + ε ⊙ ε, and ε is kept:
 *   {@link mulMaskedRows}: later, for y known only then, open δ = y − b alone (rows elements)
 *                       and combine as mulRows does — x's mask serves both products.
 * An elementwise Beaver product would mask y once per element (its triple's b is [rows, len]),
 * and a square followed by a product would open x twice.
 * Malicious mode (no sacrificed row triples): the elementwise Beaver product and square of
 * beaver.ts with y broadcast, MACed and sacrificed; the same results.
 *
 * Reveals: ε and δ, masked by the triple's uniform a and b; a and b are each used for one
 * opening (ε once, even when it serves two products). Cost: one round each; bytes per party
 * (n − 1)·(rows·len + rows)·8 for mulRows, (n − 1)·rows·len·8 for squareRows and (n − 1)·rows·8
 * for mulMaskedRows, against 2·rows·len·8 for a Beaver product with y broadcast; malicious mode
 * as beaver.ts. Dealt: (2 or 3)·rows·len + rows ring elements.
 * Citation: Beaver, CRYPTO 1991; a mask reused across products of one operand as in matrix
 * triples (Mohassel & Zhang, SecureML, S&P 2017) and the fixed operands of fixed-operand.ts.
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { RowTriple } from '../preprocessing/material.ts';
import { mul, mulBytes, square, squareBytes } from './beaver.ts';
import type { PartyContext } from './context.ts';
import { open, openBytes } from './open.ts';

/** Do row products use the dealer's row triples (semi-honest mode) rather than broadcast Beaver products? */
export function rowTriplesUsed(ctx: Pick<PartyContext, 'mode'>): boolean {
  return ctx.mode === 'semi-honest';
}

/** Bytes one party sends for {@link mulRows} on [rows, len]. */
export function mulRowsBytes(ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>, rows: number, len: number): number {
  return rowTriplesUsed(ctx) ? openBytes(ctx, rows * len + rows) : mulBytes(ctx, rows * len);
}

/** Bytes one party sends for {@link squareRows} and then {@link mulMaskedRows} on [rows, len]. */
export function squareThenMulRowsBytes(ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>, rows: number, len: number): number {
  return rowTriplesUsed(ctx) ? openBytes(ctx, rows * len + rows) : squareBytes(ctx, rows * len) + mulBytes(ctx, rows * len);
}

/** y [rows] repeated along a new last axis → [rows, len] (local: a product with a public all-ones row). */
export function broadcastRows(ctx: PartyContext, y: SecretTensor, rows: number, len: number): SecretTensor {
  return L.matmulSP(L.reshapeS(y, [rows, 1]), T.fill(ctx.ring, [1, len], 1n));
}

/** v [rows] (public) repeated along a new last axis → [rows, len]. */
export function broadcastPublic(ctx: Pick<PartyContext, 'ring'>, v: RingTensor, rows: number, len: number): RingTensor {
  return T.matmul(T.reshape(v, [rows, 1]), T.fill(ctx.ring, [1, len], 1n));
}

function checkShapes(x: SecretTensor, rows: number, len: number, y?: SecretTensor): void {
  if (T.sizeOf(x.shape) !== rows * len) throw new RangeError(`row product: x has ${T.sizeOf(x.shape)} elements, expected ${rows}·${len}`);
  if (y && T.sizeOf(y.shape) !== rows)
    throw new RangeError(`row product: y has ${T.sizeOf(y.shape)} elements, expected one per row (${rows})`);
}

/** ab + ε ⊙ b + a ⊙ δ + ε ⊙ δ with b and δ broadcast along the rows (shape [rows, len]). */
function combine(ctx: PartyContext, t: RowTriple, eps: RingTensor, del: RingTensor, rows: number, len: number): SecretTensor {
  const wideDel = broadcastPublic(ctx, del, rows, len);
  const z = L.addSS(t.ab, L.addSS(L.mulSP(broadcastRows(ctx, t.b, rows, len), eps), L.mulSP(t.a, wideDel)));
  return L.addSP(ctx, z, T.mul(eps, wideDel));
}

/** x ⊙ y with y [rows] broadcast along the rows of x [rows, len] (shape of x kept). */
export async function mulRows(ctx: PartyContext, x: SecretTensor, y: SecretTensor, rows: number, len: number): Promise<SecretTensor> {
  checkShapes(x, rows, len, y);
  if (!rowTriplesUsed(ctx)) return L.reshapeS(await mul(ctx, L.reshapeS(x, [rows, len]), broadcastRows(ctx, y, rows, len)), x.shape);
  const t = await ctx.material.rowTriple(rows, len, false);
  const [eps, del] = await open(ctx, [L.subSS(L.reshapeS(x, [rows, len]), t.a), L.subSS(L.reshapeS(y, [rows]), t.b)]);
  return L.reshapeS(combine(ctx, t, T.reshape(eps, [rows, len]), del, rows, len), x.shape);
}

/** x [rows, len] after {@link squareRows}: its mask and masked opening (semi-honest), for {@link mulMaskedRows}. */
export interface MaskedRows {
  readonly x: SecretTensor;
  readonly rows: number;
  readonly len: number;
  /** Semi-honest: the triple and ε; `used` once {@link mulMaskedRows} has opened y − b (b masks one opening only). */
  readonly masked: { readonly t: RowTriple; readonly eps: RingTensor; used: boolean } | undefined;
}

/** x ⊙ x (shape of x kept), and x's masked opening for one later {@link mulMaskedRows}. */
export async function squareRows(
  ctx: PartyContext,
  x: SecretTensor,
  rows: number,
  len: number,
): Promise<{ square: SecretTensor; rowsMasked: MaskedRows }> {
  checkShapes(x, rows, len);
  if (!rowTriplesUsed(ctx)) return { square: await square(ctx, x), rowsMasked: { x, rows, len, masked: undefined } };
  const t = await ctx.material.rowTriple(rows, len, true);
  if (!t.aa) throw new RangeError('squareRows: the row triple came without squares');
  const [opened] = await open(ctx, [L.subSS(L.reshapeS(x, [rows, len]), t.a)]);
  const eps = T.reshape(opened, [rows, len]);
  const sq = L.addSP(ctx, L.addSS(t.aa, L.mulSP(t.a, T.mulScalar(eps, 2n))), T.mul(eps, eps));
  return { square: L.reshapeS(sq, x.shape), rowsMasked: { x, rows, len, masked: { t, eps, used: false } } };
}

/** x ⊙ y for the x of {@link squareRows} and y [rows] broadcast along its rows: opens y's mask only. */
export async function mulMaskedRows(ctx: PartyContext, m: MaskedRows, y: SecretTensor): Promise<SecretTensor> {
  const { x, rows, len, masked } = m;
  checkShapes(x, rows, len, y);
  if (!masked) return L.reshapeS(await mul(ctx, L.reshapeS(x, [rows, len]), broadcastRows(ctx, y, rows, len)), x.shape);
  if (masked.used) throw new RangeError('mulMaskedRows: this mask has served its product (a second opening with b would reveal y₁ − y₂)');
  masked.used = true;
  const [del] = await open(ctx, [L.subSS(L.reshapeS(y, [rows]), masked.t.b)]);
  return L.reshapeS(combine(ctx, masked.t, masked.eps, del, rows, len), x.shape);
}
