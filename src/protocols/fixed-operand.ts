/**
 * Fixed-operand matrix multiplication: a secret matrix W used in many products (a weight
 * matrix, every decode step) is masked once with a dealer mask B and opened once as D = W − B;
 * each product X·W then opens only E = X − A:
 *
 *   setup (once per W): open D = W − B                       1 round, (n−1)·k·n·B_r bytes
 *   per product, triple (A, C = A·B):  open E = X − A;
 *     X·W = E·D + E·[B] + [A]·D + [C]                         1 round, (n−1)·m·k·B_r bytes
 *
 * (B_r = 8 or 16 bytes per ring element.) Reusing B is safe because D is opened once and every
 * product uses a fresh A (the same argument as for SPDZ's "global" matrix triples; cf. Mohassel
 * & Zhang, SecureML, S&P 2017, §4.1 on reusing masks of a fixed operand).
 * Malicious mode: a second triple (F, H = F·B) for the same B is sacrificed (shared-B variant):
 * open ρ = t·A − F with E; the residue t·C − H − ρ·B must be 0 (queued for the MAC check).
 * Bytes per product double in malicious mode.
 * Reveals: D (uniform, since B is uniform and used for W only) and E (masked by fresh A).
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { nextChallenge, type PartyContext } from './context.ts';
import { open } from './open.ts';

export interface FixedOperand {
  readonly id: string;
  /** [k, n] */
  readonly shape: readonly [number, number];
  /** Public D = W − B. */
  readonly opened: RingTensor;
  /** This party's share of the mask B. */
  readonly mask: SecretTensor;
}

export const fixedSetupBytes = (ctx: Pick<PartyContext, 'n' | 'ring'>, k: number, n: number): number => (ctx.n - 1) * k * n * ctx.ring.bytes;
export const fixedMatmulBytes = (ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>, m: number, k: number): number =>
  (ctx.n - 1) * m * k * ctx.ring.bytes * (ctx.mode === 'malicious' ? 2 : 1);

/** Prepares several fixed operands in one round. `ids` must be unique within the session. */
export async function prepareFixed(ctx: PartyContext, items: readonly { id: string; w: SecretTensor }[]): Promise<FixedOperand[]> {
  const masks = await Promise.all(items.map(({ id, w }) => ctx.material.fixedMask(id, w.shape[0], w.shape[1])));
  const opened = await open(ctx, items.map(({ w }, i) => L.subSS(w, masks[i])));
  return items.map(({ id, w }, i) => ({ id, shape: [w.shape[0], w.shape[1]], opened: opened[i], mask: masks[i] }));
}

/** X·W for X [.., m, k] and a prepared fixed operand W [k, n]. */
export async function fixedMatmul(ctx: PartyContext, x: SecretTensor, w: FixedOperand): Promise<SecretTensor> {
  const [k, n] = w.shape;
  const m = T.sizeOf(x.shape) / k;
  const { a, c } = await ctx.material.fixedTriple(w.id, m);
  const masked = L.subSS(L.reshapeS(x, [m, k]), a);
  let e: RingTensor;
  if (ctx.mode !== 'malicious') {
    [e] = await open(ctx, [masked]);
  } else {
    const check = await ctx.material.fixedTriple(w.id, m);
    const t = nextChallenge(ctx);
    let rho: RingTensor;
    [e, rho] = await open(ctx, [masked, L.subSS(L.mulScalarS(a, t), check.a)]);
    ctx.checks.zeros.push(L.subSS(L.subSS(L.mulScalarS(c, t), check.c), L.matmulPS(rho, w.mask)));
  }
  // X·W = E·D + E·B + A·D + C
  const z = L.addSS(c, L.addSS(L.matmulPS(e, w.mask), L.matmulSP(a, w.opened)));
  return L.reshapeS(L.addSP(ctx, z, T.matmul(e, w.opened)), [...x.shape.slice(0, -1), n]);
}
