/**
 * Bringing the model's weights into MPC. The owner (a party, or later the enclave) folds and
 * encodes the weights and inputs them (protocols/input.ts, one round for all tensors); then every
 * matrix is prepared as a fixed operand (one round): masked and opened once for the whole session.
 * Other parties only need the config.
 */
import type { ModelConfig } from '../formats/model-spec.ts';
import type { SecureLinear } from '../nn/linear.ts';
import type { PartyContext } from '../protocols/context.ts';
import { prepareFixed, type FixedOperand } from '../protocols/fixed-operand.ts';
import { input } from '../protocols/input.ts';
import { encode } from '../ring/fixed-point.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { foldedShapes } from './fold-weights.ts';

export interface SecureLayer {
  readonly wqkv: SecureLinear;
  readonly wo: SecureLinear;
  /** LLaMA: fused W1|W3 [d, 2·hidden]; GPT-2: c_fc. */
  readonly up: SecureLinear;
  /** LLaMA: W2; GPT-2: mlp.c_proj. */
  readonly down: SecureLinear;
}

export interface SecureModel {
  readonly config: ModelConfig;
  /** Token table [vocab, d] as a fixed operand (secret ids) ... */
  readonly embedding: FixedOperand;
  /** ... and as plain shares (public ids). */
  readonly embeddingShares: SecretTensor;
  /** GPT-2 learned positions [maxSeqLen, d]. */
  readonly positions: SecretTensor | undefined;
  readonly layers: readonly SecureLayer[];
  readonly lmHead: SecureLinear;
}

/** The shares W = D + B of a fixed operand (party 0 adds the public D). */
export function operandShares(ctx: PartyContext, w: FixedOperand): SecretTensor {
  return L.addSP(ctx, w.mask, w.opened);
}

/**
 * Inputs the folded weights from `owner` (who passes `folded`, in foldedShapes order) and
 * prepares the fixed operands. Two rounds in total.
 */
export async function loadSecureModel(
  ctx: PartyContext,
  config: ModelConfig,
  owner: number,
  folded: readonly Float64Array[] | undefined,
): Promise<SecureModel> {
  const specs = foldedShapes(config);
  if (ctx.id === owner && (!folded || folded.length !== specs.length)) {
    throw new RangeError(`loadSecureModel: the owner must pass ${specs.length} folded tensors`);
  }
  const shared = await input(
    ctx,
    specs.map((s, i) => ({
      owner,
      shape: s.shape,
      value: ctx.id === owner ? encode(ctx.ring, s.shape, (folded as Float64Array[])[i], ctx.scaleBits) : undefined,
    })),
  );
  const byName = new Map(specs.map((s, i) => [s.name, shared[i]]));
  const matrices = specs.filter((s) => s.kind === 'matrix');
  const operands = await prepareFixed(
    ctx,
    matrices.map((s) => ({ id: `w.${s.name}`, w: byName.get(s.name) as SecretTensor })),
  );
  const op = new Map(matrices.map((s, i) => [s.name, operands[i]]));
  const lin = (w: string, b?: string): SecureLinear => ({ w: op.get(w) as FixedOperand, bias: b ? byName.get(b) : undefined });
  const gpt2 = config.arch === 'gpt2';
  const layers = Array.from({ length: config.nLayers }, (_, l) => {
    const p = `layers.${l}`;
    return gpt2
      ? {
          wqkv: lin(`${p}.wqkv`, `${p}.bqkv`),
          wo: lin(`${p}.wo`, `${p}.bo`),
          up: lin(`${p}.wfc`, `${p}.bfc`),
          down: lin(`${p}.wproj`, `${p}.bproj`),
        }
      : { wqkv: lin(`${p}.wqkv`), wo: lin(`${p}.wo`), up: lin(`${p}.w13`), down: lin(`${p}.w2`) };
  });
  const embedding = op.get('embedding') as FixedOperand;
  return {
    config,
    embedding,
    embeddingShares: operandShares(ctx, embedding),
    positions: gpt2 ? operandShares(ctx, op.get('positions') as FixedOperand) : undefined,
    layers,
    lmHead: lin('lmHead', gpt2 ? 'lmHeadBias' : undefined),
  };
}
