/**
 * A matrix that grows by rows (the KV-cache operands of attention, on the parties and the
 * dealer): the rows live in a buffer with spare capacity (doubled when full) and every version
 * of the matrix is a view of the buffer's first k rows. Appending r rows copies r rows
 * (amortised) instead of the whole matrix, so a decode step costs O(1) per row, not O(context).
 *
 * Views stay valid: an append writes only past the rows of existing views. Only the latest
 * version grows in place (the buffer records how many rows are written); appending to an older
 * version copies, since writing in place would overwrite rows that a newer version owns.
 */
import type { RingTensor } from './tensor.ts';

export interface RowBuffer {
  /** Capacity · n · limbs words; rows [0, rows) are written. */
  readonly data: BigUint64Array;
  /** Rows written so far (the length of the latest version). */
  rows: number;
}

/** Smallest capacity (rows) of a new buffer. */
const MIN_ROWS = 16;

/**
 * `prev` (a view [k, n] of `buffer`, or any [k, n] tensor, or undefined for an empty matrix) with
 * `rows` [r, n] appended: the new version [k + r, n] and the buffer that holds it.
 */
export function appendRows(
  prev: RingTensor | undefined,
  buffer: RowBuffer | undefined,
  rows: RingTensor,
): { tensor: RingTensor; buffer: RowBuffer } {
  const [r, n] = rows.shape;
  if (rows.shape.length !== 2 || (prev && (prev.shape.length !== 2 || prev.shape[1] !== n || prev.ring !== rows.ring)))
    throw new RangeError(`appendRows: cannot append [${rows.shape}] to [${prev?.shape ?? []}]`);
  const ring = rows.ring;
  const rowWords = n * ring.limbs;
  const k = prev?.shape[0] ?? 0;
  const total = k + r;
  const inPlace =
    buffer !== undefined &&
    prev !== undefined &&
    buffer.rows === k &&
    prev.data.buffer === buffer.data.buffer &&
    prev.data.byteOffset === buffer.data.byteOffset &&
    buffer.data.length >= total * rowWords;
  let target: RowBuffer;
  if (inPlace) {
    target = buffer;
  } else {
    const capacity = Math.max(total, 2 * k, MIN_ROWS);
    target = { data: new BigUint64Array(capacity * rowWords), rows: k };
    if (prev) target.data.set(prev.data, 0);
  }
  target.data.set(rows.data, k * rowWords);
  target.rows = total;
  return { tensor: { ring, shape: [total, n], data: target.data.subarray(0, total * rowWords) }, buffer: target };
}
