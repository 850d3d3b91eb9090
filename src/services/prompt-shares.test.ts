/**
 * Sealed prompt shares (prompt-shares.ts): token ids split into additive shares in Z_(2^b), one
 * sealed message of 4 bytes per token (+ 48) per node; each node opens only its own; the shares
 * sum to the ids; malformed or foreign shares are refused with a precise error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../base/errors.ts';
import { generateSealingKeyPair, seal, type SealingKeyPair } from '../crypto/sealing.ts';
import { openPromptShare, promptAad, sealedPromptBytes, sealPromptPart } from './prompt-shares.ts';

const VOCAB = 50_257; // b = 16
const nodes = (n: number): Map<string, SealingKeyPair> => new Map(Array.from({ length: n }, (_, i) => [`N${i}`, generateSealingKeyPair()]));
const publicKeys = (keys: Map<string, SealingKeyPair>): Map<string, Uint8Array> => new Map([...keys].map(([id, k]) => [id, k.publicKey]));

for (const n of [2, 3]) {
  test(`sealed token-id shares of ${n} nodes open to values < 2^16 that sum to the ids mod 2^16`, () => {
    const keys = nodes(n);
    const ids = [0, 1, 50_256, 464, 50_256, 7];
    const sealed = sealPromptPart(ids, VOCAB, 's1', 'A', publicKeys(keys));
    assert.deepEqual([...sealed.keys()], [...keys.keys()]);
    const shares = [...keys].map(([id, k]) => {
      const bytes = sealed.get(id) as Uint8Array;
      assert.equal(bytes.length, sealedPromptBytes(ids.length));
      assert.equal(bytes.length, 4 * ids.length + 48);
      return openPromptShare(k, bytes, ids.length, VOCAB, 's1', 'A', id);
    });
    for (const s of shares) assert.ok(s.every((v) => v < 65_536));
    assert.deepEqual(
      ids.map((_, t) => shares.reduce((acc, s) => acc + s[t], 0) % 65_536),
      ids,
    );
  });
}

test('the first n − 1 shares are fresh uniform values: the same ids give different shares each time', () => {
  const keys = nodes(2);
  const ids = Array.from({ length: 64 }, () => 42);
  const open = (): Uint32Array => {
    const sealed = sealPromptPart(ids, VOCAB, 's', 'A', publicKeys(keys));
    return openPromptShare(keys.get('N0') as SealingKeyPair, sealed.get('N0') as Uint8Array, ids.length, VOCAB, 's', 'A', 'N0');
  };
  const [x, y] = [open(), open()];
  // 64 uniform 16-bit values: all equal to 42 with probability 2^−1024; two runs equal with 2^−1024.
  assert.ok(x.some((v) => v !== 42));
  assert.notDeepEqual([...x], [...y]);
  assert.ok(new Set(x).size > 32, 'distinct values within one share');
});

test('a share opens only for its recipient, session and owner, and only in the current format', () => {
  const keys = nodes(2);
  const sealed = sealPromptPart([3, 4], VOCAB, 's1', 'A', publicKeys(keys));
  const k0 = keys.get('N0') as SealingKeyPair;
  const mine = sealed.get('N0') as Uint8Array;
  const refused = /does not open with this node's key \(wrong recipient, session, format version or tampered\)/;
  assert.throws(() => openPromptShare(k0, sealed.get('N1') as Uint8Array, 2, VOCAB, 's1', 'A', 'N0'), refused);
  assert.throws(() => openPromptShare(k0, mine, 2, VOCAB, 's2', 'A', 'N0'), refused);
  assert.throws(() => openPromptShare(k0, mine, 2, VOCAB, 's1', 'B', 'N0'), refused);
  // A version-1 share (one-hot words, its own AAD label) is refused, not misread.
  const v1 = seal(k0.publicKey, new Uint8Array(2 * VOCAB * 8), new TextEncoder().encode('mpc-prompt/prompt/v1|s1|A|N0'));
  assert.throws(() => openPromptShare(k0, v1, 2, VOCAB, 's1', 'A', 'N0'), refused);
  const tampered = mine.slice();
  tampered[40] ^= 1;
  assert.throws(() => openPromptShare(k0, tampered, 2, VOCAB, 's1', 'A', 'N0'), refused);
});

test('a share of the wrong length or with a value not below 2^b is refused, naming what was expected', () => {
  const k = generateSealingKeyPair();
  const aad = promptAad('s', 'A', 'N0');
  const words = (values: number[]): Uint8Array => {
    const out = new Uint8Array(4 * values.length);
    values.forEach((v, t) => new DataView(out.buffer).setUint32(4 * t, v, true));
    return out;
  };
  assert.throws(
    () => openPromptShare(k, seal(k.publicKey, words([1, 2, 3]), aad), 2, VOCAB, 's', 'A', 'N0'),
    (e: unknown) => e instanceof ValidationError && /has 12 bytes, expected 8 \(4 per token\)/.test(e.message),
  );
  assert.throws(
    () => openPromptShare(k, seal(k.publicKey, words([65_535, 65_536]), aad), 2, VOCAB, 's', 'A', 'N0'),
    (e: unknown) => e instanceof ValidationError && /has 65536 at token 1, expected < 65536/.test(e.message),
  );
  assert.deepEqual([...openPromptShare(k, seal(k.publicKey, words([65_535, 0]), aad), 2, VOCAB, 's', 'A', 'N0')], [65_535, 0]);
});

test('a token id outside the vocabulary is refused before anything is sealed, naming its position', () => {
  const keys = publicKeys(nodes(2));
  for (const bad of [-1, VOCAB, 1.5])
    assert.throws(
      () => sealPromptPart([1, bad], VOCAB, 's', 'A', keys),
      (e: unknown) => e instanceof ValidationError && e.field === 'prompt[1]' && /outside \[0, 50257\)/.test(e.message),
    );
});
