import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../base/errors.ts';
import { decryptModel, encryptModel, inspectEncryptedModel, packDirectory, unpackDirectory } from './envelope.ts';
import type { DataKey, Kms } from './kms.ts';

/** A stub KMS that records the data key it hands out. */
function stubKms(): Kms & { last?: DataKey } {
  const k: Kms & { last?: DataKey } = {
    async generateDataKey(keyId) {
      const plaintext = new Uint8Array(randomBytes(32));
      k.last = { keyId, plaintext: plaintext.slice(), ciphertextBlob: new Uint8Array([1, 2, 3]) };
      return { keyId, plaintext, ciphertextBlob: new Uint8Array([1, 2, 3]) };
    },
    async decryptForRecipient() {
      throw new Error('unused');
    },
  };
  return k;
}

const rejects = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof ValidationError && re.test(e.message));

test('file and directory round trips; inspect never needs the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpcp-env-'));
  try {
    const file = join(dir, 'w.bin');
    const data = randomBytes(5000);
    writeFileSync(file, data);
    const kms = stubKms();
    const enc = await encryptModel(file, kms, 'k1');
    const h = inspectEncryptedModel(enc);
    assert.equal(h.keyId, 'k1');
    assert.equal(h.algorithm, 'AES-256-GCM');
    assert.equal(h.source.kind, 'file');
    assert.equal(h.source.size, 5000);
    assert.equal(h.wrappedKey, Buffer.from([1, 2, 3]).toString('base64'));
    assert.deepEqual(Buffer.from(decryptModel(enc, kms.last!.plaintext).payload), data);

    const ckpt = join(dir, 'ckpt');
    mkdirSync(join(ckpt, 'sub'), { recursive: true });
    writeFileSync(join(ckpt, 'b.txt'), 'bee');
    writeFileSync(join(ckpt, 'a.json'), '{}');
    writeFileSync(join(ckpt, 'sub', 'c'), '');
    const encDir = await encryptModel(ckpt, kms, 'k1');
    assert.equal(inspectEncryptedModel(encDir).source.files, 3);
    const files = unpackDirectory(decryptModel(encDir, kms.last!.plaintext).payload);
    assert.deepEqual([...files.keys()], ['a.json', 'b.txt', 'sub/c']);
    assert.equal(Buffer.from(files.get('b.txt')!).toString(), 'bee');
    assert.deepEqual(packDirectory(ckpt).payload, packDirectory(ckpt).payload, 'deterministic');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('truncated, corrupted and wrong-key inputs fail with precise errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpcp-env-'));
  try {
    writeFileSync(join(dir, 'm'), randomBytes(100));
    const kms = stubKms();
    const enc = await encryptModel(join(dir, 'm'), kms, 'k1');
    const key = kms.last!.plaintext;
    rejects(() => inspectEncryptedModel(enc.subarray(0, 5)), /truncated: 5 bytes, shorter than the 12-byte preamble/);
    rejects(() => inspectEncryptedModel(enc.subarray(0, 40)), /truncated inside the header/);
    rejects(
      () => inspectEncryptedModel(enc.subarray(0, enc.length - 1)),
      /truncated: \d+ bytes, expected \d+ \(header \d+, ciphertext 100, tag 16\)/,
    );
    rejects(() => inspectEncryptedModel(Buffer.concat([enc, Buffer.from([0])])), /1 unexpected trailing bytes/);
    const badMagic = enc.slice();
    badMagic[0] ^= 1;
    rejects(() => inspectEncryptedModel(badMagic), /bad magic/);
    const flipped = enc.slice();
    flipped[enc.length - 30] ^= 1; // a ciphertext byte
    rejects(() => decryptModel(flipped, key), /authentication failed: wrong data key, or the header or ciphertext was modified/);
    rejects(() => decryptModel(enc, new Uint8Array(randomBytes(32))), /authentication failed/);
    rejects(() => decryptModel(enc, new Uint8Array(16)), /data key has 16 bytes, expected 32/);
    // Header tampering (same length) is caught by the AAD binding.
    const text = Buffer.from(enc).toString('latin1').replace('"keyId":"k1"', '"keyId":"k2"');
    rejects(() => decryptModel(new Uint8Array(Buffer.from(text, 'latin1')), key), /authentication failed/);
    assert.equal(decryptModel(enc, key).payload.length, 100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
