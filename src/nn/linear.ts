/**
 * Linear layers y = x·W (+ b) with a secret weight W held as a fixed operand (masked and opened
 * once per session) and an optional secret bias. Fixed point: x and W carry f fractional bits,
 * so the product is truncated by f once. A batch of independent layers costs one product round
 * and one truncation (0 rounds with local truncation).
 */
import type { FixedOperand } from '../protocols/fixed-operand.ts';
import { fixedMatmulBatch } from '../protocols/fixed-operand.ts';
import type { PartyContext } from '../protocols/context.ts';
import { truncateBatch } from '../protocols/truncate.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';

export interface SecureLinear {
  /** [in, out] */
  readonly w: FixedOperand;
  /** [out], or undefined. */
  readonly bias: SecretTensor | undefined;
}

/** Applies every layer to its input, all in one round (+ truncation). */
export async function linearBatch(ctx: PartyContext, items: readonly { x: SecretTensor; layer: SecureLinear }[]): Promise<SecretTensor[]> {
  const products = await fixedMatmulBatch(
    ctx,
    items.map(({ x, layer }) => ({ x, w: layer.w })),
  );
  const truncated = await truncateBatch(ctx, products);
  return truncated.map((y, i) => addBias(y, items[i].layer.bias));
}

export async function linear(ctx: PartyContext, x: SecretTensor, layer: SecureLinear): Promise<SecretTensor> {
  return (await linearBatch(ctx, [{ x, layer }]))[0];
}

/** y [rows, out] + b [out] broadcast over rows (local). */
export function addBias(y: SecretTensor, bias: SecretTensor | undefined): SecretTensor {
  if (!bias) return y;
  const out = bias.shape[0];
  const rows = y.shape.reduce((a, b) => a * b, 1) / out;
  const tiled = L.gatherS(
    bias,
    Array.from({ length: rows * out }, (_, i) => i % out),
    y.shape,
  );
  return L.addSS(y, tiled);
}
