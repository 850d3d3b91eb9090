import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ValidationError } from '../base/errors.ts';
import { initDevPki, loadIdentity } from './pki.ts';

const NAMES = ['coordinator', 'party-A', 'party-B'];
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pki-test-'));
  await initDevPki(dir, { names: NAMES });
});
after(() => rm(dir, { recursive: true, force: true }));

test('the CA is a self-signed P-256 CA certificate', async () => {
  const ca = new X509Certificate(await readFile(join(dir, 'ca.crt')));
  assert.equal(ca.ca, true);
  assert.ok(ca.checkIssued(ca) && ca.verify(ca.publicKey));
  assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
});

test('each leaf is issued by the CA, has the SANs, EKUs and CN, and matches its key', async () => {
  const ca = new X509Certificate(await readFile(join(dir, 'ca.crt')));
  for (const name of NAMES) {
    const id = await loadIdentity(dir, name);
    const cert = new X509Certificate(id.cert);
    assert.ok(cert.checkIssued(ca), `${name} issued by CA`);
    assert.ok(cert.verify(ca.publicKey), `${name} signature verifies`);
    assert.equal(cert.ca, false);
    assert.match(cert.subject, new RegExp(`^CN=${name}$`, 'm'));
    for (const san of ['DNS:localhost', 'IP Address:127.0.0.1', `DNS:${name}`])
      assert.ok(cert.subjectAltName?.includes(san), `${name}: ${san}`);
    assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(cert.checkPrivateKey(createPrivateKey(id.key)), `${name} key matches`);
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(new Date(cert.validTo).getTime() > Date.now() + 300 * 86_400_000);
    assert.equal((await stat(join(dir, `${name}.key`))).mode & 0o777, 0o600);
  }
  assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
});

test('a second run reuses the CA, so old and new leaves share it', async () => {
  const before = await readFile(join(dir, 'ca.crt'), 'utf8');
  await initDevPki(dir, { names: ['client-A'] });
  assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), before);
  const ca = new X509Certificate(before);
  const leaf = new X509Certificate(await readFile(join(dir, 'client-A.crt')));
  assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  assert.ok(createPublicKey((await loadIdentity(dir, 'client-A')).key).equals(leaf.publicKey));
});

test('names that are not usable as file and DNS names are rejected', async () => {
  for (const bad of ['', '../x', 'a b', '-a', 'ca']) {
    await assert.rejects(initDevPki(dir, { names: [bad] }), ValidationError, JSON.stringify(bad));
  }
});
