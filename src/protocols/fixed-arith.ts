/**
 * Fixed-point arithmetic on secret values: products followed by truncation by f = ctx.scaleBits,
 * and products with public real constants. Every result is within 1 LSB (2^−f) of the exact
 * fixed-point product (plus the encoding error of public constants, ≤ 2^−(f+1)·|x|).
 * Costs: mulFx / squareFx = the Beaver product + truncate; mulConstFx = truncate only.
 */
import { encodeScalar } from '../ring/fixed-point.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { mul, square } from './beaver.ts';
import type { PartyContext } from './context.ts';
import { truncate } from './truncate.ts';

/** x ⊙ y for fixed-point x, y. */
export async function mulFx(ctx: PartyContext, x: SecretTensor, y: SecretTensor): Promise<SecretTensor> {
  return truncate(ctx, await mul(ctx, x, y));
}

/** x ⊙ x for fixed-point x. */
export async function squareFx(ctx: PartyContext, x: SecretTensor): Promise<SecretTensor> {
  return truncate(ctx, await square(ctx, x));
}

/** c · x for a public real c. */
export async function mulConstFx(ctx: PartyContext, x: SecretTensor, c: number): Promise<SecretTensor> {
  return truncate(ctx, L.mulScalarS(x, encodeScalar(c, ctx.scaleBits)));
}

/** p ⊙ x for a public real tensor p (same shape, already encoded at ctx.scaleBits). */
export async function mulPublicFx(ctx: PartyContext, x: SecretTensor, p: RingTensor): Promise<SecretTensor> {
  return truncate(ctx, L.mulSP(x, p));
}

/** x + c for a public real c. */
export function addConstFx(ctx: PartyContext, x: SecretTensor, c: number): SecretTensor {
  return L.addScalarS(ctx, x, encodeScalar(c, ctx.scaleBits));
}

/** The public real c as a fixed-point ring scalar of this context. */
export function fx(ctx: PartyContext, c: number): bigint {
  return encodeScalar(c, ctx.scaleBits);
}

/** A public tensor of reals encoded at the context's scale. */
export function fxTensor(ctx: PartyContext, shape: readonly number[], values: ArrayLike<number>): RingTensor {
  const t = T.zeros(ctx.ring, shape);
  for (let i = 0; i < values.length; i++) T.setElement(t, i, encodeScalar(values[i], ctx.scaleBits));
  return t;
}
