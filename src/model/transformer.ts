/**
 * The secure decoder forward pass, block for block as reference/llama.ts and reference/gpt2.ts
 * (norm gains and the attention scale are folded into the weights, see fold-weights.ts):
 *
 *   LLaMA, per layer:  h = rmsnorm(x);  q|k|v = h·Wqkv;  rope(q, k);  x += attn(q, k, v)·Wo
 *                      h = rmsnorm(x);  x += (silu(h·W1) ⊙ h·W3)·W2
 *   GPT-2, per layer:  h = layernorm(x); q|k|v = h·Wqkv + b; x += attn(q, k, v)·Wo + bo
 *                      h = layernorm(x); x += gelu(h·Wfc + bfc)·Wproj + bproj
 *   logits = norm(x_last)·lmHead (+ b)
 *
 * `feed` takes T new tokens (a block of the prompt's rows when prefilling, or one token when
 * decoding), appends their keys/values to the secret-shared KV cache and returns their hidden
 * states; `forward` is `feed` and the LM head of the last position (only its logits are computed).
 */
import { ValidationError } from '../base/errors.ts';
import { layerNorm, rmsNorm } from '../approx/norms.ts';
import { causalAttention, emptyLayerCache, requestAttentionMaterial, type LayerCache } from '../nn/attention.ts';
import { embedPublic, embedSecret } from '../nn/embedding.ts';
import { addBias, linear } from '../nn/linear.ts';
import { gpt2Mlp, splitColumns, swiglu } from '../nn/mlp.ts';
import { ropeSecret } from '../nn/rope.ts';
import { phase, type PartyContext } from '../protocols/context.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import type { SecureModel } from './secure-weights.ts';

export interface ModelCache {
  readonly layers: LayerCache[];
  length: number;
}

export function emptyModelCache(model: SecureModel, sessionTag = 'kv'): ModelCache {
  return { layers: model.layers.map((_, l) => emptyLayerCache(`${sessionTag}.${l}`, model.config.nKvHeads)), length: 0 };
}

/** Tokens to feed: public ids (revealed tokens) or secret one-hot rows [T, vocab]. */
export type TokenInput =
  { readonly kind: 'public'; readonly ids: readonly number[] } | { readonly kind: 'secret'; readonly onehot: SecretTensor };

/** Feeds the tokens at the next positions; returns the logits of the last one [1, vocab]. */
export async function forward(
  ctx: PartyContext,
  model: SecureModel,
  cache: ModelCache,
  tokens: TokenInput,
  maxContext: number,
): Promise<SecretTensor> {
  return lastLogits(ctx, model, await feed(ctx, model, cache, tokens, maxContext));
}

/**
 * Feeds the tokens at the next positions through every layer (their keys and values join the
 * cache); returns their hidden states [T, dim] before the final norm.
 */
export async function feed(
  ctx: PartyContext,
  model: SecureModel,
  cache: ModelCache,
  tokens: TokenInput,
  maxContext: number,
): Promise<SecretTensor> {
  const c = model.config;
  const count = tokens.kind === 'public' ? tokens.ids.length : tokens.onehot.shape[0];
  const limit = Math.min(maxContext, c.maxSeqLen);
  if (count === 0) throw new ValidationError('forward: no tokens to feed');
  if (cache.length + count > limit) {
    throw new ValidationError(
      `context of ${cache.length + count} tokens exceeds scheduler.max_context = ${limit}`,
      'scheduler.max_context',
    );
  }
  let x =
    tokens.kind === 'public'
      ? embedPublic(ctx, model.embedding, tokens.ids)
      : await phase(ctx, 'embedding', () => embedSecret(ctx, tokens.onehot, model.embedding));
  if (model.positions)
    x = L.addSS(
      x,
      embedPublic(
        ctx,
        model.positions,
        Array.from({ length: count }, (_, t) => cache.length + t),
      ),
    );

  // Every layer's KV masks and attention triples requested now, in layer order: the dealer
  // prepares layer l's while layers before it run (they cannot be pooled: the cache grows).
  const attentionMaterial = cache.layers.map((layer) => requestAttentionMaterial(ctx, layer, count, c));
  for (let l = 0; l < c.nLayers; l++) {
    const w = model.layers[l];
    const norm = (v: SecretTensor): Promise<SecretTensor> =>
      phase(ctx, 'norm', () => (c.arch === 'llama' ? rmsNorm(ctx, v, c.normEps) : layerNorm(ctx, v, c.normEps)));
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const h1 = await norm(x);
    const [q0, k0, v] = splitColumns(await phase(ctx, 'attention.qkv', () => linear(ctx, h1, w.wqkv)), [qDim, kvDim, kvDim]);
    let q = q0;
    let k = k0;
    if (c.arch === 'llama') {
      // q and k rotate identically per head: one call over [T, (nHeads + nKvHeads)·hd].
      const spec = { nHeads: c.nHeads + c.nKvHeads, headDim: c.headDim, theta: c.ropeTheta, style: c.ropeStyle };
      const rotated = await ropeSecret(ctx, L.reshapeS(concatColumns(q0, k0), [count, qDim + kvDim]), cache.length, spec);
      [q, k] = splitColumns(rotated, [qDim, kvDim]);
    }
    const att = await phase(ctx, 'attention.scores-values', () => causalAttention(ctx, q, k, v, cache.layers[l], c, attentionMaterial[l]));
    x = L.addSS(x, await phase(ctx, 'attention.out', () => linear(ctx, att, w.wo)));
    const h = await norm(x);
    const mlp =
      c.arch === 'llama'
        ? await swiglu(ctx, h, w.up, w.down, c.hiddenDim)
        : await gpt2Mlp(ctx, h, w.up, w.down, c.activation === 'gelu_erf' ? 'erf' : 'tanh');
    x = L.addSS(x, mlp);
  }
  cache.length += count;
  return x;
}

/** The logits [1, vocab] of the last row of hidden states x [T, dim]: final norm and LM head. */
export async function lastLogits(ctx: PartyContext, model: SecureModel, x: SecretTensor): Promise<SecretTensor> {
  const c = model.config;
  const count = x.shape[0];
  const last = L.sliceS(x, (count - 1) * c.dim, count * c.dim);
  const normed = await phase(ctx, 'norm', () =>
    c.arch === 'llama' ? rmsNorm(ctx, L.reshapeS(last, [1, c.dim]), c.normEps) : layerNorm(ctx, L.reshapeS(last, [1, c.dim]), c.normEps),
  );
  return addBias(await phase(ctx, 'lm-head', () => linear(ctx, normed, { w: model.lmHead.w, bias: undefined })), model.lmHead.bias);
}

/** [rows, a] ‖ [rows, b] → [rows, a + b]. */
function concatColumns(a: SecretTensor, b: SecretTensor): SecretTensor {
  const [rows, wa] = a.shape;
  const wb = b.shape[1];
  const joined = L.concatS([a, b]);
  const idx = new Int32Array(rows * (wa + wb));
  for (let t = 0; t < rows; t++) {
    for (let j = 0; j < wa; j++) idx[t * (wa + wb) + j] = t * wa + j;
    for (let j = 0; j < wb; j++) idx[t * (wa + wb) + wa + j] = rows * wa + t * wb + j;
  }
  return L.gatherS(joined, idx, [rows, wa + wb]);
}
