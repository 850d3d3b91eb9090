/**
 * Secure comparison with the sign: ltz([x]) = [x < 0] ∈ {0, 1}, for |x| < 2^ℓ (ℓ =
 * ctx.compareBits unless given). Dealer-assisted, arithmetic-only, so the same code runs in both
 * security modes (in malicious mode every step is MACed and every product sacrificed).
 *
 * Method (masked exact truncation by ℓ; Catrina & de Hoogh, "Improved primitives for secure
 * multiparty integer computation", SCN 2010, with the top-bit trick of Escudero et al.,
 * CRYPTO 2020): let x' = x + 2^ℓ ∈ [0, 2^(ℓ+1)); then bit ℓ of x' is [x ≥ 0] and equals
 *     ⌊x'/2^ℓ⌋ = ⌊(c mod 2^63)/2^ℓ⌋ − rHigh − borrow + b·2^(63−ℓ)
 * where c = x' + r is opened (uniform), b = c_63 ⊕ r_63 (linear), and
 * borrow = [c mod 2^ℓ < r mod 2^ℓ] is computed by a comparator on the dealer's shared bits of r
 * (public c bits): leaves g_i = (1 − c_i)·r_i, e_i = [c_i = r_i] (linear), combined in a
 * log-depth tree (G, E) = (G_hi + E_hi·G_lo, E_hi·E_lo). Exact: no probabilistic error when the
 * bound holds; garbage when it does not.
 *
 * In semi-honest mode the borrow is computed on bits (binary-borrow.ts: the dealer deals r's
 * digits one-hot, so the leaves of D ≤ 8 digits of ≤ 8 bits are local and AND gates over GF(2)
 * at 2 bits per product combine them; the top level returns to the ring in its own round);
 * malicious mode keeps the MACed arithmetic tree over ℓ bits.
 *
 * relu ({@link relu}): [x ≥ 0] together with [x ≥ 0]·x, the product folded into the comparison
 * in semi-honest mode (no round, no bytes beyond ltz; six more dealt elements per element).
 *
 * Coarse comparisons (`low` = k > 0; softmax's row maximum and exp's clip): the borrow compares
 * only bits k..ℓ−1 of c and r, [⌊c_low/2^k⌋ < ⌊r_low/2^k⌋] (c_low = c mod 2^ℓ). It differs from
 * the exact borrow only when x' mod 2^ℓ ≥ 2^ℓ − 2^k and the low k bits of x' + r carry (then it
 * is one less), so for −2^ℓ ≤ x < 2^ℓ − 2^k the result [x ≥ 0] is exact except for
 * x ∈ [−2^k, 0), where it is 0 or 1 (depending on r: no function of x that anyone sees). The
 * folded relu product stays g·x for the g computed, so max(a, b) = b + relu(a − b) returns a or b
 * and at worst the smaller one when they are within 2^k. What it buys: ℓ − k bits in the digits
 * (ℓ = 40, k = 12: four digits of 7 bits, 3 rounds instead of 4 in semi-honest mode; 6 instead of 7
 * and 28 leaves instead of 40 in malicious mode) and 4 AND products per element instead of 12.
 * Reveals what the exact comparison reveals (c, Beaver-masked bits).
 *
 * Reveals: c (uniform) and Beaver-masked values. Cost ({@link ltzRounds}): 1 + max(1, ⌈log2 D⌉)
 * rounds in semi-honest mode (4 at ℓ = 40), 1 + ⌈log2 ℓ⌉ in malicious mode (7); bytes see
 * {@link ltzCost}: 1 opening for c plus 4 ring elements per tree product (malicious) or 2 bits per
 * tree product and 1 bit per element (semi-honest).
 */
import type { RingTensor } from '../ring/tensor.ts';
import { checkLowBits, comparatorDigits } from '../preprocessing/compare-digits.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { mul, mulBytes } from './beaver.ts';
import type { ReluMasks } from '../preprocessing/material.ts';
import {
  binaryBorrow,
  binaryBorrowBytesPerPeer,
  binaryBorrowForm,
  binaryBorrowForms,
  formShares,
  formSum,
  type PartForm,
} from './binary-borrow.ts';
import { comparatorLevels } from './compare-levels.ts';
import type { PartyContext } from './context.ts';
import { open, openBytes } from './open.ts';
import { maskedHigh, maskedHighForm } from './truncate.ts';

export { comparatorLevels };

/** Rounds of one {@link ltz} / {@link nonNegative} call on `bits`-bit values in `mode` (coarse: the low `low` bits left out). */
export function ltzRounds(mode: PartyContext['mode'], bits: number, low = 0): number {
  if (mode === 'semi-honest') return 1 + Math.max(1, comparatorLevels(comparatorDigits(bits, low).length).length);
  return 1 + comparatorLevels(bits - low).length;
}

/** Documented cost of {@link ltz} for `size` elements. */
export function ltzCost(
  ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>,
  size: number,
  bits: number,
  low = 0,
): { rounds: number; bytes: number } {
  const rounds = ltzRounds(ctx.mode, bits, low);
  if (ctx.mode === 'semi-honest') return { rounds, bytes: openBytes(ctx, size) + (ctx.n - 1) * binaryBorrowBytesPerPeer(size, bits, low) };
  const products = comparatorLevels(bits - low).reduce((s, p) => s + p, 0);
  return { rounds, bytes: openBytes(ctx, size) + mulBytes(ctx, size * products) };
}

/** [x < 0] for |x| < 2^bits (coarse with low > 0: see the module header). */
export async function ltz(ctx: PartyContext, x: SecretTensor, bits = ctx.compareBits, low = 0): Promise<SecretTensor> {
  const geq = await nonNegative(ctx, x, bits, low);
  return L.subPS(ctx, T.fill(ctx.ring, geq.shape, 1n), geq);
}

/** [x ≥ 0] for |x| < 2^bits (coarse with low > 0: for −2^bits ≤ x < 2^bits − 2^low, exact outside [−2^low, 0)). */
export async function nonNegative(ctx: PartyContext, x: SecretTensor, bits = ctx.compareBits, low = 0): Promise<SecretTensor> {
  checkLowBits(bits, low);
  const size = T.sizeOf(x.shape);
  const semiHonest = ctx.mode === 'semi-honest';
  // Semi-honest: r's bits come XOR-shared and packed for the binary comparator.
  const m = semiHonest ? await ctx.material.compareXorMasks(size, bits, low) : await ctx.material.compareMasks(size, bits);
  const c = await openMasked(ctx, x, m.r, bits);
  const borrow =
    'oneHot' in m ? await binaryBorrow(ctx, c, m, bits, size) : await borrowBit(ctx, c, m.bits as SecretTensor, bits, size, low);
  return L.reshapeS(L.subSS(maskedHigh(ctx, c, m, bits, 0n), borrow), x.shape);
}

/** The comparator's one opening: c = x + 2^bits + r (flat [size]). */
async function openMasked(ctx: PartyContext, x: SecretTensor, r: SecretTensor, bits: number): Promise<RingTensor> {
  const [c] = await open(ctx, [L.addSS(L.addScalarS(ctx, L.reshapeS(x, [T.sizeOf(x.shape)]), 1n << BigInt(bits)), r)]);
  return c;
}

/** [x ≥ 0] and [x ≥ 0]·x = max(x, 0). */
export interface ReluResult {
  readonly geq: SecretTensor;
  readonly relu: SecretTensor;
}

/** Does {@link relu} fold its product into the comparison (semi-honest mode, whose ring is Z_2^64)? */
export function reluFolds(ctx: Pick<PartyContext, 'mode'>): boolean {
  return ctx.mode === 'semi-honest';
}

/** Rounds of {@link relu}: the comparison's when folded, one more (the product) otherwise. */
export function reluRounds(ctx: Pick<PartyContext, 'mode'>, bits: number, low = 0): number {
  return ltzRounds(ctx.mode, bits, low) + (reluFolds(ctx) ? 0 : 1);
}

/** Documented cost of {@link relu} for `size` elements: {@link ltzCost}, plus one product when not folded. */
export function reluCost(
  ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>,
  size: number,
  bits: number,
  low = 0,
): { rounds: number; bytes: number } {
  const c = ltzCost(ctx, size, bits, low);
  return reluFolds(ctx) ? c : { rounds: c.rounds + 1, bytes: c.bytes + mulBytes(ctx, size) };
}

/**
 * [x ≥ 0] and max(x, 0) for |x| < 2^bits, the product at no extra round (semi-honest mode).
 * Once the comparator's last round is open, [x ≥ 0] is a public form in the dealer's parts,
 *   g = pub + Σ_p coef_p·[p],  p ∈ {rMsb, rHigh, s, a, b, ab}   (maskedHigh − borrow),
 * and x = c − 2^ℓ − r with c opened in the comparator's first round, so
 *   g·x = g·(c − 2^ℓ) − pub·[r] − Σ_p coef_p·[r·p]
 * with the products r·p dealt with the masks (`reluMasks`, material.ts ReluMasks): local.
 * Reveals what {@link nonNegative} reveals, nothing more. Cost: {@link ltzRounds} rounds and
 * {@link ltzCost} bytes; dealt: six more ring elements per element than the comparison.
 * Malicious mode (Z_2^128): the comparison, then one Beaver product (MACed, sacrificed).
 * Citation: the comparator above; the product is a Beaver product (CRYPTO 1991) whose masked
 * opening of x is the comparison's own c, with the dealer's products of r and the bit's parts in
 * place of the triple's c.
 * Coarse (low > 0): [x ≥ 0] as {@link nonNegative} gives it, and g·x for that g.
 */
export async function relu(ctx: PartyContext, x: SecretTensor, bits = ctx.compareBits, low = 0): Promise<ReluResult> {
  if (!reluFolds(ctx)) {
    const geq = await nonNegative(ctx, x, bits, low);
    return { geq, relu: await mul(ctx, geq, x) };
  }
  checkLowBits(bits, low);
  const size = T.sizeOf(x.shape);
  const m = await ctx.material.reluMasks(size, bits, low);
  const c = await openMasked(ctx, x, m.r, bits);
  const form = geqForm(c, await binaryBorrowForm(ctx, c, m, bits, size), bits);
  const geq = formShares(ctx, form, m);
  return { geq: L.reshapeS(geq, x.shape), relu: L.reshapeS(foldedProduct(geq, form, c, m, bits), x.shape) };
}

/** g = [x ≥ 0] = maskedHigh(c, m, bits, 0) − borrow as a form in the comparator's parts. */
function geqForm(c: RingTensor, borrow: PartForm, bits: number): PartForm {
  const high = maskedHighForm(c, bits, 0n);
  return { pub: T.sub(high.pub, borrow.pub), coef: { ...negated(borrow.coef), rHigh: -1n, rMsb: high.rMsbCoef } };
}

/** g·x for x = c − 2^ℓ − r: g·(c − 2^ℓ) − (pub·r + Σ coef_p·(r·p)), local from the dealt products r·p. */
function foldedProduct(geq: SecretTensor, form: PartForm, c: RingTensor, m: ReluMasks, bits: number): SecretTensor {
  return L.subSS(L.mulSP(geq, T.addScalar(c, -(1n << BigInt(bits)))), L.addSS(L.mulSP(m.r, form.pub), formSum(form, m.rTimes)));
}

/** Documented cost of {@link reluAndCompare} for `size` elements. */
export function reluAndCompareCost(
  ctx: Pick<PartyContext, 'n' | 'ring' | 'mode'>,
  size: number,
  bits: number,
): { rounds: number; bytes: number } {
  if (!reluFolds(ctx)) {
    const c = ltzCost(ctx, 2 * size, bits);
    return { rounds: c.rounds + 1, bytes: c.bytes + mulBytes(ctx, size) };
  }
  const padded = 64 * Math.ceil(size / 64);
  return { rounds: ltzRounds(ctx.mode, bits), bytes: openBytes(ctx, size) + (ctx.n - 1) * binaryBorrowBytesPerPeer(padded + size, bits) };
}

/** [x + t₁ ≥ 0], max(x + t₁, 0) and [x + t₂ ≥ 0]. */
export interface ReluAndCompareResult extends ReluResult {
  readonly geqSecond: SecretTensor;
}

/**
 * relu at offset t₁ and the comparison at offset t₂ of the same x (|x + t_i| < 2^bits, t_i
 * public ring integers), with ONE masked opening in semi-honest mode: c = x + 2^ℓ + r is opened
 * once and c + t_i is the opening of x + t_i under the same mask, so both comparators run on the
 * same dealt digits of r (binary-borrow.ts binaryBorrowForms, in the rounds of one) with a top
 * level each (`compareReluPair` material, material.ts ReluPairMasks); the relu product is folded
 * as in {@link relu}, with x + t₁ = (c + t₁) − 2^ℓ − r. GeLU's tails: p = [x − B − 1 ≥ 0] with
 * p·(x − B − 1), and 1 − n = [x + B ≥ 0].
 * Reveals: c (uniform; c + t_i are functions of it) and Beaver-masked bits — nothing about x.
 * Cost ({@link reluAndCompareCost}): ltzRounds; bytes one opening of size elements and one
 * comparator tree over both (against two openings for two comparisons); dealt: compareRelu's
 * plus 4 ring elements per element, against 2·compareRelu's. Malicious mode: ltz on both, then
 * one Beaver product (MACed, sacrificed).
 */
export async function reluAndCompare(
  ctx: PartyContext,
  x: SecretTensor,
  t1: bigint,
  t2: bigint,
  bits = ctx.compareBits,
): Promise<ReluAndCompareResult> {
  const size = T.sizeOf(x.shape);
  const flat = L.reshapeS(x, [size]);
  if (!reluFolds(ctx)) {
    const geq = await nonNegative(ctx, L.concatS([L.addScalarS(ctx, flat, t1), L.addScalarS(ctx, flat, t2)]), bits);
    const [first, second] = L.splitS(geq, [[size], [size]]);
    const value = await mul(ctx, first, L.addScalarS(ctx, flat, t1));
    return { geq: L.reshapeS(first, x.shape), relu: L.reshapeS(value, x.shape), geqSecond: L.reshapeS(second, x.shape) };
  }
  const m = await ctx.material.reluPairMasks(size, bits);
  const c = await openMasked(ctx, x, m.r, bits);
  const [c1, c2] = [T.addScalar(c, t1), T.addScalar(c, t2)];
  const [b1, b2] = await binaryBorrowForms(ctx, [c1, c2], m, [m, m.second], bits, size);
  const [f1, f2] = [geqForm(c1, b1, bits), geqForm(c2, b2, bits)];
  const geq = formShares(ctx, f1, m);
  const geqSecond = formShares(ctx, f2, { ...m, ...m.second });
  const value = foldedProduct(geq, f1, c1, m, bits);
  return { geq: L.reshapeS(geq, x.shape), relu: L.reshapeS(value, x.shape), geqSecond: L.reshapeS(geqSecond, x.shape) };
}

function negated(coef: PartForm['coef']): PartForm['coef'] {
  return Object.fromEntries(
    Object.entries(coef).map(([p, k]) => [p, typeof k === 'bigint' ? -k : T.neg(k as RingTensor)]),
  ) as PartForm['coef'];
}

/**
 * [c mod 2^bits < r mod 2^bits] from public c and shared bits of r ([bits, size]); coarse:
 * [⌊(c mod 2^bits)/2^low⌋ < ⌊(r mod 2^bits)/2^low⌋] from bits low..bits−1 only.
 */
async function borrowBit(
  ctx: PartyContext,
  c: RingTensor,
  rBits: SecretTensor,
  bits: number,
  size: number,
  low: number,
): Promise<SecretTensor> {
  // Leaves, least significant first: g_i = (1 − c_i)·r_i, e_i = c_i ? r_i : 1 − r_i.
  let g: SecretTensor[] = [];
  let e: SecretTensor[] = [];
  for (let i = low; i < bits; i++) {
    const ci = publicBit(c, i, size);
    const ri = L.sliceS(rBits, i * size, (i + 1) * size);
    const notCi = T.addScalar(T.neg(ci), 1n);
    g.push(L.mulSP(ri, notCi));
    // e = 1 − c − r + 2cr = (2c − 1)·r + (1 − c)
    e.push(L.addSP(ctx, L.mulSP(ri, T.addScalar(T.mulScalar(ci, 2n), -1n)), notCi));
  }
  while (g.length > 1) {
    const pairs = Math.floor(g.length / 2);
    const top = Math.ceil(g.length / 2) === 1;
    const left: SecretTensor[] = [];
    const right: SecretTensor[] = [];
    for (let p = 0; p < pairs; p++) {
      left.push(e[2 * p + 1]);
      right.push(g[2 * p]);
      if (!top) {
        left.push(e[2 * p + 1]);
        right.push(e[2 * p]);
      }
    }
    const prods = L.splitS(
      await mul(ctx, L.concatS(left), L.concatS(right)),
      left.map(() => [size]),
    );
    const nextG: SecretTensor[] = [];
    const nextE: SecretTensor[] = [];
    for (let p = 0; p < pairs; p++) {
      const per = top ? 1 : 2;
      nextG.push(L.addSS(g[2 * p + 1], prods[per * p]));
      if (!top) nextE.push(prods[per * p + 1]);
    }
    if (g.length % 2 === 1) {
      nextG.push(g[g.length - 1]);
      nextE.push(e[e.length - 1]);
    }
    g = nextG;
    e = nextE;
  }
  return g[0];
}

function publicBit(c: RingTensor, i: number, size: number): RingTensor {
  const out = T.zeros(c.ring, [size]);
  const l = c.ring.limbs;
  const s = BigInt(i);
  for (let j = 0; j < size; j++) out.data[j * l] = (c.data[j * l] >> s) & 1n;
  return out;
}
