/**
 * Bringing the model's weights into MPC, from one of two sources:
 * - {@link loadSecureModel}: an owner party folds and encodes the weights and inputs them
 *   (protocols/input.ts, one round for all tensors);
 * - {@link loadSecureModelFromShares}: the enclave service dealt every party an additive share of
 *   the folded, encoded weights; the shares become MACed inputs with `inputShared` (one round).
 * Then every matrix is prepared as a fixed operand (one round): masked and opened once for the
 * whole session. Other parties only need the config.
 */
import type { ModelConfig } from '../formats/model-spec.ts';
import type { SecureLinear } from '../nn/linear.ts';
import type { PartyContext } from '../protocols/context.ts';
import { pinFixed, prepareFixed, releaseFixed, type FixedOperand } from '../protocols/fixed-operand.ts';
import { input, inputShared } from '../protocols/input.ts';
import { encode } from '../ring/fixed-point.ts';
import { Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { foldedShapes, type FoldedTensor } from './fold-weights.ts';

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

/** Tensors are brought in groups of at most this many elements (a larger tensor is a group of its own). */
export const WEIGHT_GROUP_ELEMENTS = 1 << 24;

/** Consecutive groups of spec indices, each of at most WEIGHT_GROUP_ELEMENTS elements (or one tensor). */
function weightGroups(specs: readonly FoldedTensor[]): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let size = 0;
  specs.forEach((s, i) => {
    const n = T.sizeOf(s.shape);
    if (current.length > 0 && size + n > WEIGHT_GROUP_ELEMENTS) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(i);
    size += n;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * Inputs the folded weights from `owner` (who passes `folded`, in foldedShapes order) and
 * prepares the fixed operands: per group of tensors (see {@link WEIGHT_GROUP_ELEMENTS}) one input
 * round and one fixed-operand round, so the transient memory is bounded by a group, not the model.
 */
export async function loadSecureModel(
  ctx: PartyContext,
  config: ModelConfig,
  owner: number,
  folded: readonly Float64Array[] | undefined,
  o: LoadOptions = {},
): Promise<SecureModel> {
  const specs = foldedShapes(config);
  if (ctx.id === owner && (!folded || folded.length !== specs.length)) {
    throw new RangeError(`loadSecureModel: the owner must pass ${specs.length} folded tensors`);
  }
  return assembleSecureModel(ctx, config, o, (group) =>
    input(
      ctx,
      group.map((i) => ({
        owner,
        shape: specs[i].shape,
        value: ctx.id === owner ? encode(ctx.ring, specs[i].shape, (folded as Float64Array[])[i], ctx.scaleBits) : undefined,
      })),
    ),
  );
}

/**
 * Turns this party's additive shares of the folded, encoded weights (Z_2^64, in foldedShapes
 * order; e.g. from the enclave service) into the secure model: per group of tensors one
 * `inputShared` round and one fixed-operand round. Shapes are checked against the config.
 */
export async function loadSecureModelFromShares(
  ctx: PartyContext,
  config: ModelConfig,
  shares: readonly RingTensor[],
  o: LoadOptions = {},
): Promise<SecureModel> {
  const specs = foldedShapes(config);
  if (shares.length !== specs.length)
    throw new RangeError(`loadSecureModelFromShares: expected ${specs.length} tensors, got ${shares.length}`);
  specs.forEach((s, i) => {
    if (shares[i].shape.join('x') !== s.shape.join('x'))
      throw new RangeError(`loadSecureModelFromShares: ${s.name} has shape [${shares[i].shape}], expected [${s.shape}]`);
  });
  return assembleSecureModel(ctx, config, o, async (group) => {
    const total = group.reduce((n, i) => n + T.sizeOf(specs[i].shape), 0);
    const joined = await inputShared(
      ctx,
      T.reshape(
        T.concatFlat(
          Z64,
          group.map((i) => shares[i]),
        ),
        [total],
      ),
    );
    return L.splitS(
      joined,
      group.map((i) => specs[i].shape),
    );
  });
}

export interface LoadOptions {
  /**
   * Pin the decode weight matrices (layers and LM head) resident-only in the kernels' memory as
   * each group is prepared (protocols/fixed-operand.ts `pinFixed`; semi-honest mode), so their
   * plain copies are dropped at once and a party holds D and its share of B once. The caller
   * must {@link releaseSecureModel} when the session ends.
   */
  readonly pin?: boolean;
}

/** Names of the matrices {@link LoadOptions.pin} pins: all but the token and position tables. */
const pinned = (name: string): boolean => name !== 'embedding' && name !== 'positions';

/** Brings the weights in group by group (`share` makes one group's secret tensors) and builds the model. */
async function assembleSecureModel(
  ctx: PartyContext,
  config: ModelConfig,
  o: LoadOptions,
  share: (group: number[]) => Promise<SecretTensor[]>,
): Promise<SecureModel> {
  const specs = foldedShapes(config);
  const byName = new Map<string, SecretTensor>();
  const op = new Map<string, FixedOperand>();
  try {
    for (const group of weightGroups(specs)) {
      const shared = await share(group);
      const matrices = group.map((i, j) => ({ spec: specs[i], w: shared[j] })).filter((x) => x.spec.kind === 'matrix');
      for (const [j, i] of group.entries()) if (specs[i].kind !== 'matrix') byName.set(specs[i].name, shared[j]);
      const operands = await prepareFixed(
        ctx,
        matrices.map((m) => ({ id: `w.${m.spec.name}`, w: m.w })),
      );
      matrices.forEach((m, k) =>
        op.set(m.spec.name, o.pin && pinned(m.spec.name) ? pinFixed(ctx, operands[k], { resident: true }) : operands[k]),
      );
    }
  } catch (e) {
    // Pins of groups prepared before the failure would otherwise stay in the kernels' memory.
    for (const w of op.values()) releaseFixed(w);
    throw e;
  }

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

/** Frees what {@link LoadOptions.pin} pinned (the model is unusable afterwards). */
export function releaseSecureModel(m: SecureModel): void {
  for (const l of m.layers) for (const x of [l.wqkv, l.wo, l.up, l.down]) releaseFixed(x.w);
  releaseFixed(m.lmHead.w);
}
