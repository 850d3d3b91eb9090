import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import { loadLlama2cTokenizer, parseLlama2cTokenizer, type Llama2cTokenizer } from './llama2c-tokenizer.ts';

/**
 * A llama2.c-layout vocabulary: <unk>, <s>, </s>, the 256 byte pieces <0x00>..<0xFF>
 * (ids 3..258, as sentencepiece exports them), then these pieces with their merge scores.
 */
const PIECES: [string, number][] = [
  [' ', -1],
  ['a', -2],
  ['b', -3],
  ['c', -4],
  ['ü', -5],
  ['ab', -10],
  [' a', -20], // "ab" outranks " a"
  [' b', -5],
  ['bc', -30], // " b" outranks "bc"
  ['aa', -8], // ties in "aaa": leftmost pair merges
  [' ab', -40],
  ['abc', -50],
  [' abc', -60],
];

/** Serialises a tokenizer.bin: int32 max_token_length, then (float32 score, int32 len, bytes) per token. */
function tokenizerBin(pieces: [string, number][], maxLen?: number): Uint8Array {
  const entries = pieces.map(([s, score]) => [Buffer.from(s, 'utf8'), score] as const);
  const parts = [i32(maxLen ?? Math.max(...entries.map(([b]) => b.length)))];
  for (const [b, score] of entries) parts.push(Buffer.from(new Float32Array([score]).buffer), i32(b.length), b);
  return Buffer.concat(parts);
}

function i32(v: number): Buffer {
  return Buffer.from(new Int32Array([v]).buffer);
}

const SPECIALS: [string, number][] = [
  ['<unk>', 0],
  ['\n<s>\n', 0],
  ['\n</s>\n', 0],
];
const BYTES: [string, number][] = Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);

/** Writes the test vocabulary to a temp dir and loads it through the file reader. */
function loadTestTokenizer(): Llama2cTokenizer {
  const dir = mkdtempSync(join(tmpdir(), 'tok-'));
  try {
    const path = join(dir, 'tokenizer.bin');
    writeFileSync(path, tokenizerBin([...SPECIALS, ...BYTES, ...PIECES]));
    return loadLlama2cTokenizer(path, 3 + 256 + PIECES.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tok = loadTestTokenizer();
const id = (piece: string) => 259 + PIECES.findIndex(([p]) => p === piece);
const byte = (b: number) => 3 + b;

function throwsValidation(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('reads the vocabulary and scores', () => {
  assert.equal(tok.vocabSize, 3 + 256 + PIECES.length);
  assert.equal(tok.maxTokenLength, 6);
  assert.equal(Buffer.from(tok.piece(id('ü'))).toString('utf8'), 'ü');
  assert.equal(tok.score(id(' abc')), -60);
});

test('encode: dummy prefix, then best-score merges (leftmost on ties)', () => {
  assert.deepEqual(tok.encode(''), []);
  assert.deepEqual(tok.encode('', { bos: true, eos: true }), [1, 2]);
  assert.deepEqual(tok.encode('a'), [id(' a')]);
  // " ", a, b → "ab" (-10) before " a" (-20) → " ", "ab" → " ab" (-40)
  assert.deepEqual(tok.encode('ab'), [id(' ab')]);
  // " ", b, c → " b" (-5) before "bc" (-30) → " b", c (no " bc")
  assert.deepEqual(tok.encode('bc'), [id(' b'), id('c')]);
  // " ", a, a, a → "aa" at 1 and 2 tie → leftmost: " ", "aa", "a"
  assert.deepEqual(tok.encode('aaa'), [id(' '), id('aa'), id('a')]);
  // " ", a, b, c → "ab" → " ab" (-40) before "abc" (-50) → " ab" + "c" = " abc"
  assert.deepEqual(tok.encode('abc'), [id(' abc')]);
  assert.deepEqual(tok.encode('ab', { bos: true, eos: true }), [1, id(' ab'), 2]);
});

test('encode: multi-byte characters and byte fallback', () => {
  assert.deepEqual(tok.encode('ü'), [id(' '), id('ü')]);
  // 'é' = C3 A9 is not a piece: one <0xXX> per byte; '€' = E2 82 AC
  assert.deepEqual(tok.encode('aé€'), [id(' a'), byte(0xc3), byte(0xa9), byte(0xe2), byte(0x82), byte(0xac)]);
  assert.deepEqual(tok.encode('a\n'), [id(' a'), byte(0x0a)]);
});

test('decode: strips the leading space after BOS, turns <0xXX> into raw bytes', () => {
  assert.equal(Buffer.from(tok.decodePiece(1, id(' ab'))).toString(), 'ab');
  assert.equal(Buffer.from(tok.decodePiece(id('a'), id(' ab'))).toString(), ' ab');
  assert.deepEqual(tok.decodePiece(id('a'), byte(0x41)), Uint8Array.of(0x41));
  assert.equal(tok.decode([1, id(' ab'), id(' b'), 2]), 'ab b');
  assert.equal(tok.decode([id(' a'), byte(0xc3), byte(0xa9)]), 'aé');
  for (const s of ['a', 'ab bc', 'aaa', 'üa é€\n', 'abc abc']) assert.equal(tok.decode(tok.encode(s)), s);
  throwsValidation(() => tok.decode([tok.vocabSize]), /token 272 is out of range; expected an integer in \[0, 271\]/);
});

test('encode: a byte with no piece is a ValidationError', () => {
  const noBytes = parseLlama2cTokenizer(tokenizerBin([...SPECIALS, ...PIECES]), 'mem');
  assert.deepEqual(noBytes.encode('ab'), [3 + PIECES.findIndex(([p]) => p === ' ab')]);
  throwsValidation(() => noBytes.encode('aé'), /byte 0xC3 at UTF-8 offset 1 of the text/, /<0xC3>/);
});

test('parse errors say what, where and what was expected', () => {
  const good = tokenizerBin([...SPECIALS, ...PIECES]);
  const n = SPECIALS.length + PIECES.length;
  assert.equal(parseLlama2cTokenizer(good, 't.bin').vocabSize, n);
  throwsValidation(() => parseLlama2cTokenizer(good.subarray(0, 2), 't.bin'), /t\.bin: file is 2 bytes/);
  throwsValidation(() => parseLlama2cTokenizer(tokenizerBin(SPECIALS, 0), 't.bin'), /max_token_length \(byte offset 0\) is 0/);
  throwsValidation(
    () => parseLlama2cTokenizer(tokenizerBin(SPECIALS, 5), 't.bin'),
    /token 2 has length 6 at byte offset 34; expected 0\.\.5/,
  );
  throwsValidation(() => parseLlama2cTokenizer(good.subarray(0, good.length - 1), 't.bin'), /token 15 needs 4 bytes/);
  throwsValidation(() => parseLlama2cTokenizer(good, 't.bin', n + 1), new RegExp(`truncated at byte offset ${good.length} in token ${n}`));
  throwsValidation(() => parseLlama2cTokenizer(good, 't.bin', n - 1), /trailing bytes from byte offset \d+ after 15 tokens/);
  throwsValidation(() => loadLlama2cTokenizer('/nonexistent/tokenizer.bin'), /cannot read tokenizer file \(ENOENT\)/);
});
