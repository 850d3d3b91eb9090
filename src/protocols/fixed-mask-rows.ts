/**
 * This party's share of a fixed operand's mask B [k, n], requested from the dealer a piece of
 * rows at a time (TripleSource.fixedMaskRows) while the operand is opened block by block
 * (fixed-operand.ts `beginFixed` / `openFixedRows`): only the pieces between the last opened
 * row and the last requested one are held, never the whole B (GPT-2-small's LM head mask is
 * 309 MB per party).
 *
 * Requests are issued synchronously and in row order, so every party issues the same ones in
 * the same order as long as they request the same rows.
 */
import type { PartyContext } from './context.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

interface Piece {
  readonly start: number;
  readonly end: number;
  readonly mask: Promise<SecretTensor>;
}

export class FixedMaskRows {
  readonly #ctx: PartyContext;
  readonly #pieces: Piece[] = [];
  #requested = 0;
  #taken = 0;

  /** B of operand `id` [k, n], fetched in pieces of at most `pieceRows` rows. */
  constructor(
    ctx: PartyContext,
    readonly id: string,
    readonly k: number,
    readonly n: number,
    readonly pieceRows: number,
  ) {
    if (!Number.isSafeInteger(pieceRows) || pieceRows < 1)
      throw new RangeError(`fixed operand ${id}: mask piece rows must be an integer ≥ 1, got ${pieceRows}`);
    this.#ctx = ctx;
  }

  /** Requests (now, in order) every piece up to the one holding row end − 1. */
  request(end: number): void {
    const upTo = Math.min(end, this.k);
    while (this.#requested < upTo) {
      const start = this.#requested;
      const rows = Math.min(this.pieceRows, this.k - start);
      const mask = this.#ctx.material.fixedMaskRows(this.id, start, rows, this.n);
      // The caller may fail before taking it (the session then aborts): mark it handled here too.
      mask.catch(() => undefined);
      this.#pieces.push({ start, end: start + rows, mask });
      this.#requested = start + rows;
    }
  }

  /**
   * Rows [start, end) as [end − start, n] (requesting what is missing); rows must be taken in
   * order, and pieces that end by `end` are let go.
   */
  async take(start: number, end: number): Promise<SecretTensor> {
    if (start !== this.#taken || end <= start || end > this.k)
      throw new RangeError(
        `fixed operand ${this.id}: mask rows [${start}, ${end}) taken, expected rows from ${this.#taken} up to ${this.k}`,
      );
    this.request(end);
    this.#taken = end;
    const used = this.#pieces.filter((p) => p.start < end);
    while (this.#pieces.length > 0 && this.#pieces[0].end <= end) this.#pieces.shift();
    const n = this.n;
    const parts = await Promise.all(
      used.map(async (p) => {
        const m = await p.mask;
        const from = Math.max(start, p.start) - p.start;
        const to = Math.min(end, p.end) - p.start;
        return from === 0 && to === p.end - p.start ? m : L.sliceS(m, from * n, to * n);
      }),
    );
    return L.reshapeS(parts.length === 1 ? parts[0] : L.concatS(parts), [end - start, n]);
  }
}
