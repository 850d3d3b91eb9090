import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import { llama2cExpectedBytes, llama2cLayout, loadLlama2c, parseLlama2c, parseLlama2cHeader } from './llama2c.ts';

/** dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len */
type Header = [number, number, number, number, number, number, number];
const TINY: Header = [8, 12, 2, 4, 2, 10, 6];

/** A version-0 checkpoint whose every float is its own index in the payload (exact in float32). */
function checkpoint(header: Header): Uint8Array {
  const h = parseLlama2cHeader(new Uint8Array(new Int32Array(header).buffer), 'header');
  const floats = (llama2cExpectedBytes(h) - 28) / 4;
  const bytes = new Uint8Array(28 + 4 * floats);
  bytes.set(new Uint8Array(new Int32Array(header).buffer), 0);
  new Float32Array(bytes.buffer, 28, floats).set(Float32Array.from({ length: floats }, (_, i) => i));
  return bytes;
}

/** Asserts a ValidationError whose message matches every pattern. */
function throwsValidation(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

function withHeader(header: Header): Uint8Array {
  const bytes = checkpoint(TINY);
  bytes.set(new Uint8Array(new Int32Array(header).buffer), 0);
  return bytes;
}

test('parses a tiny shared-classifier checkpoint and transposes (out, in) to [in, out]', () => {
  const m = parseLlama2c(checkpoint(TINY), 'tiny.bin');
  const [dim, hidden, , , nKv, vocab] = TINY;
  const kvDim = nKv * (dim / 4);
  assert.deepEqual(
    { ...m.config },
    {
      arch: 'llama',
      dim,
      nLayers: 2,
      nHeads: 4,
      nKvHeads: nKv,
      headDim: 2,
      hiddenDim: hidden,
      vocabSize: vocab,
      maxSeqLen: 6,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeStyle: 'interleaved',
      tiedEmbeddings: true,
      activation: 'silu',
      bosId: 1,
      eosId: 2,
    },
  );
  assert.equal(m.weights.arch, 'llama');
  if (m.weights.arch !== 'llama') return;
  const base = (name: string) =>
    (llama2cLayout(parseLlama2cHeader(checkpoint(TINY), 't')).find((s) => s.name === name)!.byteOffset - 28) / 4;
  const l = 1;
  const layer = m.weights.layers[l];
  assert.deepEqual(layer.wk.shape, [dim, kvDim]);
  assert.deepEqual(layer.w2.shape, [hidden, dim]);
  // wk file (L, kv_dim, dim): element (l, o, i) → spec [i, o]
  assert.equal(layer.wk.data[3 * kvDim + 1], base('wk') + l * kvDim * dim + 1 * dim + 3);
  // w2 file (L, dim, hidden): element (l, o, i) → spec [i, o]
  assert.equal(layer.w2.data[5 * dim + 7], base('w2') + l * dim * hidden + 7 * hidden + 5);
  assert.equal(layer.ffnNorm.data[2], base('rms_ffn_weight') + l * dim + 2);
  assert.equal(m.weights.finalNorm.data[dim - 1], base('rms_final_weight') + dim - 1);
  // tied: the output embedding is the token embedding itself
  assert.equal(m.weights.outputEmbedding, m.weights.tokenEmbedding);
  assert.equal(m.weights.tokenEmbedding.data[9 * dim + 4], base('token_embedding_table') + 9 * dim + 4);
  assert.equal(m.tokenizer, undefined);
});

test('negative vocab_size reads an unshared classifier after the freq_cis tables', () => {
  const header: Header = [8, 12, 2, 4, 2, -10, 6];
  const bytes = checkpoint(header);
  assert.equal(bytes.length, checkpoint(TINY).length + 4 * 10 * 8);
  const m = parseLlama2c(bytes, 'unshared.bin');
  assert.equal(m.config.vocabSize, 10);
  assert.equal(m.config.tiedEmbeddings, false);
  const wcls = (llama2cExpectedBytes(parseLlama2cHeader(bytes, 'x')) - 28) / 4 - 10 * 8;
  assert.deepEqual(m.weights.outputEmbedding.shape, [10, 8]);
  assert.equal(m.weights.outputEmbedding.data[7 * 8 + 3], wcls + 7 * 8 + 3); // wcls (vocab, dim), as stored
});

test('works on a misaligned view of the bytes', () => {
  const bytes = checkpoint(TINY);
  const shifted = new Uint8Array(bytes.length + 1).subarray(1);
  shifted.set(bytes);
  assert.deepEqual(parseLlama2c(shifted, 'x').weights.outputEmbedding, parseLlama2c(bytes, 'x').weights.outputEmbedding);
});

test('rejects a file shorter than the header', () => {
  throwsValidation(() => parseLlama2c(new Uint8Array(27), 'short.bin'), /short\.bin/, /27 bytes/, /28-byte/);
});

test('rejects a truncated file, naming the tensor where the data ends', () => {
  const bytes = checkpoint(TINY);
  const wqStart = 28 + 4 * (10 * 8 + 2 * 8);
  throwsValidation(
    () => parseLlama2c(bytes.subarray(0, wqStart + 8), 'cut.bin'),
    /cut\.bin: file is 420 bytes/,
    new RegExp(`implies ${bytes.length} bytes`),
    new RegExp(`truncated by ${bytes.length - wqStart - 8} bytes`),
    /inside tensor wq \(byte offsets 412\.\./,
  );
});

test('rejects trailing bytes with expected vs actual size', () => {
  const bytes = checkpoint(TINY);
  const longer = new Uint8Array(bytes.length + 4);
  longer.set(bytes);
  throwsValidation(
    () => parseLlama2c(longer, 'long.bin'),
    new RegExp(`file is ${longer.length} bytes but its header \\(dim=8, .*seq_len=6\\) implies ${bytes.length} bytes`),
    new RegExp(`4 unexpected trailing bytes from byte offset ${bytes.length}`),
  );
});

test('rejects bad header values', () => {
  throwsValidation(() => parseLlama2c(withHeader([0, 12, 2, 4, 2, 10, 6]), 'h.bin'), /header field dim \(byte offset 0\) is 0/);
  throwsValidation(() => parseLlama2c(withHeader([8, 12, 2, 4, -2, 10, 6]), 'h.bin'), /n_kv_heads \(byte offset 16\) is -2/);
  throwsValidation(() => parseLlama2c(withHeader([8, 12, 2, 4, 2, 0, 6]), 'h.bin'), /vocab_size \(byte offset 20\) is 0/);
  throwsValidation(() => parseLlama2c(withHeader([8, 12, 2, 3, 3, 10, 6]), 'h.bin'), /dim 8 is not a multiple of n_heads 3/);
  throwsValidation(() => parseLlama2c(withHeader([8, 12, 2, 4, 3, 10, 6]), 'h.bin'), /n_heads 4 is not a multiple of n_kv_heads 3/);
  throwsValidation(() => parseLlama2c(withHeader([8, 12, 2, 8, 8, 10, 6]), 'h.bin'), /head_size 1 is odd/);
  // a huge header is caught by the size check, not by an allocation
  throwsValidation(() => parseLlama2c(withHeader([2 ** 30, 2 ** 30, 2 ** 30, 2, 2, 10, 6]), 'h.bin'), /impossibly large|implies/);
  const v1 = withHeader(TINY);
  new DataView(v1.buffer).setUint32(0, 0x616b3432, true);
  throwsValidation(() => parseLlama2c(v1, 'v1.bin'), /magic "ak42"/, /version-0/);
});

test('rejects non-finite weights with tensor name and byte offset', () => {
  const bytes = checkpoint(TINY);
  const off = 28 + 4 * (10 * 8 + 2 * 8) + 4 * 5; // wq element 5
  new DataView(bytes.buffer).setFloat32(off, NaN, true);
  throwsValidation(
    () => parseLlama2c(bytes, 'nan.bin'),
    /nan\.bin: tensor wq has a non-finite value NaN at element 5/,
    new RegExp(`byte offset ${off}`),
  );
});

test('loadLlama2c reads from disk, checks the tokenizer vocabulary, and reports unreadable paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llama2c-'));
  try {
    const path = join(dir, 'tiny.bin');
    writeFileSync(path, checkpoint(TINY));
    assert.equal(loadLlama2c(path).config.vocabSize, 10);
    const tok = (n: number) => {
      const parts = [Buffer.from(new Int32Array([3]).buffer)];
      for (let i = 0; i < n; i++)
        parts.push(Buffer.from(new Float32Array([-i]).buffer), Buffer.from(new Int32Array([1]).buffer), Buffer.from([97 + i]));
      return Buffer.concat(parts);
    };
    writeFileSync(join(dir, 'tok10.bin'), tok(10));
    writeFileSync(join(dir, 'tok11.bin'), tok(11));
    assert.equal(loadLlama2c(path, join(dir, 'tok10.bin')).tokenizer?.vocabSize, 10);
    throwsValidation(() => loadLlama2c(path, join(dir, 'tok11.bin')), /tok11\.bin/, /trailing bytes .* after 10 tokens/);
    throwsValidation(() => loadLlama2c(join(dir, 'missing.bin')), /missing\.bin: cannot read file \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
