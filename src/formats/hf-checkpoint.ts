/**
 * Hugging Face checkpoint directories for the GPT-2 and LLaMA families:
 * `config.json` + `model.safetensors` (or sharded `model.safetensors.index.json`) + a tokenizer
 * (`vocab.json`+`merges.txt`, else `tokenizer.json`, else none).
 *
 * Everything is converted to the {@link ModelWeights} layout once: GPT-2 `Conv1D` weights are
 * already `[in, out]`; LLaMA `nn.Linear` weights `[out, in]` are transposed; the LM head becomes
 * `[dim, vocab]` (the transposed embedding when tied). HF LLaMA q/k weights are already permuted
 * for `rotate_half`, hence `ropeStyle: 'half'`. Every expected tensor must be present with the
 * exact expected shape; extra tensors (attention-mask buffers, `rotary_emb.inv_freq`) are ignored.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import { aint, anumber, aoneOf, describe } from '../base/validate.ts';
import { loadGpt2Tokenizer } from './gpt2-bpe.ts';
import { loadTokenizerJson } from './hf-tokenizer-json.ts';
import type { FloatTensor, Gpt2LayerWeights, LlamaLayerWeights, LoadedModel, ModelConfig, ModelWeights, Tokenizer } from './model-spec.ts';
import { parseSafetensors, type SafetensorsTensor } from './safetensors.ts';

export interface LoadHfOptions {
  /** Skip tokenizer files (e.g. a SentencePiece tokenizer.json this loader cannot read). */
  readonly skipTokenizer?: boolean;
}

/** Loads a Hugging Face GPT-2 or LLaMA checkpoint directory. */
export function loadHfCheckpoint(dir: string, options: LoadHfOptions = {}): LoadedModel {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ValidationError(`checkpoint directory ${dir} does not exist or is not a directory`);
  }
  const src = directorySource(dir);
  const config = mapHfConfig(parseJson(need(src, 'config.json'), src.where('config.json')), src.where('config.json'));
  const { tensors, source } = readCheckpointTensors(src);
  const weights = mapHfWeights(config, tensors, source);
  const tokenizer = options.skipTokenizer ? undefined : loadHfTokenizer(dir);
  if (tokenizer !== undefined && tokenizer.vocabSize > config.vocabSize) {
    throw new ValidationError(`${dir}: tokenizer has ids up to ${tokenizer.vocabSize - 1}, but config vocab_size is ${config.vocabSize}`);
  }
  return { config, weights, tokenizer, source: dir };
}

/**
 * A checkpoint held in memory as file name → bytes (e.g. unpacked from a decrypted model
 * envelope, so the plaintext never touches a disk). No tokenizer is loaded.
 */
export function loadHfCheckpointFiles(files: ReadonlyMap<string, Uint8Array>, label: string): LoadedModel {
  const src: FileSource = { read: (name) => files.get(name), where: (name) => `${label}:${name}` };
  const config = mapHfConfig(parseJson(need(src, 'config.json'), src.where('config.json')), src.where('config.json'));
  const { tensors, source } = readCheckpointTensors(src);
  return { config, weights: mapHfWeights(config, tensors, source), tokenizer: undefined, source: label };
}

/** The config and tokenizer of a checkpoint directory, without reading any weights. */
export function loadHfPublic(dir: string): { config: ModelConfig; tokenizer: Tokenizer | undefined } {
  const src = directorySource(dir);
  const config = mapHfConfig(parseJson(need(src, 'config.json'), src.where('config.json')), src.where('config.json'));
  return { config, tokenizer: loadHfTokenizer(dir) };
}

/** The tokenizer of a checkpoint directory: vocab.json+merges.txt, else tokenizer.json, else undefined. */
export function loadHfTokenizer(dir: string): Tokenizer | undefined {
  const [vocab, merges, json] = ['vocab.json', 'merges.txt', 'tokenizer.json'].map((f) => join(dir, f));
  if (existsSync(vocab) && existsSync(merges)) return loadGpt2Tokenizer(vocab, merges);
  if (existsSync(json)) return loadTokenizerJson(json);
  return undefined;
}

/** Maps a parsed `config.json` to {@link ModelConfig}. `source` names the file in messages. */
export function mapHfConfig(raw: unknown, source: string): ModelConfig {
  if (!isRecord(raw)) throw new ValidationError(`${source}: expected a JSON object, got ${describe(raw)}`);
  const archs = Array.isArray(raw['architectures']) ? raw['architectures'] : [];
  let type = raw['model_type'];
  if (type === undefined && archs.length > 0) {
    type = archs[0] === 'GPT2LMHeadModel' ? 'gpt2' : archs[0] === 'LlamaForCausalLM' ? 'llama' : archs.join(', ');
  }
  const f = fields(raw, source);
  if (type === 'gpt2') return gpt2Config(raw, f, source);
  if (type === 'llama') return llamaConfig(raw, f, source);
  const shown = typeof type === 'string' ? type : type === undefined ? '(none: no model_type or architectures)' : describe(type);
  throw new ValidationError(`${source}: unsupported architecture ${shown} (supported: gpt2, llama)`);
}

type Fields = ReturnType<typeof fields>;

/** Typed accessors for config keys; `def` applies when the key is absent or null. */
function fields(raw: Record<string, unknown>, source: string) {
  const name = (key: string) => `${key} in ${source}`;
  const absent = (key: string) => raw[key] === undefined || raw[key] === null;
  return {
    int: (key: string, def?: number, min = 1): number => {
      if (!absent(key)) return aint(raw[key], name(key), min);
      if (def !== undefined) return def;
      throw new ValidationError(`${source}: missing ${key} (expected an integer >= ${min})`);
    },
    num: (key: string, def: number): number => (absent(key) ? def : anumber(raw[key], name(key), 0)),
    tokenId: (key: string): number | undefined => {
      const v = Array.isArray(raw[key]) ? (raw[key] as unknown[])[0] : raw[key];
      return v === undefined || v === null ? undefined : aint(v, name(key), 0);
    },
    fail: (key: string, expected: string): never => {
      throw new ValidationError(`${source}: ${key} = ${describe(raw[key])} is not supported (expected ${expected})`);
    },
  };
}

function gpt2Config(raw: Record<string, unknown>, f: Fields, source: string): ModelConfig {
  const dim = f.int('n_embd');
  const nHeads = f.int('n_head');
  if (dim % nHeads !== 0) throw new ValidationError(`${source}: n_embd ${dim} is not divisible by n_head ${nHeads}`);
  if (raw['scale_attn_weights'] === false) f.fail('scale_attn_weights', 'true');
  if (raw['scale_attn_by_inverse_layer_idx'] === true) f.fail('scale_attn_by_inverse_layer_idx', 'false');
  const act = aoneOf(raw['activation_function'] ?? 'gelu_new', `activation_function in ${source}`, [
    'gelu_new',
    'gelu_pytorch_tanh',
    'gelu',
  ]);
  return {
    arch: 'gpt2',
    dim,
    nHeads,
    nKvHeads: nHeads,
    headDim: dim / nHeads,
    nLayers: f.int('n_layer'),
    hiddenDim: f.int('n_inner', 4 * dim),
    vocabSize: f.int('vocab_size'),
    maxSeqLen: raw['n_positions'] === undefined && raw['n_ctx'] !== undefined ? f.int('n_ctx') : f.int('n_positions'),
    normEps: f.num('layer_norm_epsilon', 1e-5),
    ropeTheta: 0, // unused: GPT-2 has learned position embeddings
    ropeStyle: 'half',
    tiedEmbeddings: raw['tie_word_embeddings'] !== false,
    activation: act === 'gelu' ? 'gelu_erf' : 'gelu_tanh',
    bosId: f.tokenId('bos_token_id'),
    eosId: f.tokenId('eos_token_id'),
  };
}

function llamaConfig(raw: Record<string, unknown>, f: Fields, source: string): ModelConfig {
  const dim = f.int('hidden_size');
  const nHeads = f.int('num_attention_heads');
  const nKvHeads = f.int('num_key_value_heads', nHeads);
  if (dim % nHeads !== 0) throw new ValidationError(`${source}: hidden_size ${dim} is not divisible by num_attention_heads ${nHeads}`);
  const headDim = dim / nHeads;
  if (nHeads % nKvHeads !== 0) {
    throw new ValidationError(`${source}: num_attention_heads ${nHeads} is not a multiple of num_key_value_heads ${nKvHeads}`);
  }
  if (headDim % 2 !== 0) throw new ValidationError(`${source}: head dimension ${headDim} must be even for RoPE`);
  if (raw['head_dim'] !== undefined && raw['head_dim'] !== null && raw['head_dim'] !== headDim)
    f.fail('head_dim', `${headDim} = hidden_size / num_attention_heads`);
  if ((raw['hidden_act'] ?? 'silu') !== 'silu') f.fail('hidden_act', '"silu"');
  if (raw['rope_scaling'] !== undefined && raw['rope_scaling'] !== null) f.fail('rope_scaling', 'null');
  for (const key of ['attention_bias', 'mlp_bias']) if (raw[key] === true) f.fail(key, 'false');
  return {
    arch: 'llama',
    dim,
    nHeads,
    nKvHeads,
    headDim,
    nLayers: f.int('num_hidden_layers'),
    hiddenDim: f.int('intermediate_size'),
    vocabSize: f.int('vocab_size'),
    maxSeqLen: f.int('max_position_embeddings', 2048),
    normEps: f.num('rms_norm_eps', 1e-6),
    ropeTheta: f.num('rope_theta', 10000),
    ropeStyle: 'half',
    tiedEmbeddings: raw['tie_word_embeddings'] === true,
    activation: 'silu',
    bosId: f.tokenId('bos_token_id'),
    eosId: f.tokenId('eos_token_id'),
  };
}

/** Maps HF tensors to {@link ModelWeights}, checking every expected name and shape. */
export function mapHfWeights(config: ModelConfig, tensors: ReadonlyMap<string, SafetensorsTensor>, source: string): ModelWeights {
  const take = (name: string, shape: number[]): FloatTensor => {
    const t = tensors.get(name);
    if (t === undefined) throw new ValidationError(`${source}: missing tensor ${name} (expected shape ${fmt(shape)})`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ValidationError(`${source}: shape mismatch for tensor ${name}: expected ${fmt(shape)}, got ${fmt(t.shape)}`);
    }
    return { shape, data: t.data };
  };
  const { dim: d, hiddenDim: h, vocabSize: v } = config;
  if (config.arch === 'gpt2') {
    const p = tensors.has('transformer.wte.weight') ? 'transformer.' : '';
    const g = (name: string, shape: number[]) => take(p + name, shape);
    const tokenEmbedding = g('wte.weight', [v, d]);
    const positionEmbedding = g('wpe.weight', [config.maxSeqLen, d]);
    const layers: Gpt2LayerWeights[] = [];
    for (let i = 0; i < config.nLayers; i++) {
      const l = `h.${i}.`;
      layers.push({
        ln1Weight: g(`${l}ln_1.weight`, [d]),
        ln1Bias: g(`${l}ln_1.bias`, [d]),
        qkvWeight: g(`${l}attn.c_attn.weight`, [d, 3 * d]),
        qkvBias: g(`${l}attn.c_attn.bias`, [3 * d]),
        projWeight: g(`${l}attn.c_proj.weight`, [d, d]),
        projBias: g(`${l}attn.c_proj.bias`, [d]),
        ln2Weight: g(`${l}ln_2.weight`, [d]),
        ln2Bias: g(`${l}ln_2.bias`, [d]),
        fcWeight: g(`${l}mlp.c_fc.weight`, [d, h]),
        fcBias: g(`${l}mlp.c_fc.bias`, [h]),
        fcProjWeight: g(`${l}mlp.c_proj.weight`, [h, d]),
        fcProjBias: g(`${l}mlp.c_proj.bias`, [d]),
      });
    }
    const finalNormWeight = g('ln_f.weight', [d]);
    const finalNormBias = g('ln_f.bias', [d]);
    const outputEmbedding = config.tiedEmbeddings ? tokenEmbedding : take('lm_head.weight', [v, d]);
    return { arch: 'gpt2', tokenEmbedding, positionEmbedding, layers, finalNormWeight, finalNormBias, outputEmbedding };
  }
  const { nHeads, nKvHeads, headDim } = config;
  /** nn.Linear weight [out, in] → [in, out]. */
  const linear = (name: string, out: number, inp: number) => transpose(take(name, [out, inp]));
  const tokenEmbedding = take('model.embed_tokens.weight', [v, d]);
  const layers: LlamaLayerWeights[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const l = `model.layers.${i}.`;
    layers.push({
      attnNorm: take(`${l}input_layernorm.weight`, [d]),
      wq: linear(`${l}self_attn.q_proj.weight`, nHeads * headDim, d),
      wk: linear(`${l}self_attn.k_proj.weight`, nKvHeads * headDim, d),
      wv: linear(`${l}self_attn.v_proj.weight`, nKvHeads * headDim, d),
      wo: linear(`${l}self_attn.o_proj.weight`, d, nHeads * headDim),
      ffnNorm: take(`${l}post_attention_layernorm.weight`, [d]),
      w1: linear(`${l}mlp.gate_proj.weight`, h, d),
      w3: linear(`${l}mlp.up_proj.weight`, h, d),
      w2: linear(`${l}mlp.down_proj.weight`, d, h),
    });
  }
  const finalNorm = take('model.norm.weight', [d]);
  const outputEmbedding = config.tiedEmbeddings ? tokenEmbedding : take('lm_head.weight', [v, d]);
  return { arch: 'llama', tokenEmbedding, layers, finalNorm, outputEmbedding };
}

/** Row-major [rows, cols] → [cols, rows] (a new array). */
export function transpose(t: FloatTensor): FloatTensor {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  }
  return { shape: [cols, rows], data: out };
}

/** model.safetensors, or every shard named by model.safetensors.index.json. */
/** Reads a checkpoint's files by name: from a directory, or from memory (a decrypted envelope). */
interface FileSource {
  /** The file's bytes, or undefined if it does not exist. */
  read(name: string): Uint8Array | undefined;
  /** How to name `name` in messages. */
  where(name: string): string;
}

function directorySource(dir: string): FileSource {
  return {
    where: (name) => join(dir, name),
    read: (name) => {
      const path = join(dir, name);
      if (!existsSync(path)) return undefined;
      try {
        return readFileSync(path);
      } catch (e) {
        throw new ValidationError(`cannot read ${path}: ${(e as Error).message}`);
      }
    },
  };
}

function need(src: FileSource, name: string): Uint8Array {
  const bytes = src.read(name);
  if (bytes === undefined) throw new ValidationError(`${src.where(name)} does not exist`);
  return bytes;
}

function readCheckpointTensors(src: FileSource): { tensors: Map<string, SafetensorsTensor>; source: string } {
  const single = src.read('model.safetensors');
  if (single !== undefined)
    return { tensors: parseSafetensors(single, src.where('model.safetensors')), source: src.where('model.safetensors') };
  const indexName = 'model.safetensors.index.json';
  const indexBytes = src.read(indexName);
  if (indexBytes === undefined) {
    const hint = src.read('pytorch_model.bin') !== undefined ? ' (pytorch_model.bin is not supported: convert it to safetensors)' : '';
    throw new ValidationError(`${src.where('')}: no model.safetensors or model.safetensors.index.json${hint}`);
  }
  const index = parseJson(indexBytes, src.where(indexName));
  const map = isRecord(index) ? index['weight_map'] : undefined;
  if (!isRecord(map) || !Object.values(map).every((v) => typeof v === 'string' && !v.includes('/') && !v.includes('\\'))) {
    throw new ValidationError(`${src.where(indexName)}: expected weight_map: {tensor name: shard file name}`);
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const shard of new Set(Object.values(map) as string[])) {
    for (const [name, t] of parseSafetensors(need(src, shard), src.where(shard))) tensors.set(name, t);
  }
  return { tensors, source: `${src.where(indexName)} shards` };
}

function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ValidationError(`${where}: not valid JSON (${(e as Error).message})`);
  }
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
