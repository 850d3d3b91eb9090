/**
 * Correlated randomness ("preprocessing material") a party consumes, and the source it comes
 * from. All material is secret-shared among the n parties; in malicious mode every tensor also
 * carries MAC shares under the session MAC key.
 *
 * Implementations of {@link TripleSource}: `InsecureLocalDealer` (in-process, tests and local
 * development; the name says what it is) and the triple-service client in services/. Every
 * party must request the same material in the same order; sources check this and throw a
 * DesyncError otherwise.
 */
import type { RingTensor } from '../ring/tensor.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

/** Beaver triple: c = a ⊙ b (elementwise) or c = a·b (matrix). */
export interface Triple {
  readonly a: SecretTensor;
  readonly b: SecretTensor;
  readonly c: SecretTensor;
}

/** Triple for a fixed operand: c = a·B where B is the fixed mask dealt by `fixedMask(id)`. */
export interface FixedTriple {
  readonly a: SecretTensor;
  readonly c: SecretTensor;
  /**
   * Set when `a` is rows [row, row + m) of a larger batch `a` dealt at once (pooled sources):
   * products with a public matrix can then be computed for the whole batch in one pass.
   */
  readonly batch?: { readonly a: SecretTensor; readonly row: number };
}

/** Input mask: [r] for every party, and r in the clear for the input's owner only. */
export interface InputMask {
  readonly mask: SecretTensor;
  /** r itself; defined only in the owner's view. */
  readonly clear: RingTensor | undefined;
}

/**
 * A dealer truncation mask with the products its output's square needs
 * (protocols/truncate-square.ts): r, rMsb, rHigh as in {@link MaskedBits} for `shift`, and
 * highSquared = rHigh², highMsb = rHigh·rMsb, all [size] (semi-honest only: not sacrificed).
 */
export interface TruncSquareMasks {
  readonly shift: number;
  readonly r: SecretTensor;
  readonly rMsb: SecretTensor;
  readonly rHigh: SecretTensor;
  readonly highSquared: SecretTensor;
  readonly highMsb: SecretTensor;
}

/**
 * A dealer truncation mask over x [rows, len] with the products its output's row product needs
 * (protocols/truncate-row-product.ts): r, rMsb, rHigh as in {@link MaskedBits} for `shift`
 * ([rows, len] each), a row mask b [rows], and msbB = rMsb ⊙ b, highB = rHigh ⊙ b with b
 * broadcast along each row ([rows, len]); semi-honest only (not sacrificed).
 */
export interface TruncRowMasks {
  readonly shift: number;
  readonly r: SecretTensor;
  readonly rMsb: SecretTensor;
  readonly rHigh: SecretTensor;
  readonly b: SecretTensor;
  readonly msbB: SecretTensor;
  readonly highB: SecretTensor;
}

/**
 * Random indices and their one-hot rows (protocols/index-one-hot.ts): r [rows], uniform in
 * [0, 2^bits) (as ring integers), and e [rows, 2^bits] with e[t, j] = [j = r_t], both shared.
 */
export interface OneHotMasks {
  readonly r: SecretTensor;
  readonly oneHot: SecretTensor;
}

/** Square pair: aa = a ⊙ a. */
export interface SquarePair {
  readonly a: SecretTensor;
  readonly aa: SecretTensor;
}

/**
 * Row triple: a [rows, len], b [rows] and ab = a ⊙ b broadcast along each row [rows, len], for
 * x ⊙ y with y one value per row (protocols/row-product.ts): y is masked once per row, not per
 * element. With `squares`, also aa = a ⊙ a, so that x's masked opening serves x ⊙ x too.
 */
export interface RowTriple {
  readonly a: SecretTensor;
  readonly b: SecretTensor;
  readonly ab: SecretTensor;
  readonly aa: SecretTensor | undefined;
}

/**
 * A random mask r (uniform over the whole ring) with pieces of its low 64 bits, r64 = r mod 2^64:
 *   rMsb  = bit 63 of r64,
 *   rHigh = ⌊(r64 mod 2^63) / 2^shift⌋,
 *   bits  = bits 0..shift−1 of r64 as ring elements 0/1 (shape [shift, size]; only for comparisons).
 * Used by dealer truncation (protocols/truncate.ts) and comparison (protocols/compare.ts).
 */
export interface MaskedBits {
  readonly shift: number;
  readonly r: SecretTensor;
  readonly rMsb: SecretTensor;
  readonly rHigh: SecretTensor;
  readonly bits: SecretTensor | undefined;
}

/**
 * Masks for the binary comparator (semi-honest mode; protocols/binary-borrow.ts): r, rMsb, rHigh
 * as in {@link MaskedBits} (shift = bits), a random bit s and a bit triple (a, b, ab), all [size]
 * arithmetic shares; and the digits of bits low..bits−1 of r (compare-digits.ts; low = 0 but for
 * coarse comparisons) one-hot, XOR-shared and packed: `oneHot` [Σ_j 2^w_j, ⌈size/64⌉] Z_2^64
 * words, row offset_j + v holding [digit j of r = v], element i at bit i mod 64 of word ⌊i/64⌋
 * (bits past `size` are padding).
 */
export interface XorMaskedBits {
  readonly bits: number;
  /** The low bits of r that the digits leave out (0, or k of a coarse comparison). */
  readonly low: number;
  readonly r: SecretTensor;
  readonly rMsb: SecretTensor;
  readonly rHigh: SecretTensor;
  readonly s: SecretTensor;
  /** Random bits a, b and their product ab, arithmetic shares [size] (the comparator's last AND). */
  readonly andA: SecretTensor;
  readonly andB: SecretTensor;
  readonly andAB: SecretTensor;
  readonly oneHot: SecretTensor;
}

/** The comparator parts the comparison bit is linear in (protocols/compare.ts relu), in dealt order. */
export const RELU_PARTS = ['rMsb', 'rHigh', 's', 'andA', 'andB', 'andAB'] as const;
export type ReluPart = (typeof RELU_PARTS)[number];
/** Products r·part dealt with {@link ReluMasks}, one per {@link RELU_PARTS} entry. */
export const RELU_PRODUCTS = RELU_PARTS.length;

/**
 * {@link XorMaskedBits} plus the products of the mask r with each part the comparison bit is
 * linear in (semi-honest mode): with them [x ≥ 0]·x costs no round beyond the comparison, as
 * x = c − 2^ℓ − r with c opened by the comparator (protocols/compare.ts relu).
 */
export interface ReluMasks extends XorMaskedBits {
  /** rTimes[p] = r·p for each part p, [size] arithmetic shares. */
  readonly rTimes: Readonly<Record<ReluPart, SecretTensor>>;
}

/** The comparator's parts of one comparison that are not tied to the mask r (its top level). */
export const TOP_PARTS = ['s', 'andA', 'andB', 'andAB'] as const;
export type TopPart = (typeof TOP_PARTS)[number];

/**
 * {@link ReluMasks} plus a second top level (s, a, b, ab) for a second comparison of the SAME
 * masked value at another public offset (semi-honest mode): one opening of x + r serves
 * [x + t₁ ≥ 0]·(x + t₁) and [x + t₂ ≥ 0] (protocols/compare.ts reluAndCompare; GeLU's tails).
 */
export interface ReluPairMasks extends ReluMasks {
  readonly second: Readonly<Record<TopPart, SecretTensor>>;
}

/** Tensors every packed comparison material starts with (compareXor's), and the index of its packed one-hot digits. */
export const PACKED_HEAD = 8;
export const ONE_HOT_INDEX = 7;

/**
 * compareXor / compareRelu / compareReluPair masks from their dealt tensors in order (r, rMsb,
 * rHigh, s, a, b, ab, the one-hot digits, then the products r·part and the second top level when
 * present): which of the three follows from the count.
 */
export function packedCompareMasks(parts: readonly SecretTensor[], bits: number, low: number): XorMaskedBits | ReluMasks | ReluPairMasks {
  const [r, rMsb, rHigh, s, andA, andB, andAB, oneHot] = parts;
  const masks: XorMaskedBits = { bits, low, r, rMsb, rHigh, s, andA, andB, andAB, oneHot };
  if (parts.length === PACKED_HEAD) return masks;
  const withProducts: ReluMasks = { ...masks, rTimes: reluProducts(parts.slice(PACKED_HEAD, PACKED_HEAD + RELU_PRODUCTS)) };
  return parts.length === PACKED_HEAD + RELU_PRODUCTS
    ? withProducts
    : { ...withProducts, second: topParts(parts.slice(PACKED_HEAD + RELU_PRODUCTS)) };
}

/** The tensors of {@link packedCompareMasks}'s result, in dealt order (the one-hot digits at {@link ONE_HOT_INDEX}). */
export function packedCompareTensors(m: XorMaskedBits | ReluMasks | ReluPairMasks): SecretTensor[] {
  const head = [m.r, m.rMsb, m.rHigh, m.s, m.andA, m.andB, m.andAB, m.oneHot];
  const products = 'rTimes' in m ? RELU_PARTS.map((p) => m.rTimes[p]) : [];
  const second = 'second' in m ? TOP_PARTS.map((p) => m.second[p]) : [];
  return [...head, ...products, ...second];
}

/** A {@link ReluPairMasks} second top level from tensors in {@link TOP_PARTS} order. */
export function topParts<T>(parts: readonly T[]): Record<TopPart, T> {
  if (parts.length !== TOP_PARTS.length) throw new RangeError(`topParts: expected ${TOP_PARTS.length} tensors, got ${parts.length}`);
  return Object.fromEntries(TOP_PARTS.map((p, i) => [p, parts[i]])) as Record<TopPart, T>;
}

/** The {@link ReluMasks} products from tensors in {@link RELU_PARTS} order. */
export function reluProducts<T>(parts: readonly T[]): Record<ReluPart, T> {
  if (parts.length !== RELU_PRODUCTS) throw new RangeError(`reluProducts: expected ${RELU_PRODUCTS} tensors, got ${parts.length}`);
  return Object.fromEntries(RELU_PARTS.map((p, i) => [p, parts[i]])) as Record<ReluPart, T>;
}

/**
 * Masks of a Chebyshev basis T_2..T_d computed by doubling (semi-honest mode; chebyshev-plan.ts):
 * a uniform mask a_j for every factor T_j of the plan and the products a_m·a_j of its pairs, all
 * [size] arithmetic shares. Each factor is opened once (T_j − a_j) and every product of the basis
 * follows from the openings and these shares.
 */
export interface ChebyshevMasks {
  /** masks[i] is the mask of factor plan.factors[i]. */
  readonly masks: readonly SecretTensor[];
  /** products[i] is a_m·a_j for plan.pairs[i] = (m, j). */
  readonly products: readonly SecretTensor[];
}

/**
 * Masks of a Chebyshev basis whose levels are truncated by the dealer and multiplied without
 * opening their factors again (semi-honest mode; chebyshev-plan.ts `fusedChebyshevLayout`): the
 * mask a_1 of T_1, a truncation mask (r, rMsb, rHigh) per truncated T_k, and the products of
 * mask parts each pair of the plan needs, all [size] arithmetic shares.
 */
export interface ChebyshevTruncMasks {
  readonly a1: SecretTensor;
  /** trunc[i] is the truncation mask of layout.truncated[i]. */
  readonly trunc: readonly { readonly r: SecretTensor; readonly rMsb: SecretTensor; readonly rHigh: SecretTensor }[];
  /** terms[i][t] is the product of the parts layout.terms[i][t] of plan.pairs[i]. */
  readonly terms: readonly (readonly SecretTensor[])[];
}

export interface MaterialStats {
  /** Bytes this party received from the source (seeds count 16 bytes). */
  bytesReceived: number;
  requests: number;
}

export interface TripleSource {
  readonly name: string;
  readonly stats: Readonly<MaterialStats>;
  /** This party's share α_i of the MAC key (malicious mode), undefined in semi-honest mode. */
  macKeyShare(): Promise<bigint | undefined>;
  /** `size` elementwise triples, each tensor of shape [size]. */
  triples(size: number): Promise<Triple>;
  /**
   * `words`·64 GF(2) AND triples packed 64 per word: XOR shares (the shares' words XOR to a, b,
   * c = a ∧ b); no MACs, so semi-honest sessions only (malicious sources refuse).
   */
  bitTriples(words: number): Promise<Triple>;
  /**
   * A {@link RowTriple} for x [rows, len] ⊙ y [rows] (y broadcast along each row), with a ⊙ a when
   * `squares`; semi-honest only (no sacrifice: malicious sources refuse).
   */
  rowTriple(rows: number, len: number, squares: boolean): Promise<RowTriple>;
  /** A [m,k], B [k,n], C = A·B [m,n]. */
  matrixTriple(m: number, k: number, n: number): Promise<Triple>;
  /** The mask B [k,n] of fixed operand `id`; the same B every time (first call creates it). */
  fixedMask(id: string, k: number, n: number): Promise<SecretTensor>;
  /**
   * Appends `rows` fresh mask rows [rows, n] to fixed operand `id` (creating it when new) and
   * returns them: a growing operand such as a KV-cache matrix, masked one row at a time.
   */
  fixedAppend(id: string, rows: number, n: number): Promise<SecretTensor>;
  /**
   * Rows [start, start + rows) of the mask of a fixed (not growing) operand dealt a block of rows
   * at a time, so a large mask never has to be held whole: calls go in row order, start = 0
   * creates the operand and each later call continues where the previous one ended. Afterwards
   * the operand is used as if created by `fixedMask` with all its rows.
   */
  fixedMaskRows(id: string, start: number, rows: number, n: number): Promise<SecretTensor>;
  /**
   * A fresh, C = A·B_id, for the operand's current rows k: A [m,k], C [m,n]; with `transposed`,
   * A [m,n] and C = A·B_idᵀ [m,k]. `fixedMask`/`fixedAppend` must have created the operand.
   */
  fixedTriple(id: string, m: number, transposed?: boolean): Promise<FixedTriple>;
  /** A random mask for an input of `owner` (see protocols/input.ts). */
  inputMask(owner: number, size: number): Promise<InputMask>;
  squares(size: number): Promise<SquarePair>;
  /** Masks for truncation by `shift` bits (no bit decomposition). */
  truncMasks(size: number, shift: number): Promise<MaskedBits>;
  /** {@link truncMasks} with rHigh² and rHigh·rMsb (protocols/truncate-square.ts); semi-honest only. */
  truncSquareMasks(size: number, shift: number): Promise<TruncSquareMasks>;
  /**
   * {@link truncMasks} for x [rows, len] with a row mask b [rows] and rMsb ⊙ b, rHigh ⊙ b, so the
   * truncation's output can be multiplied by one value per row without opening it again
   * (protocols/truncate-row-product.ts); semi-honest only (malicious sources refuse).
   */
  truncRowMasks(rows: number, len: number, shift: number): Promise<TruncRowMasks>;
  /** Masks for comparison of values below 2^bits (with the low `bits` bits). */
  compareMasks(size: number, bits: number): Promise<MaskedBits>;
  /**
   * Masks for the binary comparator, the digits of r's bits low..bits−1 one-hot, XOR-shared and
   * packed (low > 0: a coarse comparison); semi-honest only (malicious sources refuse).
   */
  compareXorMasks(size: number, bits: number, low?: number): Promise<XorMaskedBits>;
  /** {@link compareXorMasks} plus the products r·part for [x ≥ 0]·x (ReluMasks); semi-honest only. */
  reluMasks(size: number, bits: number, low?: number): Promise<ReluMasks>;
  /** {@link reluMasks} plus a second top level for a second offset of the same masked value (ReluPairMasks); semi-honest only. */
  reluPairMasks(size: number, bits: number, low?: number): Promise<ReluPairMasks>;
  /** Masks of a Chebyshev basis of `degree` over `size` elements; semi-honest only (malicious sources refuse). */
  chebyshevMasks(size: number, degree: number): Promise<ChebyshevMasks>;
  /** Masks of a Chebyshev basis whose levels are truncated by `shift` bits with fused openings; semi-honest only. */
  chebyshevTruncMasks(size: number, degree: number, shift: number): Promise<ChebyshevTruncMasks>;
  /** Uniformly random shared values (e.g. to mask upper bits on output in malicious mode). */
  randoms(size: number): Promise<SecretTensor>;
  /** `rows` uniform indices below 2^bits with their shared one-hot rows (both modes; MACed in malicious mode). */
  oneHotMasks(rows: number, bits: number): Promise<OneHotMasks>;
}
