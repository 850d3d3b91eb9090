/** Shape of the comparator tree shared by the arithmetic (compare.ts) and binary (binary-borrow.ts) evaluations. */

/** Products in each level of the comparator tree over `bits` leaves (per compared element). */
export function comparatorLevels(bits: number): number[] {
  const levels: number[] = [];
  for (let width = bits; width > 1; width = Math.ceil(width / 2)) {
    const pairs = Math.floor(width / 2);
    levels.push(Math.ceil(width / 2) === 1 ? 1 : 2 * pairs);
  }
  return levels;
}
