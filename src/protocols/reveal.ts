/**
 * Output opening: reveals the meaningful low 64 bits of secret values to every party.
 *
 * Semi-honest: a plain batched open (1 round).
 * Malicious: the upper 64 bits of a Z_2^128 value are not uniform (they carry wrap-around of
 * earlier products), so they are masked first: open y = x + 2^64·ρ with a dealer random ρ, then
 * run the MAC check over everything opened so far, and only then return y mod 2^64
 * (SPDZ2k, eprint 2018/482, §3). Cost: 1 + macCheckRounds rounds.
 * Returns Z_2^64 tensors in both modes.
 */
import { Z64 } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { sizeOf, tensor } from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { PartyContext } from './context.ts';
import { macCheck } from './mac-check.ts';
import { open } from './open.ts';

export async function reveal(ctx: PartyContext, xs: readonly SecretTensor[]): Promise<RingTensor[]> {
  if (ctx.mode !== 'malicious') return open(ctx, xs);
  const rho = await ctx.material.randoms(xs.reduce((s, x) => s + sizeOf(x.shape), 0));
  let off = 0;
  const masked = xs.map((x) => {
    const size = sizeOf(x.shape);
    const r = L.reshapeS(L.sliceS(rho, off, off + size), x.shape);
    off += size;
    return L.addSS(x, L.mulScalarS(r, 1n << 64n));
  });
  const opened = await open(ctx, masked);
  await macCheck(ctx);
  return opened.map((t) => {
    const low = new BigUint64Array(sizeOf(t.shape));
    for (let i = 0; i < low.length; i++) low[i] = t.data[2 * i];
    return tensor(Z64, t.shape, low);
  });
}
