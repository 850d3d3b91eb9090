import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createDevNitroProvider, type DevNitroProvider } from '../attestation/nitro/dev-provider.ts';
import { AwsKmsAdapter, createKmsHttpServer, signV4 } from './aws.ts';
import { parseEnvelope } from './cms.ts';
import { decryptModel, sealPayload } from './envelope.ts';
import { KeyReleaseDenied, LocalKms, openForRecipient, type Kms } from './kms.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
const KEY = 'model-key';
const CREDS = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-secret' };

function rsa(): { priv: KeyObject; spki: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { priv: privateKey, spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })) };
}

let prod: DevNitroProvider;
let debug: DevNitroProvider;
let other: DevNitroProvider;
const quiet = { warn: () => {} };

before(async () => {
  prod = await createDevNitroProvider({ now: T0, ...quiet });
  other = await createDevNitroProvider({ now: T0, ...quiet });
  debug = await createDevNitroProvider({ now: T0, pcrs: new Map([0, 1, 2].map((i) => [i, new Uint8Array(48)])), ...quiet });
});

const pcr0 = (p: DevNitroProvider) => Buffer.from(p.pcrs.get(0)!).toString('hex');

interface Harness {
  kms: Kms;
  local: LocalKms;
  setNow(d: Date): void;
  close(): Promise<void>;
}

function localHarness(): Harness {
  let now = T0;
  const local = new LocalKms({ now: () => now });
  local.createKey(KEY, { policy: { expectedMeasurements: { PCR0: pcr0(prod) } }, roots: [prod.rootSha256, debug.rootSha256] });
  return { kms: local, local, setNow: (d) => (now = d), close: async () => {} };
}

async function awsHarness(): Promise<Harness> {
  const h = localHarness();
  let now = T0;
  const server = createKmsHttpServer(h.local, { region: 'eu-west-1', credentials: CREDS, now: () => now });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const kms = new AwsKmsAdapter({ endpoint: `http://127.0.0.1:${port}`, region: 'eu-west-1', credentials: CREDS, now: () => now });
  return {
    kms,
    local: h.local,
    setNow: (d) => {
      now = d;
      h.setNow(d);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function denied(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KeyReleaseDenied, `expected KeyReleaseDenied, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

for (const [name, make] of [
  ['LocalKms', async () => localHarness()],
  ['AwsKmsAdapter → local JSON server', awsHarness],
] as const) {
  describe(`Kms conformance: ${name}`, () => {
    let h: Harness;
    before(async () => {
      h = await make();
    });
    after(() => h.close());

    test('an attested enclave gets the data key and decrypts the model byte-identically', async () => {
      const dk = await h.kms.generateDataKey(KEY);
      assert.equal(dk.plaintext.length, 32);
      const model = new Uint8Array(Buffer.from('weights '.repeat(1000)));
      const file = sealPayload(model, {
        key: dk.plaintext,
        keyId: dk.keyId,
        wrappedKey: dk.ciphertextBlob,
        source: { kind: 'file', name: 'm.bin' },
        now: T0,
      });
      const r = rsa();
      const doc = await prod.attest({ now: T0, publicKey: r.spki });
      const { keyId, ciphertextForRecipient } = await h.kms.decryptForRecipient(dk.ciphertextBlob, doc);
      assert.equal(keyId, KEY);
      const env = parseEnvelope(ciphertextForRecipient);
      assert.equal(env.iv.length, 16);
      const key = openForRecipient(ciphertextForRecipient, r.priv);
      assert.deepEqual(key, dk.plaintext);
      assert.deepEqual(decryptModel(file, key).payload, model);
      const last = h.local.audit.at(-1)!;
      assert.equal(last.decision, 'allow');
      assert.equal(last.pcr0, pcr0(prod));
      assert.ok(!JSON.stringify(h.local.audit).includes(Buffer.from(dk.plaintext).toString('hex')), 'audit holds no secrets');
      assert.ok(!JSON.stringify(h.local.audit).includes(Buffer.from(dk.plaintext).toString('base64')), 'audit holds no secrets');
    });

    test('refusals carry a specific code', async () => {
      const { ciphertextBlob } = await h.kms.generateDataKey(KEY);
      const r = rsa();
      const good = await prod.attest({ now: T0, publicKey: r.spki });
      const flipped = new Uint8Array(good);
      flipped[flipped.length - 10] ^= 1; // inside the ES384 signature
      await denied(h.kms.decryptForRecipient(ciphertextBlob, flipped), 'signature');
      await denied(h.kms.decryptForRecipient(ciphertextBlob, await debug.attest({ now: T0, publicKey: r.spki })), 'policy-debug');
      h.local.putKeyPolicy(KEY, { policy: { expectedMeasurements: { PCR0: 'ab'.repeat(48) } }, roots: [prod.rootSha256] });
      await denied(h.kms.decryptForRecipient(ciphertextBlob, good), 'policy-measurement', /PCR0/);
      h.local.putKeyPolicy(KEY, { policy: { expectedMeasurements: { PCR0: pcr0(prod) } }, roots: [prod.rootSha256] });
      await denied(h.kms.decryptForRecipient(ciphertextBlob, await other.attest({ now: T0, publicKey: r.spki })), 'root-not-pinned');
      h.setNow(new Date(T0.getTime() + 4 * 3_600_000)); // the leaf is valid for 3 h
      await denied(h.kms.decryptForRecipient(ciphertextBlob, good), 'expired');
      h.setNow(T0);
      await denied(h.kms.decryptForRecipient(ciphertextBlob, await prod.attest({ now: T0 })), 'recipient', /no public_key/);
      // A recipient key that does not match the document: the KMS encrypts to the document's key,
      // so a holder of another private key cannot open it.
      const stranger = rsa();
      const cfr = (await h.kms.decryptForRecipient(ciphertextBlob, good)).ciphertextForRecipient;
      assert.throws(() => openForRecipient(cfr, stranger.priv), /recipient key does not match/);
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
      await denied(
        h.kms.decryptForRecipient(ciphertextBlob, await prod.attest({ now: T0, publicKey: new Uint8Array(ec) })),
        'recipient',
        /RSA/,
      );
      await denied(h.kms.decryptForRecipient(new Uint8Array([1, 0, 3, 120, 120, 120]), good), 'ciphertext');
      await denied(h.kms.generateDataKey('nope'), 'not-found');
      h.local.putKeyPolicy(KEY, { policy: {}, roots: [prod.rootSha256] });
      await denied(h.kms.decryptForRecipient(ciphertextBlob, good), 'key-policy', /PCR0/);
      h.local.putKeyPolicy(KEY, { policy: { expectedMeasurements: { PCR0: pcr0(prod) } }, roots: [prod.rootSha256, debug.rootSha256] });
      const denials = h.local.audit.filter((a) => a.operation === 'Decrypt' && a.decision === 'deny');
      assert.ok(denials.length >= 8);
      assert.ok(denials.every((d) => /^[a-z-]+: /.test(d.reason)));
    });
  });
}

test('SigV4 matches the AWS documentation example (S3 GET Object)', () => {
  const emptyHash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const { signature } = signV4(
    {
      method: 'GET',
      path: '/test.txt',
      headers: {
        Host: 'examplebucket.s3.amazonaws.com',
        Range: 'bytes=0-9',
        'x-amz-content-sha256': emptyHash,
        'x-amz-date': '20130524T000000Z',
      },
      body: '',
    },
    {
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      region: 'us-east-1',
      service: 's3',
    },
  );
  assert.equal(signature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
});

test('the local JSON server rejects bad signatures and wrong algorithms', async () => {
  const local = new LocalKms({ now: () => T0 });
  local.createKey(KEY, { policy: { expectedMeasurements: { PCR0: pcr0(prod) } }, roots: [prod.rootSha256] });
  const server = createKmsHttpServer(local, { region: 'eu-west-1', credentials: CREDS, now: () => T0 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const endpoint = `http://127.0.0.1:${port}`;
    const wrong = new AwsKmsAdapter({ endpoint, region: 'eu-west-1', credentials: { ...CREDS, secretAccessKey: 'x' }, now: () => T0 });
    await assert.rejects(wrong.generateDataKey(KEY), /InvalidSignatureException/);
    const late = new AwsKmsAdapter({ endpoint, region: 'eu-west-1', credentials: CREDS, now: () => new Date(T0.getTime() + 3_600_000) });
    await assert.rejects(late.generateDataKey(KEY), /out of range/);
    const ok = new AwsKmsAdapter({ endpoint, region: 'eu-west-1', credentials: CREDS, now: () => T0 });
    const dk = await ok.generateDataKey(KEY);
    await assert.rejects(
      ok.call('Decrypt', {
        CiphertextBlob: Buffer.from(dk.ciphertextBlob).toString('base64'),
        Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', AttestationDocument: '' },
      }),
      /ValidationException: Recipient.KeyEncryptionAlgorithm/,
    );
    await denied(ok.call('Decrypt', { CiphertextBlob: Buffer.from(dk.ciphertextBlob).toString('base64') }), 'recipient');
  } finally {
    await new Promise((r) => server.close(r));
  }
});
