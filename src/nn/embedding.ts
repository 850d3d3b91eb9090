/**
 * Token embeddings.
 *  - Public ids (tokens already revealed by sampling): each party picks the rows of D and of its
 *    share of B (W = D + B, the table as a fixed operand) and adds them — local, 0 rounds; no
 *    second copy of the table as plain shares is kept.
 *  - Secret ids (prompt tokens): the owner inputs one-hot rows [T, vocab] (0/1 integers), which
 *    multiply the table as a fixed operand: one round, (n−1)·T·vocab ring elements; no truncation
 *    (one-hot entries carry no fractional bits).
 */
import type { PartyContext } from '../protocols/context.ts';
import { fixedMatmul, type FixedOperand } from '../protocols/fixed-operand.ts';
import * as T from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

/** Rows `ids` of table [vocab, d]. */
export function embedPublic(ctx: PartyContext, table: FixedOperand, ids: readonly number[]): SecretTensor {
  const d = table.shape[1];
  const idx = new Int32Array(ids.length * d);
  ids.forEach((id, t) => {
    for (let j = 0; j < d; j++) idx[t * d + j] = id * d + j;
  });
  const shape = [ids.length, d];
  return L.addSP(ctx, L.gatherS(table.mask, idx, shape), T.gather(table.opened, idx, shape));
}

/** onehot [T, vocab] · table. */
export async function embedSecret(ctx: PartyContext, onehot: SecretTensor, table: FixedOperand): Promise<SecretTensor> {
  return fixedMatmul(ctx, onehot, table);
}
