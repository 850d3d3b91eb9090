/**
 * Beaver multiplication of secret-shared tensors (Beaver, CRYPTO 1991), elementwise, matrix,
 * and squaring; with SPDZ-style sacrifice in malicious mode (Damgård, Pastro, Smart, Zakarias,
 * CRYPTO 2012; over Z_2^k as in SPDZ2k, Cramer et al. CRYPTO 2018, eprint 2018/482).
 *
 * Elementwise, triple (a, b, c = a⊙b):
 *   1. open ε = x − a, δ = y − b            (one batched round)
 *   2. z = c + ε⊙b + δ⊙a + ε⊙δ              (local; ε⊙δ added by party 0)
 * Matrix, triple (A, B, C = A·B):  open E = X − A, D = Y − B;  Z = C + E·B + A·D + E·D.
 * Square, pair (a, aa = a⊙a):      open ε = x − a;  x⊙x = aa + 2ε⊙a + ε⊙ε.
 *
 * Malicious mode adds a second triple (f, g, h) and a public challenge t (session coin), opened
 * in the SAME round: ρ = t·a − f, σ = b − g. The residue
 *   w = t·c − h − σ⊙f − ρ⊙g − σ⊙ρ      (matrix: t·C − H − ρ·G − F·σ − ρ·σ)
 * is 0 iff both triples are correct (except with probability ≈ 2^−64 over t); it is queued in
 * ctx.checks.zeros and opened at the next MAC check, before anything is output.
 *
 * Reveals: only values masked by fresh uniform triple components (ε, δ, ρ, σ).
 * Cost: 1 round. Bytes sent per party, elementwise: (n−1)·2·size·B semi-honest, 4·size·B
 * malicious (B = 8 or 16 bytes); matrix: (n−1)·(mk + kn)·B, doubled in malicious mode; square:
 * half of the elementwise figures.
 */
import type { RingTensor } from '../ring/tensor.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { nextChallenge, type PartyContext } from './context.ts';
import { open } from './open.ts';

export const MUL_ROUNDS = 1;

/** Bytes one party sends for `mul` of `size` elements. */
export function mulBytes(ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>, size: number): number {
  return (ctx.n - 1) * size * ctx.ring.bytes * (ctx.mode === 'malicious' ? 4 : 2);
}

/** Bytes one party sends for `matmul` of [m,k]·[k,n]. */
export function matmulBytes(ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>, m: number, k: number, n: number): number {
  return (ctx.n - 1) * (m * k + k * n) * ctx.ring.bytes * (ctx.mode === 'malicious' ? 2 : 1);
}

/** Bytes one party sends for `square` of `size` elements. */
export function squareBytes(ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>, size: number): number {
  return mulBytes(ctx, size) / 2;
}

/** Elementwise x ⊙ y (ring product; no fixed-point truncation). Shapes must match. */
export async function mul(ctx: PartyContext, x: SecretTensor, y: SecretTensor): Promise<SecretTensor> {
  const size = T.sizeOf(x.shape);
  const flat = (s: SecretTensor): SecretTensor => L.reshapeS(s, [size]);
  const { a, b, c } = await ctx.material.triples(size);
  const masked = [L.subSS(flat(x), a), L.subSS(flat(y), b)];
  if (ctx.mode !== 'malicious') {
    const [eps, del] = await open(ctx, masked);
    return L.reshapeS(beaverCombine(ctx, a, b, c, eps, del), x.shape);
  }
  const check = await ctx.material.triples(size);
  const t = nextChallenge(ctx);
  const [eps, del, rho, sigma] = await open(ctx, [...masked, L.subSS(L.mulScalarS(a, t), check.a), L.subSS(b, check.b)]);
  // w = t·c − h − σ⊙f − ρ⊙g − σ⊙ρ
  let w = L.subSS(L.mulScalarS(c, t), check.c);
  w = L.subSS(w, L.addSS(L.mulSP(check.a, sigma), L.mulSP(check.b, rho)));
  ctx.checks.zeros.push(L.addSP(ctx, w, T.neg(T.mul(sigma, rho))));
  return L.reshapeS(beaverCombine(ctx, a, b, c, eps, del), x.shape);
}

function beaverCombine(
  ctx: PartyContext,
  a: SecretTensor,
  b: SecretTensor,
  c: SecretTensor,
  eps: RingTensor,
  del: RingTensor,
): SecretTensor {
  const z = L.addSS(c, L.addSS(L.mulSP(b, eps), L.mulSP(a, del)));
  return L.addSP(ctx, z, T.mul(eps, del));
}

/** x ⊙ x. */
export async function square(ctx: PartyContext, x: SecretTensor): Promise<SecretTensor> {
  const size = T.sizeOf(x.shape);
  const { a, aa } = await ctx.material.squares(size);
  const masked = L.subSS(L.reshapeS(x, [size]), a);
  let eps: RingTensor;
  if (ctx.mode !== 'malicious') {
    [eps] = await open(ctx, [masked]);
  } else {
    // Sacrifice with a second pair (f, ff): ρ = t·a − f; t²·aa − ff − ρ⊙(t·a + f) = 0.
    const check = await ctx.material.squares(size);
    const t = nextChallenge(ctx);
    const ta = L.mulScalarS(a, t);
    let rho: RingTensor;
    [eps, rho] = await open(ctx, [masked, L.subSS(ta, check.a)]);
    const w = L.subSS(L.subSS(L.mulScalarS(aa, t * t), check.aa), L.mulSP(L.addSS(ta, check.a), rho));
    ctx.checks.zeros.push(w);
  }
  const z = L.addSS(aa, L.mulSP(a, T.mulScalar(eps, 2n)));
  return L.reshapeS(L.addSP(ctx, z, T.mul(eps, eps)), x.shape);
}

/** X·Y for X [.., m, k] (leading dims flattened) and Y [k, n]. */
export async function matmul(ctx: PartyContext, x: SecretTensor, y: SecretTensor): Promise<SecretTensor> {
  const k = x.shape[x.shape.length - 1];
  const m = T.sizeOf(x.shape) / k;
  const n = y.shape[1];
  const x2 = L.reshapeS(x, [m, k]);
  const { a, b, c } = await ctx.material.matrixTriple(m, k, n);
  const masked = [L.subSS(x2, a), L.subSS(y, b)];
  let e: RingTensor;
  let d: RingTensor;
  if (ctx.mode !== 'malicious') {
    [e, d] = await open(ctx, masked);
  } else {
    const check = await ctx.material.matrixTriple(m, k, n);
    const t = nextChallenge(ctx);
    let rho: RingTensor;
    let sigma: RingTensor;
    [e, d, rho, sigma] = await open(ctx, [...masked, L.subSS(L.mulScalarS(a, t), check.a), L.subSS(b, check.b)]);
    // W = t·C − H − ρ·G − F·σ − ρ·σ
    let w = L.subSS(L.mulScalarS(c, t), check.c);
    w = L.subSS(w, L.addSS(L.matmulPS(rho, check.b), L.matmulSP(check.a, sigma)));
    ctx.checks.zeros.push(L.addSP(ctx, w, T.neg(T.matmul(rho, sigma))));
  }
  // Z = C + E·B + A·D + E·D
  const z = L.addSS(c, L.addSS(L.matmulPS(e, b), L.matmulSP(a, d)));
  return L.reshapeS(L.addSP(ctx, z, T.matmul(e, d)), [...x.shape.slice(0, -1), n]);
}
