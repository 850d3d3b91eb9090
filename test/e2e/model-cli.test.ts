/**
 * `mpc-prompt model encrypt|inspect`: encrypts models/default with a temporary local KMS, inspects
 * the header, then (in-process) releases the key to a dev-attested enclave and checks the
 * decrypted checkpoint is byte-identical.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createDevNitroProvider } from '../../src/attestation/nitro/dev-provider.ts';
import { decryptModel, packDirectory, unpackDirectory } from '../../src/kms/envelope.ts';
import { LocalKms, openForRecipient } from '../../src/kms/kms.ts';

const BIN = fileURLToPath(new URL('../../bin/mpc-prompt.js', import.meta.url));
const MODEL = fileURLToPath(new URL('../../models/default', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'model', ...args], { encoding: 'utf8', timeout: 60_000 });

test('model encrypt + inspect --json; the key is released only to the attested enclave', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpcp-model-'));
  try {
    const now = new Date();
    const enclave = await createDevNitroProvider({ now, warn: () => {} });
    const policyFile = join(dir, 'policy.json');
    const pcr0 = Buffer.from(enclave.pcrs.get(0)!).toString('hex');
    writeFileSync(policyFile, JSON.stringify({ roots: [enclave.rootSha256], expectedMeasurements: { PCR0: pcr0 } }));
    const kmsDir = join(dir, 'kms');
    const out = join(dir, 'model.enc');

    const enc = run(['encrypt', '--model', MODEL, '--out', out, '--kms-dir', kmsDir, '--key-id', 'default-model', '--policy', policyFile]);
    assert.equal(enc.status, 0, enc.stderr);
    assert.match(enc.stdout, /encrypted directory default .* key default-model \(created\)/);
    assert.equal(statSync(join(kmsDir, 'keys.json')).mode & 0o777, 0o600);

    const ins = run(['inspect', out, '--json']);
    assert.equal(ins.status, 0, ins.stderr);
    const r = JSON.parse(ins.stdout);
    const packed = packDirectory(MODEL).payload;
    assert.equal(r.header.keyId, 'default-model');
    assert.equal(r.header.algorithm, 'AES-256-GCM');
    assert.equal(r.header.source.kind, 'directory');
    assert.equal(r.header.source.size, packed.length);
    assert.ok(r.bytes > packed.length && r.bytes < packed.length + 4096, `file size ${r.bytes} vs payload ${packed.length}`);
    assert.equal(r.bytes, statSync(out).size);

    // Enclave side, in process: attest with an RSA recipient key, get the data key, decrypt.
    const kms = new LocalKms({ dir: kmsDir, now: () => now });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const doc = await enclave.attest({ now, publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })) });
    const file = new Uint8Array(readFileSync(out));
    const { ciphertextForRecipient } = await kms.decryptForRecipient(Buffer.from(r.header.wrappedKey, 'base64'), doc);
    const files = unpackDirectory(decryptModel(file, openForRecipient(ciphertextForRecipient, privateKey)).payload);
    assert.deepEqual(Buffer.from(files.get('model.safetensors')!), readFileSync(join(MODEL, 'model.safetensors')));
    assert.ok(readFileSync(join(kmsDir, 'audit.jsonl'), 'utf8').includes('"decision":"allow"'));

    // Usage errors → exit 2 with a precise message.
    const missing = run(['encrypt', '--out', out, '--kms-dir', kmsDir]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--model: missing/);
    writeFileSync(join(dir, 'junk'), 'not an encrypted model');
    const bad = run(['inspect', join(dir, 'junk')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad magic/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
