import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeGpt2Fixture } from '../../test/fixtures/gpt2-fixture.ts';
import { writeLlamaFixture } from '../../test/fixtures/llama-fixture.ts';
import { ValidationError } from '../base/errors.ts';
import { ByteLevelBpe } from './gpt2-bpe.ts';
import { loadHfCheckpoint, mapHfConfig } from './hf-checkpoint.ts';
import type { Gpt2Weights, LlamaWeights } from './model-spec.ts';
import { parseSafetensors, writeSafetensors, type SafetensorsInput } from './safetensors.ts';

let tmp: string;
let copies = 0;
/** A fresh copy of a fixture directory, to damage. */
const copy = (name: string) => {
  const dir = join(tmp, `${name}-copy${copies++}`);
  cpSync(join(tmp, name), dir, { recursive: true });
  return dir;
};
const raw = (dir: string) => parseSafetensors(readFileSync(join(dir, 'model.safetensors')), 'raw');
const rewriteTensors = (dir: string, edit: (t: Record<string, SafetensorsInput>) => Record<string, SafetensorsInput>) => {
  const t = Object.fromEntries([...raw(dir)].map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(edit(t)));
};
const editConfig = (dir: string, edit: (c: Record<string, unknown>) => void) => {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
};
const rejects = (dir: string, message: string | RegExp) =>
  assert.throws(
    () => loadHfCheckpoint(dir),
    (e: unknown) => {
      assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hf-ckpt-'));
  writeGpt2Fixture(join(tmp, 'gpt2'));
  writeLlamaFixture(join(tmp, 'llama'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadHfCheckpoint: GPT-2', () => {
  it('maps config, shapes, Conv1D layout and the tied LM head', () => {
    const dir = join(tmp, 'gpt2');
    const m = loadHfCheckpoint(dir);
    const V = m.config.vocabSize;
    assert.equal(V, 317);
    assert.deepEqual(m.config, {
      arch: 'gpt2',
      dim: 64,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 4,
      headDim: 16,
      hiddenDim: 256,
      vocabSize: V,
      maxSeqLen: 128,
      normEps: 1e-5,
      ropeTheta: 0,
      ropeStyle: 'half',
      tiedEmbeddings: true,
      activation: 'gelu_tanh',
      bosId: V - 1,
      eosId: V - 1,
    });
    assert.equal(m.source, dir);
    const w = m.weights as Gpt2Weights;
    assert.equal(w.arch, 'gpt2');
    assert.deepEqual(w.tokenEmbedding.shape, [V, 64]);
    assert.deepEqual(w.positionEmbedding.shape, [128, 64]);
    assert.equal(w.layers.length, 2);
    const l = w.layers[1];
    assert.deepEqual(
      [l.qkvWeight.shape, l.qkvBias.shape, l.projWeight.shape, l.fcWeight.shape, l.fcProjWeight.shape],
      [[64, 192], [192], [64, 64], [64, 256], [256, 64]],
    );
    const file = raw(dir);
    assert.deepEqual(l.qkvWeight.data, file.get('h.1.attn.c_attn.weight')!.data, 'Conv1D is already [in, out]');
    assert.equal(w.outputEmbedding, w.tokenEmbedding, 'tied: the LM head is wte itself, not a transposed copy');
    assert.deepEqual(w.tokenEmbedding.data, file.get('wte.weight')!.data);
    assert.ok(m.tokenizer instanceof ByteLevelBpe);
    assert.equal(m.tokenizer.decode(m.tokenizer.encode('Hello world')), 'Hello world');
  });

  it('accepts the transformer. prefix, an explicit untied lm_head, and sharded files', () => {
    const prefixed = copy('gpt2');
    rewriteTensors(prefixed, (t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [`transformer.${k}`, v])));
    const ref = loadHfCheckpoint(join(tmp, 'gpt2')).weights as Gpt2Weights;
    assert.deepEqual((loadHfCheckpoint(prefixed).weights as Gpt2Weights).layers[0].fcWeight, ref.layers[0].fcWeight);

    const untied = copy('gpt2');
    const head = { shape: [317, 64], data: new Float32Array(317 * 64).map((_, i) => i) };
    rewriteTensors(untied, (t) => ({ ...t, 'lm_head.weight': head }));
    editConfig(untied, (c) => (c['tie_word_embeddings'] = false));
    const u = loadHfCheckpoint(untied);
    assert.equal(u.config.tiedEmbeddings, false);
    assert.deepEqual(u.weights.outputEmbedding.shape, [317, 64]);
    assert.equal(u.weights.outputEmbedding.data[5 * 64 + 3], 5 * 64 + 3, 'lm_head.weight as stored, [vocab, dim]');
    assert.notEqual(u.weights.outputEmbedding, u.weights.tokenEmbedding);

    const sharded = copy('gpt2');
    const all = raw(sharded);
    const names = [...all.keys()];
    const shard = (part: string[]) => writeSafetensors(Object.fromEntries(part.map((n) => [n, all.get(n)!])));
    writeFileSync(join(sharded, 'model-1.safetensors'), shard(names.slice(0, 10)));
    writeFileSync(join(sharded, 'model-2.safetensors'), shard(names.slice(10)));
    unlinkSync(join(sharded, 'model.safetensors'));
    const weightMap = Object.fromEntries(names.map((n, i) => [n, i < 10 ? 'model-1.safetensors' : 'model-2.safetensors']));
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    assert.deepEqual((loadHfCheckpoint(sharded).weights as Gpt2Weights).layers[1].fcProjBias, ref.layers[1].fcProjBias);
  });

  it('rejects a corrupted safetensors header', () => {
    const dir = copy('gpt2');
    const path = join(dir, 'model.safetensors');
    const bytes = readFileSync(path);
    bytes[8] = 0x7d; // '}' where '{' should be
    writeFileSync(path, bytes);
    rejects(dir, new RegExp(`^${path}: corrupted header: bytes 8\\.\\.\\d+ are not valid UTF-8 JSON \\(`));
  });

  it('rejects a truncated tensor', () => {
    const dir = copy('gpt2');
    const path = join(dir, 'model.safetensors');
    const size = readFileSync(path).length;
    truncateSync(path, size - 100);
    rejects(dir, `${path}: truncated tensor ln_f.bias: expected 256 bytes at byte offset ${size - 256}, file has 156`);
  });

  it('rejects a shape mismatch between config.json and the tensors', () => {
    const dir = copy('gpt2');
    editConfig(dir, (c) => (c['n_embd'] = 32));
    rejects(dir, `${join(dir, 'model.safetensors')}: shape mismatch for tensor wte.weight: expected [317, 32], got [317, 64]`);
  });

  it('rejects a missing tensor', () => {
    const dir = copy('gpt2');
    rewriteTensors(dir, ({ 'h.1.mlp.c_fc.bias': _, ...rest }) => rest);
    rejects(dir, `${join(dir, 'model.safetensors')}: missing tensor h.1.mlp.c_fc.bias (expected shape [256])`);
  });

  it('rejects unsupported architectures and bad config fields', () => {
    const dir = copy('gpt2');
    editConfig(dir, (c) => (c['model_type'] = 'mistral'));
    rejects(dir, `${join(dir, 'config.json')}: unsupported architecture mistral (supported: gpt2, llama)`);
    editConfig(dir, (c) => {
      c['model_type'] = 'gpt2';
      delete c['n_head'];
    });
    rejects(dir, `${join(dir, 'config.json')}: missing n_head (expected an integer >= 1)`);
    editConfig(dir, (c) => (c['n_head'] = 2.5));
    rejects(dir, `n_head in ${join(dir, 'config.json')}: expected an integer in [1, 9007199254740991], got number 2.5`);
    rejects(join(tmp, 'nope'), `checkpoint directory ${join(tmp, 'nope')} does not exist or is not a directory`);
  });
});

describe('loadHfCheckpoint: LLaMA', () => {
  it('maps config (GQA, untied head, half RoPE) and transposes nn.Linear weights', () => {
    const dir = join(tmp, 'llama');
    const m = loadHfCheckpoint(dir);
    const V = 318;
    assert.deepEqual(m.config, {
      arch: 'llama',
      dim: 64,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 16,
      hiddenDim: 160,
      vocabSize: V,
      maxSeqLen: 128,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeStyle: 'half',
      tiedEmbeddings: false,
      activation: 'silu',
      bosId: V - 2,
      eosId: V - 1,
    });
    const w = m.weights as LlamaWeights;
    const l = w.layers[1];
    assert.deepEqual(
      [l.wq.shape, l.wk.shape, l.wv.shape, l.wo.shape, l.w1.shape, l.w3.shape, l.w2.shape],
      [
        [64, 64],
        [64, 32],
        [64, 32],
        [64, 64],
        [64, 160],
        [64, 160],
        [160, 64],
      ],
    );
    assert.deepEqual([w.tokenEmbedding.shape, w.finalNorm.shape, w.outputEmbedding.shape], [[V, 64], [64], [V, 64]]);
    const file = raw(dir);
    // HF k_proj is [out=32, in=64]; ours is [in, out]: wk[i][o] = k_proj[o][i].
    const [o, i] = [5, 17];
    assert.equal(l.wk.data[i * 32 + o], file.get('model.layers.1.self_attn.k_proj.weight')!.data[o * 64 + i]);
    assert.equal(l.w1.data[i * 160 + 100], file.get('model.layers.1.mlp.gate_proj.weight')!.data[100 * 64 + i], 'gate → w1');
    assert.equal(l.w3.data[i * 160 + 100], file.get('model.layers.1.mlp.up_proj.weight')!.data[100 * 64 + i], 'up → w3');
    assert.equal(l.w2.data[100 * 64 + i], file.get('model.layers.1.mlp.down_proj.weight')!.data[i * 160 + 100], 'down → w2');
    assert.equal(w.outputEmbedding.data[250 * 64 + i], file.get('lm_head.weight')!.data[250 * 64 + i]);
    assert.notEqual(w.outputEmbedding.data[250 * 64 + i], w.tokenEmbedding.data[250 * 64 + i], 'untied');
    assert.ok(m.tokenizer !== undefined);
    assert.deepEqual(m.tokenizer.encode('<s>Hello world</s>'), [
      V - 2,
      ...loadHfCheckpoint(join(tmp, 'gpt2')).tokenizer!.encode('Hello world'),
      V - 1,
    ]);
  });

  it('rejects a missing untied lm_head and unsupported tokenizers; loads without a tokenizer', () => {
    const dir = copy('llama');
    rewriteTensors(dir, ({ 'lm_head.weight': _, ...rest }) => rest);
    rejects(dir, `${join(dir, 'model.safetensors')}: missing tensor lm_head.weight (expected shape [318, 64])`);
    const tok = copy('llama');
    writeFileSync(join(tok, 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
    rejects(
      tok,
      `${join(tok, 'tokenizer.json')}: unsupported tokenizer.json model type "Unigram" (supported: BPE with a ByteLevel pre-tokenizer)`,
    );
    assert.equal(loadHfCheckpoint(tok, { skipTokenizer: true }).tokenizer, undefined);
    unlinkSync(join(tok, 'tokenizer.json'));
    assert.equal(loadHfCheckpoint(tok).tokenizer, undefined);
  });
});

describe('mapHfConfig', () => {
  const gpt2 = { model_type: 'gpt2', n_embd: 8, n_layer: 1, n_head: 2, n_positions: 16, vocab_size: 300 };
  it('applies HF defaults and maps activations', () => {
    const c = mapHfConfig(gpt2, 'c');
    assert.deepEqual([c.hiddenDim, c.activation, c.normEps, c.tiedEmbeddings, c.bosId], [32, 'gelu_tanh', 1e-5, true, undefined]);
    assert.equal(mapHfConfig({ ...gpt2, activation_function: 'gelu' }, 'c').activation, 'gelu_erf');
    const { model_type: _, ...noType } = gpt2;
    assert.equal(mapHfConfig({ ...noType, architectures: ['GPT2LMHeadModel'] }, 'c').arch, 'gpt2');
    assert.throws(() => mapHfConfig({ ...gpt2, activation_function: 'relu' }, 'c'), {
      message: 'activation_function in c: expected one of "gelu_new", "gelu_pytorch_tanh", "gelu", got "relu"',
    });
  });
  it('reads LLaMA 3 style eos lists and rejects what the spec cannot express', () => {
    const llama = {
      model_type: 'llama',
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      vocab_size: 300,
    };
    const c = mapHfConfig({ ...llama, eos_token_id: [7, 8] }, 'c');
    assert.deepEqual([c.eosId, c.nKvHeads, c.ropeTheta, c.normEps, c.maxSeqLen], [7, 2, 10000, 1e-6, 2048]);
    assert.throws(() => mapHfConfig({ ...llama, rope_scaling: { rope_type: 'llama3' } }, 'c'), {
      message: 'c: rope_scaling = object is not supported (expected null)',
    });
    assert.throws(() => mapHfConfig({ ...llama, num_key_value_heads: 3 }, 'c'), {
      message: 'c: num_attention_heads 2 is not a multiple of num_key_value_heads 3',
    });
    assert.throws(() => mapHfConfig({ architectures: ['MistralForCausalLM'] }, 'c'), {
      message: 'c: unsupported architecture MistralForCausalLM (supported: gpt2, llama)',
    });
  });
});
