import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_MERGES, fixtureVocab, writeGpt2Fixture } from '../../test/fixtures/gpt2-fixture.ts';
import { writeLlamaFixture } from '../../test/fixtures/llama-fixture.ts';
import { ValidationError } from '../base/errors.ts';
import { BYTE_LEVEL_ORDER, BYTE_TO_UNICODE, ByteLevelBpe, ENDOFTEXT, loadGpt2Tokenizer, parseMergesTxt } from './gpt2-bpe.ts';
import { loadTokenizerJson, tokenizerFromJson } from './hf-tokenizer-json.ts';

const SAMPLES = [
  '',
  'Hello world',
  'The secure MPC and the world of Transformers is 12 345 tokens long...',
  "don't you'll we've I'm she'd they're it's",
  'naïve café — Ωμέγα, Привет, 日本語のテキスト, العربية',
  'emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷!',
  'a  b\t\tc\n\n\n  d   \r\n trailing   ',
  '     leading spaces and\u00a0nbsp\u2003em space',
  'end<|endoftext|>start <|endoftext|><|endoftext|> again<|endoftext',
  '<|endoftext|>',
  '\u0000\u0001 control \u007f bytes',
];

let tmp: string;
let gpt2: ByteLevelBpe;
let vocab: Map<string, number>;
const id = (token: string) => vocab.get(token)!;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'gpt2-bpe-'));
  writeGpt2Fixture(join(tmp, 'gpt2'));
  writeLlamaFixture(join(tmp, 'llama'));
  gpt2 = loadGpt2Tokenizer(join(tmp, 'gpt2', 'vocab.json'), join(tmp, 'gpt2', 'merges.txt'));
  vocab = fixtureVocab(FIXTURE_MERGES, [ENDOFTEXT]);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('bytes_to_unicode', () => {
  it('matches GPT-2: printable bytes map to themselves, space → Ġ, newline → Ċ, byte 0 → Ā', () => {
    assert.equal(BYTE_TO_UNICODE[0x41], 'A');
    assert.equal(BYTE_TO_UNICODE[0x20], 'Ġ');
    assert.equal(BYTE_TO_UNICODE[0x0a], 'Ċ');
    assert.equal(BYTE_TO_UNICODE[0x00], 'Ā');
    assert.equal(BYTE_TO_UNICODE[0xa0], 'ł');
    assert.equal(BYTE_TO_UNICODE[0xad], 'Ń');
    assert.equal(new Set(BYTE_TO_UNICODE).size, 256);
    assert.deepEqual(BYTE_LEVEL_ORDER.slice(0, 3), [0x21, 0x22, 0x23]);
  });
});

describe('GPT-2 BPE (vocab.json + merges.txt)', () => {
  it('round-trips varied text', () => {
    for (const s of SAMPLES) assert.equal(gpt2.decode(gpt2.encode(s)), s, JSON.stringify(s));
    assert.deepEqual(gpt2.encode(''), []);
    assert.equal(gpt2.vocabSize, vocab.size);
  });

  it('applies merges by rank', () => {
    const toks = (s: string) => gpt2.tokens(gpt2.encode(s));
    assert.deepEqual(toks(' the'), ['Ġthe']);
    assert.deepEqual(toks('the'), ['t', 'he']);
    assert.deepEqual(toks(' then'), ['Ġthe', 'n']);
    assert.deepEqual(toks('inning'), ['in', 'n', 'ing'], 'all occurrences of the best pair merge, then the next rank');
    assert.deepEqual(toks('Hello world'), ['Hello', 'Ġworld']);
    assert.deepEqual(toks(' and of is'), ['Ġand', 'Ġof', 'Ġis']);
    assert.deepEqual(toks(' secure MPC'), ['Ġsecure', 'ĠMPC']);
    assert.deepEqual(toks('café'), ['c', 'a', 'f', 'Ã©']);
    assert.deepEqual(toks('😀'), ['ðŁ', 'ĺ', 'Ģ']);
    assert.deepEqual(toks("don't"), ['d', 'on', "'", 't']);
    assert.deepEqual(gpt2.encode(' the'), [id('Ġthe')]);
  });

  it('splits whitespace runs like GPT-2 (the last space joins the next word)', () => {
    const toks = (s: string) => gpt2.tokens(gpt2.encode(s));
    assert.deepEqual(toks('   x'), ['ĠĠ', 'Ġ', 'x']);
    assert.deepEqual(toks('     x'), ['ĠĠĠĠ', 'Ġ', 'x']);
    assert.deepEqual(toks('a\n\n'), ['a', 'ĊĊ']);
    assert.deepEqual(toks('x   '), ['x', 'ĠĠ', 'Ġ']);
  });

  it('recognises <|endoftext|> anywhere, and only when complete', () => {
    const eot = id(ENDOFTEXT);
    assert.deepEqual(gpt2.encode('a<|endoftext|>b'), [id('a'), eot, id('b')]);
    assert.deepEqual(gpt2.encode(' the<|endoftext|> the'), [id('Ġthe'), eot, id('Ġthe')]);
    assert.deepEqual(gpt2.encode('<|endoftext|><|endoftext|>'), [eot, eot]);
    assert.ok(!gpt2.encode('<|endoftext').includes(eot));
    assert.equal(gpt2.decode([eot]), ENDOFTEXT);
  });

  it('decodes split multi-byte characters to U+FFFD and rejects unknown ids', () => {
    assert.equal(gpt2.decode([id('ðŁ')]), '\ufffd');
    assert.throws(() => gpt2.decode([id('a'), 99999]), {
      name: 'ValidationError',
      message: `token id 99999 at position 1 is not in the vocabulary (ids 0..${vocab.size - 1})`,
    });
  });

  it('validates merges and vocabulary', () => {
    assert.throws(() => parseMergesTxt('#version: 0.2\na b c\n', 'm.txt'), {
      name: 'ValidationError',
      message: 'm.txt: line 2: expected two space-separated tokens, got "a b c"',
    });
    assert.throws(() => new ByteLevelBpe(vocab, [['Ġthe', 're']], 'v'), {
      message: 'v: merge #0 "Ġthe re": token "Ġthere" is not in the vocabulary',
    });
    const noByte = new Map(vocab);
    noByte.delete('Ā');
    assert.throws(() => new ByteLevelBpe(noByte, [], 'v'), {
      message: 'v: vocabulary lacks the byte token "Ā" (byte 0x00): expected all 256 byte-level tokens',
    });
    const dup = new Map(vocab).set('dup', 0);
    assert.throws(() => new ByteLevelBpe(dup, [], 'v'), ValidationError);
  });
});

describe('tokenizer.json (byte-level BPE)', () => {
  it('reads the LLaMA fixture: same BPE core, added tokens recognised anywhere', () => {
    const tj = loadTokenizerJson(join(tmp, 'llama', 'tokenizer.json'));
    for (const s of SAMPLES) {
      assert.equal(tj.decode(tj.encode(s)), s);
      if (!s.includes(ENDOFTEXT)) assert.deepEqual(tj.encode(s), gpt2.encode(s));
    }
    const [bos, eos] = [vocab.size - 1, vocab.size]; // <s>, </s> follow the merges
    assert.deepEqual(tj.encode('<s> the</s>'), [bos, id('Ġthe'), eos]);
    assert.equal(tj.decode([bos, id('Hello'), eos]), '<s>Hello</s>');
  });

  it('accepts "a b" string merges, add_prefix_space and NFC normalisation', () => {
    const raw = JSON.parse(readFileSync(join(tmp, 'llama', 'tokenizer.json'), 'utf8'));
    raw.model.merges = raw.model.merges.map((m: string[]) => m.join(' '));
    raw.pre_tokenizer.add_prefix_space = true;
    raw.normalizer = { type: 'NFC' };
    const tj = tokenizerFromJson(raw, 't.json');
    assert.deepEqual(tj.tokens(tj.encode('the')), ['Ġthe']);
    assert.deepEqual(tj.encode('cafe\u0301'), tj.encode('café'));
  });

  it('rejects unsupported tokenizer.json model types and pre-tokenizers', () => {
    assert.throws(() => tokenizerFromJson({ model: { type: 'Unigram', vocab: [] } }, 't.json'), {
      name: 'ValidationError',
      message: 't.json: unsupported tokenizer.json model type "Unigram" (supported: BPE with a ByteLevel pre-tokenizer)',
    });
    const metaspace = { model: { type: 'BPE', vocab: {}, merges: [] }, pre_tokenizer: { type: 'Metaspace' } };
    assert.throws(() => tokenizerFromJson(metaspace, 't.json'), {
      message:
        't.json: unsupported tokenizer.json model type: BPE with pre_tokenizer "Metaspace" (supported: BPE with a ByteLevel pre-tokenizer)',
    });
    const bad = { model: { type: 'BPE', vocab: { a: 0 }, merges: [['a']] }, pre_tokenizer: { type: 'ByteLevel' } };
    assert.throws(() => tokenizerFromJson(bad, 't.json'), {
      message: 't.json: model.merges[0] is array of length 1, expected "a b" or ["a", "b"]',
    });
  });
});
