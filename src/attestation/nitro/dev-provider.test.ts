/**
 * The INSECURE dev provider: its documents go through the same verifier (pinning its root
 * explicitly), are flagged as dev, bind a TLS key (user_data = SHA-256(SPKI)) and a nonce, and a
 * TLS client rejects a server whose certificate key is not the attested one.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { connect, createServer } from 'node:tls';
import { failureCode, toHex } from '../common/result.ts';
import { attestedServerIdentity, bindingOk, checkBinding, verifyBoundTls } from './bound-tls.ts';
import { decodeCbor, encodeCbor, type CborMap } from './cbor.ts';
import { createDevNitroProvider } from './dev-provider.ts';
import { verifyNitro } from './verify.ts';

const NOW = new Date('2030-01-02T03:04:05.678Z');
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function tlsIdentity(subjectAltNames: string[] = ['localhost']) {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const cert = (names: string[]) =>
    x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=localhost',
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 3_600_000),
      keys,
      signingAlgorithm: ALG,
      extensions: [new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value })))],
    });
  const c = await cert(subjectAltNames);
  return { spki, keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`, cert: c, withSan: cert };
}

test('dev provider round trip: pinned explicitly, flagged insecure, bound to a TLS key and nonce', async () => {
  const warnings: string[] = [];
  const dev = await createDevNitroProvider({ now: NOW, warn: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /INSECURE DEV/);
  const tls = await tlsIdentity();
  const other = await tlsIdentity();
  const nonce = randomBytes(32);
  const doc = await dev.attest({ now: NOW, tlsSpkiDer: tls.spki, nonce });

  const unpinned = verifyNitro(doc, { now: NOW });
  assert.equal(failureCode(unpinned), 'root-not-pinned', 'the dev root is not trusted by default');

  const r = verifyNitro(doc, { now: NOW, roots: [dev.rootSha256], policy: { nonce: toHex(nonce), maxAgeMs: 1000 } });
  assert.equal(r.valid, true, r.reason);
  assert.match(r.reason, /INSECURE DEV/);
  assert.equal(r.details?.insecureDev, true);
  assert.match(r.details?.moduleId as string, /^INSECURE-DEV-/);
  assert.equal(r.details?.debug, false);
  assert.equal(r.reportData, createHash('sha256').update(tls.spki).digest('hex'));
  assert.equal(r.measurements.PCR0, toHex(dev.pcrs.get(0)!));

  assert.equal(bindingOk(r, tls.spki, nonce), true);
  assert.equal(bindingOk(r, tls.spki), true);
  assert.equal(bindingOk(r, other.spki, nonce), false, 'a different TLS key');
  assert.match(checkBinding(r, other.spki).reason, /^binding:/);
  assert.match(checkBinding(r, tls.spki, { nonce: randomBytes(32) }).reason, /^policy-nonce:/);
  assert.equal(bindingOk(r, tls.spki, undefined, 'raw-spki'), false);
  assert.equal(bindingOk(unpinned, tls.spki), false, 'an invalid document never binds');

  const cert = new Uint8Array(tls.cert.rawData);
  const bound = { certificate: cert, document: doc, now: NOW, roots: [dev.rootSha256], nonce };
  assert.equal(verifyBoundTls(bound).valid, true);
  assert.equal(failureCode(verifyBoundTls({ ...bound, certificate: new Uint8Array(other.cert.rawData) })), 'binding');
  assert.equal(failureCode(verifyBoundTls({ ...bound, nonce: randomBytes(32) })), 'policy-nonce');
});

test('dev documents: freshness, age, window, tampering, foreign root', async () => {
  const dev = await createDevNitroProvider({ now: NOW, warn: () => {} });
  const other = await createDevNitroProvider({ now: NOW, warn: () => {} });
  const doc = await dev.attest({ now: NOW });
  const roots = [dev.rootSha256];
  assert.equal(verifyNitro(doc, { now: NOW, roots }).reportData, '');
  assert.equal(failureCode(verifyNitro(doc, { now: new Date(NOW.getTime() - 500), roots, maxFutureSkewMs: 0 })), 'stale');
  assert.equal(failureCode(verifyNitro(doc, { now: new Date(NOW.getTime() + 61_000), roots, policy: { maxAgeMs: 60_000 } })), 'policy-age');
  assert.equal(failureCode(verifyNitro(doc, { now: new Date(NOW.getTime() + 3 * 3_600_000 + 1000), roots })), 'expired');
  assert.equal(failureCode(verifyNitro(doc, { now: NOW, roots: [other.rootSha256] })), 'root-not-pinned');

  // Another dev root substituted into the bundle (pinned, but it did not issue the intermediate).
  const [p, u, payload, sig] = decodeCbor(doc) as [Uint8Array, CborMap, Uint8Array, Uint8Array];
  const m = decodeCbor(payload) as CborMap;
  (m.get('cabundle') as Uint8Array[])[0] = other.rootDer;
  const swapped = encodeCbor([p, u, encodeCbor(m), sig]);
  assert.equal(failureCode(verifyNitro(swapped, { now: NOW, roots: [dev.rootSha256, other.rootSha256] })), 'chain');
  m.set('module_id', 'looks-like-production');
  (m.get('cabundle') as Uint8Array[])[0] = dev.rootDer;
  assert.equal(failureCode(verifyNitro(encodeCbor([p, u, encodeCbor(m), sig]), { now: NOW, roots })), 'signature');
});

test('attested TLS: the client accepts only a server whose certificate key is the attested one', { timeout: 20_000 }, async () => {
  const dev = await createDevNitroProvider({ now: NOW, warn: () => {} });
  const good = await tlsIdentity();
  const doc = await dev.attest({ now: NOW, tlsSpkiDer: good.spki });
  const san = [`${toHex(doc)}.attestation.invalid`, 'localhost'];
  const goodCert = await good.withSan(san);
  const impostor = await tlsIdentity();
  const impostorCert = await impostor.withSan(san); // replays the document with its own key

  async function handshake(cert: x509.X509Certificate, keyPem: string): Promise<string> {
    const server = createServer({ cert: cert.toString('pem'), key: keyPem }, (s) => s.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const socket = connect({
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        servername: 'localhost',
        ca: [cert.toString('pem')],
        checkServerIdentity: attestedServerIdentity({ now: () => NOW, roots: [dev.rootSha256] }),
      });
      const outcome = await new Promise<string>((resolve) => {
        socket.once('secureConnect', () => resolve('connected'));
        socket.once('error', (e) => resolve(`error: ${e.message}`));
      });
      socket.destroy();
      return outcome;
    } finally {
      server.close();
    }
  }
  assert.equal(await handshake(goodCert, good.keyPem), 'connected');
  assert.match(await handshake(impostorCert, impostor.keyPem), /^error: attested TLS rejected: binding:/);
});
