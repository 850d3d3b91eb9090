/**
 * Rotary position embedding (Su et al., RoFormer, 2021) on secret queries/keys at public
 * positions: each pair (a, b) of a head rotates by angle pos·θ^(−2j/headDim):
 *   a' = a·cos − b·sin,  b' = a·sin + b·cos.
 * Pairs are (2j, 2j+1) for 'interleaved' (llama2.c / Meta) and (j, j + headDim/2) for 'half'
 * (HF rotate_half). Public multiplications only: local, then one truncation.
 * Mirrors reference/ops.ts `rope`.
 */
import type { PartyContext } from '../protocols/context.ts';
import { fxTensor } from '../protocols/fixed-arith.ts';
import { truncate } from '../protocols/truncate.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

export interface RopeSpec {
  readonly nHeads: number;
  readonly headDim: number;
  readonly theta: number;
  readonly style: 'interleaved' | 'half';
}

/** x [T, nHeads·headDim] for positions startPos..startPos+T−1. */
export async function ropeSecret(ctx: PartyContext, x: SecretTensor, startPos: number, spec: RopeSpec): Promise<SecretTensor> {
  const { nHeads, headDim, theta, style } = spec;
  const width = nHeads * headDim;
  const rows = x.shape[0];
  const half = headDim / 2;
  const cos = new Float64Array(rows * width);
  const sin = new Float64Array(rows * width); // signed: −sin on a, +sin on b
  const partner = new Int32Array(rows * width);
  for (let t = 0; t < rows; t++) {
    for (let j = 0; j < half; j++) {
      const angle = (startPos + t) * Math.pow(theta, (-2 * j) / headDim);
      for (let h = 0; h < nHeads; h++) {
        const a = t * width + h * headDim + (style === 'interleaved' ? 2 * j : j);
        const b = style === 'interleaved' ? a + 1 : a + half;
        cos[a] = cos[b] = Math.cos(angle);
        sin[a] = -Math.sin(angle);
        sin[b] = Math.sin(angle);
        partner[a] = b;
        partner[b] = a;
      }
    }
  }
  const swapped = L.gatherS(x, partner, x.shape);
  const sum = L.addSS(L.mulSP(x, fxTensor(ctx, x.shape, cos)), L.mulSP(swapped, fxTensor(ctx, x.shape, sin)));
  return truncate(ctx, sum);
}
