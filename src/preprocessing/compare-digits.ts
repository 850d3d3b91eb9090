/**
 * Digits of the binary comparator's mask (semi-honest comparisons; protocols/binary-borrow.ts).
 *
 * The low ℓ bits of the comparison mask r are split into D digits of at most 8 bits, least
 * significant first, and the dealer deals every digit as a one-hot vector of 2^w bits,
 * XOR-shared and packed (material.ts `XorMaskedBits.oneHot`). With public c, the comparator's
 * leaves [c_j < r_j] and [c_j = r_j] of a digit are then XORs of one-hot bits selected by c_j —
 * local — and the tree of AND gates runs over D digits instead of ℓ bits.
 *
 * Widths: digits as even as possible; D chosen to minimise first the online depth
 * max(1, ⌈log2 D⌉) and then the dealt bits Σ 2^w_j (ℓ = 40: eight digits of 5 bits, 256 bits,
 * depth 3 instead of ⌈log2 40⌉ = 6).
 *
 * Coarse comparisons (compare.ts, `low` = k > 0) leave out r's low k bits: the digits cover bits
 * k..ℓ−1 only (ℓ = 40, k = 12: four digits of 7 bits, 512 bits, depth 2).
 */

/** Largest digit: a one-hot vector of 2^8 bits per element. */
export const MAX_DIGIT_BITS = 8;

/** Depth of the pairwise tree over `leaves` leaves (⌈log2 leaves⌉). */
const depth = (leaves: number): number => Math.ceil(Math.log2(leaves));

/** Where digit j sits: its `width`, its first `bit` in r and its first one-hot `row`. */
export interface DigitPlace {
  readonly width: number;
  readonly bit: number;
  readonly row: number;
}

/** Widths of the digits of bits low..ℓ−1 of a mask (ℓ = `bits`, 0 ≤ low < ℓ), least significant first. */
export function comparatorDigits(bits: number, low = 0): readonly number[] {
  return layoutOf(bits, low).places.map((p) => p.width);
}

/** The digits of bits low..ℓ−1 of a mask with their bit (in r) and one-hot row offsets (dealer and parties). */
export function digitPlaces(bits: number, low = 0): readonly DigitPlace[] {
  const places = layoutOf(bits, low).places;
  return low === 0 ? places : places.map((p) => ({ ...p, bit: p.bit + low }));
}

/** One-hot rows dealt for bits low..ℓ−1 of a mask: Σ_j 2^w_j. */
export function oneHotRows(bits: number, low = 0): number {
  return layoutOf(bits, low).rows;
}

interface Layout {
  readonly places: readonly DigitPlace[];
  readonly rows: number;
}

/**
 * Checks a coarse comparison's left-out low bits: an integer in [0, ℓ − 1], so at least one bit
 * is compared (the digits here and the malicious comparator in protocols/compare.ts).
 */
export function checkLowBits(bits: number, low: number): void {
  if (!Number.isInteger(low) || low < 0 || low >= bits)
    throw new RangeError(`comparison of ${bits}-bit values: low must be an integer in [0, ${bits - 1}], got ${low}`);
}

/** The layout of the ℓ − low compared bits (bit offsets relative to `low`). */
function layoutOf(bits: number, low: number): Layout {
  if (!Number.isInteger(bits) || bits < 1) throw new RangeError(`comparatorDigits: bits must be a positive integer, got ${bits}`);
  checkLowBits(bits, low);
  const width = bits - low;
  return width < LAYOUTS.length ? LAYOUTS[width] : layout(width);
}

function layout(bits: number): Layout {
  let best: readonly number[] = [];
  let bestCost = [Infinity, Infinity];
  for (let d = Math.ceil(bits / MAX_DIGIT_BITS); d <= bits; d++) {
    const base = Math.floor(bits / d);
    const widths = Array.from({ length: d }, (_, j) => base + (j < bits % d ? 1 : 0));
    const cost = [Math.max(1, depth(d)), widths.reduce((s, w) => s + 2 ** w, 0)];
    if (cost[0] < bestCost[0] || (cost[0] === bestCost[0] && cost[1] < bestCost[1])) [best, bestCost] = [widths, cost];
  }
  const places: DigitPlace[] = [];
  let [bit, row] = [0, 0];
  for (const width of best) {
    places.push({ width, bit, row });
    [bit, row] = [bit + width, row + 2 ** width];
  }
  return { places: Object.freeze(places), rows: row };
}

/** The layouts of ℓ = 1..64, computed once (the comparator asks for its layout per call). */
const LAYOUTS: readonly Layout[] = Array.from({ length: 65 }, (_, bits) => (bits === 0 ? { places: [], rows: 0 } : layout(bits)));
