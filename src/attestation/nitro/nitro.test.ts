/**
 * AWS Nitro attestation verifier against the real vectors in shared/testdata/attestation/{nitro,nitro-atls}:
 * every valid vector at its documented time yields expected.json's fields; derived negatives are
 * rejected with a specific code (robustness: fuzz.test.ts).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { requireTestdata } from '../../../test/helpers/testdata.ts';
import { failureCode, type VerificationResult } from '../common/result.ts';
import { sha256Hex } from '../common/x509-chain.ts';
import { checkBinding, extractDocumentFromCertificate, verifyBoundTls } from './bound-tls.ts';
import { CborTag, decodeCbor, encodeCbor, type CborMap } from './cbor.ts';
import { AWS_NITRO_ROOT_G1_SHA256, decodeNitroInput, verifyNitro } from './verify.ts';

interface Expected {
  file: string;
  module_id: string;
  timestamp_ms: number;
  pcrs: Record<string, string>;
  user_data: string | null;
  nonce: string | null;
  public_key: string | null;
  chain: { subject: string; notBefore: string; notAfter: string; sha256: string }[];
  chain_valid_window_utc: [string, string];
  recommended_fixed_now_ms: number;
  expected_result_at_fixed_now: string;
}
interface Vector extends Expected {
  bytes: Uint8Array;
  now: Date;
  debug: boolean;
}

const DIRS = ['attestation/nitro', 'attestation/nitro-atls'];
const ATTEST = 'attestation/nitro/nitro-attest_attestation.cose';

function loadVectors(t: TestContext): Vector[] | undefined {
  const dirs = requireTestdata(t, ...DIRS.map((d) => `${d}/expected.json`));
  if (!dirs) return undefined;
  return dirs.flatMap((path) =>
    (JSON.parse(readFileSync(path, 'utf8')) as Expected[]).map((e) => ({
      ...e,
      bytes: decodeNitroInput(readFileSync(join(path, '..', e.file))),
      now: new Date(e.recommended_fixed_now_ms),
      debug: e.expected_result_at_fixed_now.includes('debug-mode'),
    })),
  );
}
const file = (t: TestContext, rel: string): Uint8Array | undefined => {
  const p = requireTestdata(t, rel);
  return p && new Uint8Array(readFileSync(p[0]));
};
const code = (r: VerificationResult): string | undefined => failureCode(r);
/** Python's rfc4514 order (last RDN first) from @peculiar/x509's DER-order string. */
const rfc4514 = (s: string): string => s.split(', ').reverse().join(',');

/** COSE_Sign1 items of a valid document. */
function coseParts(bytes: Uint8Array): [Uint8Array, CborMap, Uint8Array, Uint8Array] {
  return decodeCbor(bytes) as [Uint8Array, CborMap, Uint8Array, Uint8Array];
}
function reencodePayload(bytes: Uint8Array, edit: (m: CborMap) => void): Uint8Array {
  const [p, u, payload, sig] = coseParts(bytes);
  const m = decodeCbor(payload) as CborMap;
  edit(m);
  return encodeCbor([p, u, encodeCbor(m), sig]);
}

test('every valid vector verifies at its documented time and matches expected.json', (t) => {
  const vectors = loadVectors(t);
  if (!vectors) return;
  assert.equal(vectors.length, 6);
  for (const v of vectors) {
    const r = verifyNitro(v.bytes, { now: v.now, policy: { allowDebug: true } });
    assert.equal(r.valid, true, `${v.file}: ${r.reason}`);
    const d = r.details as Record<string, unknown>;
    assert.equal(d.moduleId, v.module_id);
    assert.equal(d.timestamp, v.timestamp_ms);
    assert.deepEqual(r.measurements, Object.fromEntries(Object.entries(v.pcrs).map(([k, x]) => [`PCR${k}`, x])));
    assert.equal(r.reportData, v.user_data ?? '');
    assert.equal(d.userData ?? null, v.user_data);
    assert.equal(d.nonce ?? null, v.nonce);
    assert.equal(d.publicKey ?? null, v.public_key);
    assert.equal(d.debug, v.debug, v.file);
    assert.equal(d.insecureDev, false);
    assert.equal(d.rootSha256, AWS_NITRO_ROOT_G1_SHA256);
    const chain = d.chain as Expected['chain'];
    assert.deepEqual(
      chain.map((c) => [rfc4514(c.subject), Date.parse(c.notBefore), Date.parse(c.notAfter), c.sha256]),
      v.chain.map((c) => [c.subject, Date.parse(c.notBefore), Date.parse(c.notAfter), c.sha256]),
    );
    // Under the default (production) policy, debug documents are rejected and the others pass.
    const prod = verifyNitro(v.bytes, { now: v.now });
    assert.equal(prod.valid, !v.debug, `${v.file}: ${prod.reason}`);
    if (v.debug) assert.equal(code(prod), 'policy-debug');
  }
});

test('the nitro-attest chain files are the certificates of its document', (t) => {
  const paths = requireTestdata(t, ATTEST, ...[0, 1, 2, 3, 4].map((i) => `attestation/nitro/nitro-attest_chain_${i}.der`));
  if (!paths) return;
  const r = verifyNitro(new Uint8Array(readFileSync(paths[0])), { now: new Date(1736179625472) });
  const chain = r.details?.chain as { sha256: string }[];
  assert.deepEqual(
    chain.map((c) => c.sha256),
    paths.slice(1).map((p) => sha256Hex(readFileSync(p))),
  );
});

test('the pinned fingerprint is the official AWS Nitro Enclaves Root-G1', (t) => {
  const paths = requireTestdata(t, 'attestation/nitro/aws_nitro_enclaves_root_g1.pem', 'attestation/nitro/nitro-attest_chain_0.der');
  if (!paths) return;
  const der = new X509Certificate(readFileSync(paths[0])).raw;
  assert.equal(sha256Hex(der), AWS_NITRO_ROOT_G1_SHA256);
  assert.deepEqual(der, readFileSync(paths[1]));
});

test('validity window: one millisecond outside the tightest certificate is rejected', (t) => {
  const vectors = loadVectors(t);
  if (!vectors) return;
  for (const v of vectors) {
    const [from, to] = v.chain_valid_window_utc.map(Date.parse);
    const policy = { allowDebug: true };
    // At notBefore the document timestamp may lie in the future (GA vector: 26 min), so lift the skew check.
    const atStart = verifyNitro(v.bytes, { now: new Date(from), policy, maxFutureSkewMs: 3_600_000 });
    assert.equal(atStart.valid, true, `notBefore itself is inside: ${atStart.reason}`);
    if (v.timestamp_ms - from > 60_000) assert.equal(code(verifyNitro(v.bytes, { now: new Date(from), policy })), 'stale');
    assert.equal(verifyNitro(v.bytes, { now: new Date(to), policy }).valid, true, 'notAfter itself is inside');
    const late = verifyNitro(v.bytes, { now: new Date(to + 1), policy });
    assert.equal(code(late), 'expired');
    assert.match(late.reason, /1 ms after notAfter/);
    const early = verifyNitro(v.bytes, { now: new Date(from - 1), policy });
    assert.equal(code(early), 'not-yet-valid');
    assert.match(early.reason, /1 ms before notBefore/);
  }
});

test('derived negatives: signature, payload, root, algorithm, structure', (t) => {
  const doc = file(t, ATTEST);
  if (!doc) return;
  const now = new Date(1736179625472);
  assert.equal(verifyNitro(doc, { now }).valid, true);

  const sigFlip = doc.slice();
  sigFlip[sigFlip.length - 10] ^= 0x01;
  assert.equal(code(verifyNitro(sigFlip, { now })), 'signature');

  const [p, u, payload, sig] = coseParts(doc);
  const pcr0 = (decodeCbor(payload) as CborMap).get('pcrs') as Map<number, Uint8Array>;
  const at = Buffer.from(payload).indexOf(Buffer.from(pcr0.get(0)!));
  const tampered = payload.slice();
  tampered[at + 5] ^= 0x80;
  assert.equal(code(verifyNitro(encodeCbor([p, u, tampered, sig]), { now })), 'signature');

  const other = sha256Hex((decodeCbor(payload) as CborMap).get('certificate') as Uint8Array);
  const r = verifyNitro(doc, { now, roots: [other] });
  assert.equal(code(r), 'root-not-pinned');
  assert.equal(r.measurements.PCR0.length, 96, 'partial results still report what was parsed');

  const es256 = encodeCbor([encodeCbor(new Map([[1, -7]])), u, payload, sig]);
  const alg = verifyNitro(es256, { now });
  assert.equal(code(alg), 'algorithm');
  assert.match(alg.reason, /ES256/);

  assert.equal(verifyNitro(encodeCbor(new CborTag(18, [p, u, payload, sig])), { now }).valid, true, 'tag 18 accepted');
  assert.equal(code(verifyNitro(encodeCbor(new CborTag(98, [p, u, payload, sig])), { now })), 'parse');
  assert.equal(code(verifyNitro(Buffer.concat([doc, Buffer.of(0)]), { now })), 'parse', 'trailing byte');
  assert.equal(code(verifyNitro(encodeCbor([p, new Map([[4, new Uint8Array(1)]]), payload, sig]), { now })), 'parse');
  assert.equal(code(verifyNitro(encodeCbor([p, u, payload, sig.subarray(1)]), { now })), 'signature');

  const dropZonal = reencodePayload(doc, (m) => (m.get('cabundle') as Uint8Array[]).splice(2, 1));
  assert.equal(code(verifyNitro(dropZonal, { now })), 'chain');
  const extra = reencodePayload(doc, (m) => m.set('extra', 1));
  assert.equal(code(verifyNitro(extra, { now })), 'parse');
  const badPcr = reencodePayload(doc, (m) => (m.get('pcrs') as CborMap).set(32, new Uint8Array(48)));
  assert.equal(code(verifyNitro(badPcr, { now })), 'parse');
  const sha256 = reencodePayload(doc, (m) => m.set('digest', 'SHA256'));
  assert.equal(code(verifyNitro(sha256, { now })), 'algorithm');
  const noCert = reencodePayload(doc, (m) => m.delete('certificate'));
  assert.equal(code(verifyNitro(noCert, { now })), 'parse');
});

test('policy: debug, measurements, nonce, maximum age', (t) => {
  const doc = file(t, ATTEST);
  const blind = file(t, 'attestation/nitro/blindai_nitro_attestation_document_valid.cbor');
  const withNonce = file(t, 'attestation/nitro-atls/evervault_beta_valid-attestation-doc-bytes');
  if (!doc || !blind || !withNonce) return;
  const now = new Date(1736179625472);
  const pcrs = {
    PCR0: '8BB159F202BB95D6D4D98E0E103918246CEA734F1D57CD263E4FD56075ED53F6FA8C68854817A32749A241E11874C26B',
    PCR1: '3b4a7e1b5f13c5a1000b3ed32ef8995ee13e9876329f9bc72650b918329ef9cf4e2e4d1e1e37375dab0ba56ba0974d03',
  };
  assert.equal(verifyNitro(doc, { now, policy: { expectedMeasurements: pcrs } }).valid, true);
  const wrong = verifyNitro(doc, { now, policy: { expectedMeasurements: { ...pcrs, PCR1: '00'.repeat(48) } } });
  assert.equal(code(wrong), 'policy-measurement');
  assert.equal(code(verifyNitro(doc, { now, policy: { expectedMeasurements: { PCR16: '00' } } })), 'policy-measurement');

  const production = { expectedMeasurements: { PCR0: pcrs.PCR0 } };
  assert.equal(code(verifyNitro(blind, { now: new Date(1679495307405), policy: production })), 'policy-debug');
  assert.equal(
    code(verifyNitro(blind, { now: new Date(1679495307405), policy: { allowDebug: true, ...production } })),
    'policy-measurement',
  );

  const nowN = new Date(1665651482136);
  const nonce = (verifyNitro(withNonce, { now: nowN }).details?.nonce as string).toUpperCase();
  assert.equal(verifyNitro(withNonce, { now: nowN, policy: { nonce } }).valid, true);
  assert.equal(code(verifyNitro(withNonce, { now: nowN, policy: { nonce: 'ab'.repeat(256) } })), 'policy-nonce');
  assert.equal(code(verifyNitro(doc, { now, policy: { nonce: 'abcd' } })), 'policy-nonce');
  assert.equal(code(verifyNitro(doc, { now, policy: { nonce: 'xyz' } })), 'parse');

  assert.equal(verifyNitro(doc, { now: new Date(now.getTime() + 300_000), policy: { maxAgeMs: 300_000 } }).valid, true);
  assert.equal(code(verifyNitro(doc, { now: new Date(now.getTime() + 300_001), policy: { maxAgeMs: 300_000 } })), 'policy-age');
  assert.equal(code(verifyNitro(doc, { now: new Date(Number.NaN) })), 'parse');
});

test('nitro-atls: documents bound to TLS certificates (user_data = raw SPKI)', (t) => {
  const dir = 'attestation/nitro-atls/';
  const paths = requireTestdata(
    t,
    ...[
      'evervault_valid-attestation-doc-base64',
      'evervault_valid-certificate.der',
      'evervault_beta_debug-mode-cert-containing-attestation-doc-18-1-23.pem',
      'evervault_beta_debug-mode-cert-containing-attestation-doc-18-1-23.extracted-cose.bin',
    ].map((f) => dir + f),
  );
  if (!paths) return;
  const [gaDoc, gaCert, betaPem, betaCose] = paths.map((p) => new Uint8Array(readFileSync(p)));
  const policy = { allowDebug: true };
  const ga = { document: decodeNitroInput(gaDoc), certificate: gaCert, now: new Date(1695049410860), policy, mode: 'raw-spki' as const };
  const ok = verifyBoundTls(ga);
  assert.equal(ok.valid, true, ok.reason);
  assert.equal(ok.details?.binding, 'raw-spki');
  assert.equal(code(verifyBoundTls({ ...ga, mode: 'sha256-spki' })), 'binding', 'our hashed binding is a different rule');
  const pem = Buffer.from(betaPem).toString('utf8');
  assert.equal(code(verifyBoundTls({ ...ga, certificate: pem })), 'binding', 'another certificate (key) must fail');
  assert.equal(code(verifyBoundTls({ ...ga, policy: {} })), 'policy-debug');

  assert.deepEqual(extractDocumentFromCertificate(pem), betaCose);
  const beta = { certificate: pem, now: new Date(1674054632312), policy, mode: 'raw-spki' as const };
  const r = verifyBoundTls(beta);
  assert.equal(r.valid, true, r.reason);
  const nonce = r.details?.nonce as string;
  assert.equal(verifyBoundTls({ ...beta, nonce }).valid, true);
  assert.equal(code(verifyBoundTls({ ...beta, nonce: Buffer.alloc(256, 1) })), 'policy-nonce');
  assert.equal(code(verifyBoundTls({ ...beta, certificate: gaCert, document: betaCose })), 'binding');
  assert.equal(code(verifyBoundTls({ ...beta, certificate: gaCert })), 'parse', 'no document in the SAN');
  assert.equal(checkBinding(verifyNitro(betaCose, { now: new Date(0) }), gaCert).ok, false);
});
