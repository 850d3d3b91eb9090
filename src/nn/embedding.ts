/**
 * Token embeddings.
 *  - Public ids (tokens already revealed by sampling): each party picks its shares of the rows —
 *    local, 0 rounds.
 *  - Secret ids (prompt tokens): the owner inputs one-hot rows [T, vocab] (0/1 integers), which
 *    multiply the table as a fixed operand: one round, (n−1)·T·vocab ring elements; no truncation
 *    (one-hot entries carry no fractional bits).
 */
import type { PartyContext } from '../protocols/context.ts';
import { fixedMatmul, type FixedOperand } from '../protocols/fixed-operand.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

/** Rows `ids` of table [vocab, d]. */
export function embedPublic(table: SecretTensor, ids: readonly number[]): SecretTensor {
  const d = table.shape[1];
  const idx = new Int32Array(ids.length * d);
  ids.forEach((id, t) => {
    for (let j = 0; j < d; j++) idx[t * d + j] = id * d + j;
  });
  return L.gatherS(table, idx, [ids.length, d]);
}

/** onehot [T, vocab] · table. */
export async function embedSecret(ctx: PartyContext, onehot: SecretTensor, table: FixedOperand): Promise<SecretTensor> {
  return fixedMatmul(ctx, onehot, table);
}
