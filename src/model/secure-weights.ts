/**
 * Bringing the model's weights into MPC, from one of two sources:
 * - {@link loadSecureModel}: an owner party folds and encodes the weights and inputs them
 *   (protocols/input.ts);
 * - {@link loadSecureModelFromShares}: the enclave service dealt every party an additive share of
 *   the folded, encoded weights; the shares become MACed inputs with `inputShared`.
 * Every matrix is prepared as a fixed operand: masked and opened once for the whole session.
 * Both go block by block ({@link weightBlocks}: one input round and one opening round per group
 * of ≤ {@link WEIGHT_BLOCK_ELEMENTS} elements, large matrices by rows), so the memory the setup
 * needs above the prepared model is one group's copies. Other parties only need the config.
 */
import type { ModelConfig } from '../formats/model-spec.ts';
import type { SecureLinear } from '../nn/linear.ts';
import type { PartyContext } from '../protocols/context.ts';
import {
  abandonFixed,
  beginFixed,
  finishFixed,
  openFixedRows,
  requestFixedRows,
  releaseFixed,
  type FixedInProgress,
  type FixedOperand,
} from '../protocols/fixed-operand.ts';
import { input, inputShared } from '../protocols/input.ts';
import { encode } from '../ring/fixed-point.ts';
import { Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import type { RingTensor } from '../ring/tensor.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { foldedShapes, type FoldedTensor, type FoldedWeights } from './fold-weights.ts';

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
  /** Token table [vocab, d] as a fixed operand (secret ids: a product; public ids: rows of D and B). */
  readonly embedding: FixedOperand;
  /** GPT-2 learned positions [maxSeqLen, d] (public positions: rows of D and B). */
  readonly positions: FixedOperand | undefined;
  readonly layers: readonly SecureLayer[];
  readonly lmHead: SecureLinear;
}

/**
 * Weights are brought in blocks of at most this many elements: a group of whole tensors, or rows
 * of a larger matrix. Each block costs an input round and an opening round; its transient copies
 * (≈ 6 × 8 bytes per element) bound the memory the setup needs above the prepared model.
 */
export const WEIGHT_BLOCK_ELEMENTS = 1 << 22;

/** Rows [start, end) of folded tensor `index` (a vector is one row). */
export interface WeightBlock {
  readonly index: number;
  readonly start: number;
  readonly end: number;
  /** [end − start, cols] for matrices; the vector's shape for vectors. */
  readonly shape: readonly number[];
}

/** Rows per block of a matrix with n columns. */
const blockRows = (n: number, limit: number): number => Math.max(1, Math.floor(limit / n));

/** Consecutive blocks of at most WEIGHT_BLOCK_ELEMENTS elements (a single row may exceed it), grouped likewise. */
export function weightBlocks(specs: readonly FoldedTensor[], limit = WEIGHT_BLOCK_ELEMENTS): WeightBlock[][] {
  const groups: WeightBlock[][] = [];
  let current: WeightBlock[] = [];
  let size = 0;
  const add = (b: WeightBlock): void => {
    const n = T.sizeOf(b.shape);
    if (current.length > 0 && size + n > limit) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(b);
    size += n;
  };
  specs.forEach((s, index) => {
    if (s.kind !== 'matrix') return add({ index, start: 0, end: 1, shape: s.shape });
    const [k, n] = s.shape;
    const step = blockRows(n, limit);
    for (let start = 0; start < k; start += step) {
      const end = Math.min(k, start + step);
      add({ index, start, end, shape: [end - start, n] });
    }
  });
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * Inputs the folded weights from `owner` (who passes `folded`, in foldedShapes order; each block
 * of rows is folded and encoded only when it is brought in) and prepares the fixed operands.
 */
export async function loadSecureModel(
  ctx: PartyContext,
  config: ModelConfig,
  owner: number,
  folded: FoldedWeights | undefined,
  o: LoadOptions = {},
): Promise<SecureModel> {
  const specs = foldedShapes(config);
  if (ctx.id === owner && (!folded || folded.length !== specs.length)) {
    throw new RangeError(`loadSecureModel: the owner must pass ${specs.length} folded tensors`);
  }
  return assembleSecureModel(ctx, config, o, (blocks) =>
    input(
      ctx,
      blocks.map((b) => ({
        owner,
        shape: b.shape,
        value: ctx.id === owner ? encode(ctx.ring, b.shape, (folded as FoldedWeights)[b.index](b.start, b.end), ctx.scaleBits) : undefined,
      })),
    ),
  );
}

/**
 * Turns this party's additive shares of the folded, encoded weights (Z_2^64, in foldedShapes
 * order; e.g. from the enclave service) into the secure model: per block one `inputShared`
 * round and one fixed-operand round. Shapes are checked against the config.
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
  return assembleSecureModel(ctx, config, o, async (blocks) => {
    const width = (b: WeightBlock): number => T.sizeOf(b.shape) / (b.end - b.start);
    const joined = await inputShared(
      ctx,
      T.concatFlat(
        Z64,
        blocks.map((b) => T.sliceFlat(shares[b.index], b.start * width(b), b.end * width(b))),
      ),
    );
    return L.splitS(
      joined,
      blocks.map((b) => b.shape),
    );
  });
}

export interface LoadOptions {
  /**
   * Pin the decode weight matrices (layers and LM head) resident-only in the kernels' memory as
   * their rows are opened (protocols/fixed-operand.ts `beginFixed`; semi-honest mode), so a
   * party holds D and its share of W once, and never whole outside the kernels' memory. The
   * caller must {@link releaseSecureModel} when the session ends.
   */
  readonly pin?: boolean;
  /** Elements per block group (default {@link WEIGHT_BLOCK_ELEMENTS}); smaller bounds memory tighter at more rounds. */
  readonly blockElements?: number;
}

/** Names of the matrices {@link LoadOptions.pin} pins: all but the token and position tables. */
const pinned = (name: string): boolean => name !== 'embedding' && name !== 'positions';

/** Brings the weights in block group by block group (`share` makes one group's secret tensors) and builds the model. */
async function assembleSecureModel(
  ctx: PartyContext,
  config: ModelConfig,
  o: LoadOptions,
  share: (blocks: WeightBlock[]) => Promise<SecretTensor[]>,
): Promise<SecureModel> {
  const limit = o.blockElements ?? WEIGHT_BLOCK_ELEMENTS;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`blockElements: expected an integer ≥ 1, got ${limit}`);
  const specs = foldedShapes(config);
  const byName = new Map<string, SecretTensor>();
  const op = new Map<string, FixedOperand>();
  const started = new Map<number, FixedInProgress>();
  try {
    for (const group of weightBlocks(specs, limit)) {
      // The group's mask rows are requested before its input, so both dealer round trips overlap.
      const operands = group.map((b) => {
        const spec = specs[b.index];
        if (spec.kind !== 'matrix') return undefined;
        let operand = started.get(b.index);
        if (!operand) {
          const [k, n] = spec.shape;
          const resident = o.pin && pinned(spec.name);
          started.set(b.index, (operand = beginFixed(ctx, `w.${spec.name}`, k, n, { resident, pieceRows: blockRows(n, limit) })));
        }
        requestFixedRows(operand, b.end);
        return operand;
      });
      const shared = await share(group);
      const rows: { operand: FixedInProgress; start: number; w: SecretTensor }[] = [];
      group.forEach((b, j) => {
        const operand = operands[j];
        if (operand) rows.push({ operand, start: b.start, w: shared[j] });
        else byName.set(specs[b.index].name, shared[j]);
      });
      await openFixedRows(ctx, rows);
      for (const [index, p] of started) {
        if (p.rows < p.shape[0]) continue;
        started.delete(index);
        op.set(specs[index].name, finishFixed(ctx, p));
      }
    }
  } catch (e) {
    // Pins of operands prepared (or begun) before the failure would otherwise stay in the kernels' memory.
    for (const w of op.values()) releaseFixed(w);
    for (const p of started.values()) abandonFixed(p);
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
  return {
    config,
    embedding: op.get('embedding') as FixedOperand,
    positions: gpt2 ? op.get('positions') : undefined,
    layers,
    lmHead: lin('lmHead', gpt2 ? 'lmHeadBias' : undefined),
  };
}

/** Frees what {@link LoadOptions.pin} pinned (the model is unusable afterwards). */
export function releaseSecureModel(m: SecureModel): void {
  for (const l of m.layers) for (const x of [l.wqkv, l.wo, l.up, l.down]) releaseFixed(x.w);
  releaseFixed(m.lmHead.w);
}
