/**
 * Writes a trained model as a Hugging Face GPT-2 checkpoint directory, the layout the project
 * loads (src/formats/hf-checkpoint.ts): config.json, model.safetensors (HF tensor names,
 * Conv1D [in, out] weights, tied LM head: no lm_head.weight), vocab.json and merges.txt of a
 * byte-level tokenizer with no merges (every byte is one token).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BYTE_LEVEL_ORDER, BYTE_TO_UNICODE } from '../src/formats/gpt2-bpe.ts';
import { writeSafetensors, type SafetensorsDtype, type SafetensorsInput } from '../src/formats/safetensors.ts';
import { END_ID } from './data.ts';
import { paramLayout, type TrainConfig } from './gpt2-train.ts';

/** config.json of the checkpoint. */
export function hfConfig(c: TrainConfig): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.maxT,
    n_ctx: c.maxT,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: c.eps,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    tie_word_embeddings: true,
    bos_token_id: null,
    eos_token_id: END_ID,
    torch_dtype: 'float32',
  };
}

/** HF tensors from the trainer's flat parameters (per-layer slices of the stacked tensors). */
export function hfTensors(c: TrainConfig, params: Float32Array, dtype: SafetensorsDtype): Record<string, SafetensorsInput> {
  const layout = paramLayout(c);
  const C = c.nEmbd;
  const get = (name: string) => layout.tensors.find((t) => t.name === name)!;
  const slice = (name: string, l: number, shape: number[]): SafetensorsInput => {
    const t = get(name);
    const size = shape.reduce((a, b) => a * b, 1);
    const o = t.offset + l * size;
    return { shape, data: params.slice(o, o + size), dtype };
  };
  const out: Record<string, SafetensorsInput> = {
    'wte.weight': slice('wte', 0, [c.vocabSize, C]),
    'wpe.weight': slice('wpe', 0, [c.maxT, C]),
  };
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    out[`${p}ln_1.weight`] = slice('ln1w', l, [C]);
    out[`${p}ln_1.bias`] = slice('ln1b', l, [C]);
    out[`${p}attn.c_attn.weight`] = slice('qkvw', l, [C, 3 * C]);
    out[`${p}attn.c_attn.bias`] = slice('qkvb', l, [3 * C]);
    out[`${p}attn.c_proj.weight`] = slice('attprojw', l, [C, C]);
    out[`${p}attn.c_proj.bias`] = slice('attprojb', l, [C]);
    out[`${p}ln_2.weight`] = slice('ln2w', l, [C]);
    out[`${p}ln_2.bias`] = slice('ln2b', l, [C]);
    out[`${p}mlp.c_fc.weight`] = slice('fcw', l, [C, 4 * C]);
    out[`${p}mlp.c_fc.bias`] = slice('fcb', l, [4 * C]);
    out[`${p}mlp.c_proj.weight`] = slice('fcprojw', l, [4 * C, C]);
    out[`${p}mlp.c_proj.bias`] = slice('fcprojb', l, [C]);
  }
  out['ln_f.weight'] = slice('lnfw', 0, [C]);
  out['ln_f.bias'] = slice('lnfb', 0, [C]);
  return out;
}

/** vocab.json: the 256 byte-level symbols with GPT-2's ids (byte order of bytes_to_unicode). */
export function byteVocab(): Record<string, number> {
  return Object.fromEntries(BYTE_LEVEL_ORDER.map((b, id) => [BYTE_TO_UNICODE[b], id]));
}

/**
 * A flat JSON object, one key per line and each value on that line (the layout the repository's
 * formatter, prettier, gives such objects, so `npm run lint` accepts the written files as is).
 */
export function flatJson(obj: Record<string, unknown>): string {
  const lines = Object.entries(obj).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return `{\n${lines.join(',\n')}\n}\n`;
}

/** Writes config.json, model.safetensors, vocab.json and merges.txt into `dir`. */
export function writeCheckpoint(
  dir: string,
  c: TrainConfig,
  params: Float32Array,
  metadata: Record<string, string>,
  dtype: SafetensorsDtype = 'F32',
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), flatJson(hfConfig(c)));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(hfTensors(c, params, dtype), { format: 'pt', ...metadata }));
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(byteVocab(), null, 2) + '\n');
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
}
