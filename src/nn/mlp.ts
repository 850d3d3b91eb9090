/**
 * Feed-forward blocks.
 *   SwiGLU (LLaMA):  (silu(h·W1) ⊙ (h·W3)) · W2, with W1|W3 fused into one [d, 2·hidden] operand
 *   GPT-2 MLP:       gelu(h·Wfc + bfc) · Wproj + bproj
 * Mirrors reference/llama.ts `mlpBlock` and reference/gpt2.ts.
 */
import { gelu } from '../approx/gelu.ts';
import { silu } from '../approx/silu.ts';
import { phase, type PartyContext } from '../protocols/context.ts';
import { mulFx } from '../protocols/fixed-arith.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { linear, type SecureLinear } from './linear.ts';

/** Splits the columns of x [rows, a + b] into [rows, a] and [rows, b]. */
export function splitColumns(x: SecretTensor, widths: readonly number[]): SecretTensor[] {
  const [rows, width] = x.shape;
  let start = 0;
  return widths.map((w) => {
    const idx = new Int32Array(rows * w);
    for (let t = 0; t < rows; t++) for (let j = 0; j < w; j++) idx[t * w + j] = t * width + start + j;
    start += w;
    return L.gatherS(x, idx, [rows, w]);
  });
}

export async function swiglu(
  ctx: PartyContext,
  h: SecretTensor,
  w13: SecureLinear,
  w2: SecureLinear,
  hidden: number,
): Promise<SecretTensor> {
  const [gate, up] = splitColumns(await phase(ctx, 'mlp.linear', () => linear(ctx, h, w13)), [hidden, hidden]);
  const act = await phase(ctx, 'mlp.activation', async () => mulFx(ctx, await silu(ctx, gate), up));
  return phase(ctx, 'mlp.linear', () => linear(ctx, act, w2));
}

export async function gpt2Mlp(
  ctx: PartyContext,
  h: SecretTensor,
  fc: SecureLinear,
  proj: SecureLinear,
  form: 'tanh' | 'erf',
): Promise<SecretTensor> {
  const hidden = await phase(ctx, 'mlp.linear', () => linear(ctx, h, fc));
  const act = await phase(ctx, 'mlp.activation', () => gelu(ctx, hidden, { form }));
  return phase(ctx, 'mlp.linear', () => linear(ctx, act, proj));
}
