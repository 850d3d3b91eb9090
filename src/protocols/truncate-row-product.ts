/**
 * Dealer truncation whose output is later multiplied by one secret value per row, without
 * opening the output again (semi-honest mode, Z_2^64): softmax's exp values times their row's
 * reciprocal sum (approx/softmax.ts).
 *
 * The dealer truncation by k of x [rows, len] (truncate.ts) opens c = x + 2^62 + r and returns
 *   y = P + N,  P public,  N = Q ⊙ [rMsb] − [rHigh],  Q = (1 − 2·c_63)·2^(63−k) public
 * (truncate.ts truncationParts). A public 0/1 mask M (causal attention) keeps that form:
 * M ⊙ y = M⊙P + (M⊙Q) ⊙ [rMsb] − M ⊙ [rHigh]; in general y = P + Q ⊙ [rMsb] + H ⊙ [rHigh]
 * with public P, Q, H (H = −1 before any mask).
 * With the dealer's row mask b [rows] and the products rMsb ⊙ b, rHigh ⊙ b (b broadcast along
 * each row; `truncRow` material, material.ts TruncRowMasks), a later product with v [rows]
 * opens only δ = v − b, one element per row, and is local otherwise:
 *   y ⊙ v = y ⊙ δ + y ⊙ b
 *         = P⊙δ + (Q⊙δ) ⊙ [rMsb] + (H⊙δ) ⊙ [rHigh] + P ⊙ [b] + Q ⊙ [rMsb⊙b] + H ⊙ [rHigh⊙b]
 * (δ and [b] broadcast along the rows; P⊙δ enters party 0's share). This is Beaver's product
 * (CRYPTO 1991) with the truncation's public P in place of the first factor's masked opening, as
 * truncate-square.ts does for squares and row-product.ts for rows; every term is computed mod
 * 2^64, so the product is that of y's ring element (exact whenever it fits the ring).
 * Steps: 1. open c (the truncation's one round; y is available at once); 2. later, open δ
 * (one round, rows elements) and combine locally.
 * Reveals: c, uniform over the ring (the truncation's own opening), and δ, masked by the fresh
 * uniform b, which masks this one opening only (a second product with the same y is refused).
 * Cost: 1 round and (n−1)·rows·len·8 bytes for the truncation, 1 round and (n−1)·rows·8 bytes
 * for the product; dealt 5·rows·len + rows ring elements. A truncation followed by a row product
 * (row-product.ts mulRows) costs the same dealt elements, but opens y again: one more round in
 * the chain and (n−1)·rows·len·8 more bytes.
 * Malicious mode, 'local' truncation or Z_2^128: the plain truncation now and mulRows later
 * (the dealt products are not sacrificed), the same results.
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { TruncRowMasks } from '../preprocessing/material.ts';
import type { PartyContext } from './context.ts';
import { open } from './open.ts';
import { broadcastPublic, broadcastRows, mulRows } from './row-product.ts';
import { openTruncation, truncate, truncationParts } from './truncate.ts';

/** A truncated x [rows, len], ready for one product with a value per row ({@link mulTruncatedRows}). */
export interface TruncatedRows {
  /** ⌊x/2^shift⌋ + {0, 1} (times the mask, after {@link maskTruncatedRows}), shape of x. */
  readonly value: SecretTensor;
  readonly rows: number;
  readonly len: number;
  /** Semi-honest dealer truncation: the public coefficients on the dealt masks; `used` once multiplied. */
  readonly form:
    | { readonly m: TruncRowMasks; readonly p: RingTensor; readonly q: RingTensor; readonly h: RingTensor | undefined; used: boolean }
    | undefined;
}

/** Does {@link truncateForRows} keep the form for a product without reopening (semi-honest, dealer truncation, Z_2^64)? */
export function truncatesForRows(ctx: Pick<PartyContext, 'mode' | 'truncation' | 'ring'>): boolean {
  return ctx.mode === 'semi-honest' && ctx.truncation === 'dealer' && ctx.ring.limbs === 1;
}

/** Largest shift: the offset 2^(62 − k) must be an integer (as truncate-square.ts). */
export const MAX_ROW_TRUNC_SHIFT = 62;

function checkRows(x: SecretTensor, rows: number, len: number): void {
  if (!(Number.isInteger(rows) && rows >= 1 && Number.isInteger(len) && len >= 1) || T.sizeOf(x.shape) !== rows * len)
    throw new RangeError(`truncateForRows: x has ${T.sizeOf(x.shape)} elements, expected rows·len = ${rows}·${len} (positive integers)`);
}

/** y = ⌊x/2^shift⌋ + {0, 1} for x [rows, len] (|x| < 2^62), with what one later product by a value per row needs. */
export async function truncateForRows(
  ctx: PartyContext,
  x: SecretTensor,
  shift: number,
  rows: number,
  len: number,
): Promise<TruncatedRows> {
  checkRows(x, rows, len);
  if (!Number.isInteger(shift) || shift < 1 || shift > MAX_ROW_TRUNC_SHIFT)
    throw new RangeError(`truncateForRows: shift must be an integer in [1, ${MAX_ROW_TRUNC_SHIFT}], got ${shift}`);
  if (!truncatesForRows(ctx)) return { value: await truncate(ctx, x, shift), rows, len, form: undefined };
  const m = await ctx.material.truncRowMasks(rows, len, shift);
  const size = rows * len;
  const flat = (t: SecretTensor): SecretTensor => L.reshapeS(t, [size]);
  const c = await openTruncation(ctx, flat(x), flat(m.r));
  const { p, q, n } = truncationParts(c, { rHigh: flat(m.rHigh), rMsb: flat(m.rMsb) }, shift);
  return { value: L.reshapeS(L.addSP(ctx, n, p), x.shape), rows, len, form: { m, p, q, h: undefined, used: false } };
}

/** t with every element multiplied by a public 0/1 (or any public) mask of its size, e.g. a causal mask. */
export function maskTruncatedRows(t: TruncatedRows, mask: RingTensor): TruncatedRows {
  if (T.sizeOf(mask.shape) !== t.rows * t.len)
    throw new RangeError(`maskTruncatedRows: mask has ${T.sizeOf(mask.shape)} elements, expected ${t.rows * t.len}`);
  const flatMask = T.reshape(mask, [t.rows * t.len]);
  const value = L.reshapeS(L.mulSP(L.reshapeS(t.value, [t.rows * t.len]), flatMask), t.value.shape);
  if (!t.form) return { ...t, value };
  const { m, p, q, h, used } = t.form;
  if (used) throw new RangeError('maskTruncatedRows: this truncation has served its product');
  // H = −1 before the first mask: −M.
  const masked = { m, p: T.mul(p, flatMask), q: T.mul(q, flatMask), h: h ? T.mul(h, flatMask) : T.neg(flatMask), used: false };
  return { ...t, value, form: masked };
}

/** y ⊙ v for the y of {@link truncateForRows} and v [rows] broadcast along its rows: opens v's mask only. */
export async function mulTruncatedRows(ctx: PartyContext, t: TruncatedRows, v: SecretTensor): Promise<SecretTensor> {
  const { rows, len, form } = t;
  if (T.sizeOf(v.shape) !== rows)
    throw new RangeError(`mulTruncatedRows: v has ${T.sizeOf(v.shape)} elements, expected one per row (${rows})`);
  if (!form) return mulRows(ctx, t.value, v, rows, len);
  if (form.used)
    throw new RangeError('mulTruncatedRows: this truncation has served its product (a second opening with b would reveal v₁ − v₂)');
  form.used = true;
  const { m, p, q, h } = form;
  const size = rows * len;
  const [del] = await open(ctx, [L.subSS(L.reshapeS(v, [rows]), m.b)]);
  const wideDel = T.reshape(broadcastPublic(ctx, del, rows, len), [size]);
  const flat = (s: SecretTensor): SecretTensor => L.reshapeS(s, [size]);
  // (Q⊙δ)⊙rMsb + Q⊙(rMsb⊙b) + P⊙b, then the rHigh terms with H (−1 before any mask), then P⊙δ.
  let z = L.addSS(L.mulSP(flat(m.rMsb), T.mul(q, wideDel)), L.mulSP(flat(m.msbB), q));
  z = L.addSS(z, L.mulSP(flat(broadcastRows(ctx, m.b, rows, len)), p));
  const highTerms = L.addSS(L.mulSP(flat(m.rHigh), wideDel), flat(m.highB));
  z = h ? L.addSS(z, L.mulSP(highTerms, h)) : L.subSS(z, highTerms);
  return L.reshapeS(L.addSP(ctx, z, T.mul(p, wideDel)), t.value.shape);
}
