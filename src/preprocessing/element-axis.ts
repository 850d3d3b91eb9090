/**
 * Slicing and joining material along its element axis: elementwise material is [n] or, for the
 * bit decomposition of comparison masks, [rows, n] (one row per bit). Used to split large
 * requests and to serve small requests from pooled batches.
 */
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

/** Elements [off, off + n) of a tensor of shape [size] or [rows, size]. */
export function sliceElements(t: SecretTensor, off: number, n: number): SecretTensor {
  if (t.shape.length === 1) return L.sliceS(t, off, off + n);
  const [rows, size] = t.shape;
  const parts = Array.from({ length: rows }, (_, r) => L.sliceS(t, r * size + off, r * size + off + n));
  return L.reshapeS(L.concatS(parts), [rows, n]);
}

/** Concatenation along the element axis. */
export function joinElements(parts: readonly SecretTensor[]): SecretTensor {
  if (parts.length === 1) return parts[0];
  if (parts[0].shape.length === 1) return L.concatS(parts);
  const rows = parts[0].shape[0];
  const total = parts.reduce((s, p) => s + p.shape[1], 0);
  const byRow: SecretTensor[] = [];
  for (let r = 0; r < rows; r++) for (const p of parts) byRow.push(L.sliceS(p, r * p.shape[1], (r + 1) * p.shape[1]));
  return L.reshapeS(L.concatS(byRow), [rows, total]);
}
