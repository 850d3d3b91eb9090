/**
 * The `CiphertextForRecipient` format of AWS KMS attestation-gated key release
 * (shared/notes/attestation-verification.md §4, step 4): a CMS EnvelopedData (RFC 5652) inside a
 * ContentInfo, exactly the shape AWS returns:
 *
 *   ContentInfo { contentType id-envelopedData (1.2.840.113549.1.7.3), [0] EXPLICIT EnvelopedData {
 *     version 2,
 *     recipientInfos SET { KeyTransRecipientInfo {
 *       version 2, rid [0] subjectKeyIdentifier = SHA-1(subjectPublicKey bits of the recipient SPKI),
 *       keyEncryptionAlgorithm RSAES-OAEP (1.2.840.113549.1.1.7) { hash SHA-256, MGF1-SHA-256 },
 *       encryptedKey = RSA-OAEP-SHA-256(CEK) } },
 *     encryptedContentInfo { id-data, AES-256-CBC (2.16.840.1.101.3.4.1.42) with the IV as parameter,
 *       [0] IMPLICIT encryptedContent = AES-256-CBC/PKCS#7(CEK, IV, data key) } } }
 *
 * The builder emits DER. The parser accepts DER and the BER forms a CMS producer may use
 * (indefinite lengths, constructed encryptedContent), and checks every algorithm identifier: it
 * only accepts what AWS documents (RSAES_OAEP_SHA_256 + AES-256-CBC). No unprotected attributes,
 * originatorInfo or other recipient kinds are supported (AWS emits none).
 * Note: CMS EnvelopedData carries no MAC; integrity of the data key comes from the model file's
 * AES-256-GCM tag (a wrong/tampered key fails decryption of the model).
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { ValidationError } from '../base/errors.ts';

const OID = {
  envelopedData: '1.2.840.113549.1.7.3',
  data: '1.2.840.113549.1.7.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  sha256: '2.16.840.1.101.3.4.2.1',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const;

// ---------------------------------------------------------------- DER encoding

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Uint8Array[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const set = (...c: Uint8Array[]) => tlv(0x31, ...c);
const int = (n: number) => tlv(0x02, Buffer.from([n]));
const octets = (b: Uint8Array) => tlv(0x04, b);
const NULL = Buffer.from([0x05, 0x00]);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function decodeOid(b: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const byte of b) {
    v = v * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

// ---------------------------------------------------------------- BER/DER parsing

interface Node {
  tag: number;
  constructed: boolean;
  /** Primitive content (for constructed nodes: the raw content bytes, unused). */
  value: Uint8Array;
  children: Node[];
  end: number;
}

const fail = (message: string): never => {
  throw new ValidationError(message, 'CiphertextForRecipient');
};

function readNode(b: Uint8Array, off: number, depth = 0): Node {
  if (depth > 16) fail('ASN.1 nesting too deep');
  if (off + 2 > b.length) fail(`truncated ASN.1 at offset ${off}`);
  const tag = b[off];
  if ((tag & 0x1f) === 0x1f) fail(`unsupported high-tag-number form at offset ${off}`);
  const constructed = (tag & 0x20) !== 0;
  let p = off + 1;
  const first = b[p++];
  if (first === 0x80) {
    if (!constructed) fail(`indefinite length on a primitive at offset ${off}`);
    const children: Node[] = [];
    for (;;) {
      if (p + 2 > b.length) fail(`truncated indefinite-length value at offset ${off}`);
      if (b[p] === 0 && b[p + 1] === 0) return { tag, constructed, value: b.subarray(off, p), children, end: p + 2 };
      const child = readNode(b, p, depth + 1);
      children.push(child);
      p = child.end;
    }
  }
  let length = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n > 4) fail(`length too large at offset ${off}`);
    length = 0;
    for (let i = 0; i < n; i++) {
      if (p >= b.length) fail(`truncated length at offset ${off}`);
      length = length * 256 + b[p++];
    }
  }
  const end = p + length;
  if (end > b.length) fail(`truncated ASN.1 value at offset ${off} (needs ${length} bytes, ${b.length - p} left)`);
  const value = b.subarray(p, end);
  const children: Node[] = [];
  if (constructed) {
    for (let q = p; q < end;) {
      const child = readNode(b, q, depth + 1);
      if (child.end > end) fail(`child overruns its parent at offset ${q}`);
      children.push(child);
      q = child.end;
    }
  }
  return { tag, constructed, value, children, end };
}

function expect(n: Node | undefined, tag: number, what: string): Node {
  if (!n) return fail(`${what} is missing`);
  if (n.tag !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)}`);
  return n;
}
const expectOid = (n: Node | undefined, want: string, what: string): void => {
  const got = decodeOid(expect(n, 0x06, what).value);
  if (got !== want) fail(`${what} is ${got}, expected ${want}`);
};
/** OCTET STRING content, primitive or (BER) constructed from primitive chunks. */
function octetContent(n: Node): Uint8Array {
  return n.constructed ? Buffer.concat(n.children.map(octetContent)) : n.value;
}
const intValue = (n: Node | undefined, what: string): number => {
  const v = expect(n, 0x02, what).value;
  if (v.length !== 1) fail(`${what}: unexpected INTEGER length ${v.length}`);
  return v[0];
};
/** AlgorithmIdentifier { sha256 [, NULL] }. */
function expectSha256(n: Node | undefined, what: string): void {
  const s = expect(n, 0x30, what);
  expectOid(s.children[0], OID.sha256, `${what}.algorithm`);
  if (s.children.length > 1 && s.children[1].tag !== 0x05) fail(`${what}.parameters must be NULL or absent`);
}

// ---------------------------------------------------------------- recipients

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING (without the unused-bits byte). */
export function subjectKeyIdentifier(spkiDer: Uint8Array): Uint8Array {
  const spki = expect(readNode(spkiDer, 0), 0x30, 'SubjectPublicKeyInfo');
  const bits = expect(spki.children[1], 0x03, 'SubjectPublicKeyInfo.subjectPublicKey');
  return new Uint8Array(createHash('sha1').update(bits.value.subarray(1)).digest());
}

/** Parses a DER SPKI as an RSA public key of at least 2048 bits; throws ValidationError otherwise. */
export function rsaRecipientKey(spkiDer: Uint8Array, field = 'public_key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  } catch (e) {
    throw new ValidationError(`not a DER SubjectPublicKeyInfo: ${(e as Error).message}`, field);
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw new ValidationError(`expected an RSA key (RSAES_OAEP_SHA_256), got ${key.asymmetricKeyType}`, field);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) throw new ValidationError(`RSA key of ${bits} bits is too small (minimum 2048)`, field);
  return key;
}

/** Builds the CiphertextForRecipient (DER ContentInfo/EnvelopedData) of `plaintext` for the RSA SPKI. */
export function envelopeForRecipient(plaintext: Uint8Array, recipientSpkiDer: Uint8Array): Uint8Array {
  const key = rsaRecipientKey(recipientSpkiDer);
  const cek = randomBytes(32);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', cek, iv);
  const content = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const encryptedKey = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  cek.fill(0);
  const sha256Alg = seq(oid(OID.sha256), NULL);
  const oaepAlg = seq(oid(OID.rsaesOaep), seq(tlv(0xa0, sha256Alg), tlv(0xa1, seq(oid(OID.mgf1), sha256Alg))));
  const ktri = seq(int(2), tlv(0x80, subjectKeyIdentifier(recipientSpkiDer)), oaepAlg, octets(encryptedKey));
  const eci = seq(oid(OID.data), seq(oid(OID.aes256Cbc), octets(iv)), tlv(0x80, content));
  return new Uint8Array(seq(oid(OID.envelopedData), tlv(0xa0, seq(int(2), set(ktri), eci))));
}

/** The parsed fields of a CiphertextForRecipient (no decryption). */
export interface ParsedEnvelope {
  subjectKeyIdentifier: Uint8Array;
  encryptedKey: Uint8Array;
  iv: Uint8Array;
  encryptedContent: Uint8Array;
}

/** Parses and checks the structure and algorithms of a CiphertextForRecipient. */
export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  const ci = expect(readNode(bytes, 0), 0x30, 'ContentInfo');
  if (ci.end !== bytes.length) fail(`${bytes.length - ci.end} trailing bytes after ContentInfo`);
  expectOid(ci.children[0], OID.envelopedData, 'ContentInfo.contentType');
  const ed = expect(expect(ci.children[1], 0xa0, 'ContentInfo.content').children[0], 0x30, 'EnvelopedData');
  const version = intValue(ed.children[0], 'EnvelopedData.version');
  if (version !== 2) fail(`EnvelopedData.version is ${version}, expected 2`);
  const ris = expect(ed.children[1], 0x31, 'EnvelopedData.recipientInfos (originatorInfo is not supported)');
  if (ris.children.length !== 1) fail(`expected exactly one RecipientInfo, got ${ris.children.length}`);
  const ktri = expect(ris.children[0], 0x30, 'KeyTransRecipientInfo');
  const kv = intValue(ktri.children[0], 'KeyTransRecipientInfo.version');
  if (kv !== 2) fail(`KeyTransRecipientInfo.version is ${kv}, expected 2 (rid = subjectKeyIdentifier)`);
  const ski = expect(ktri.children[1], 0x80, 'KeyTransRecipientInfo.rid [0] subjectKeyIdentifier').value;
  const alg = expect(ktri.children[2], 0x30, 'keyEncryptionAlgorithm');
  expectOid(alg.children[0], OID.rsaesOaep, 'keyEncryptionAlgorithm (only RSAES_OAEP_SHA_256 is allowed)');
  const params = expect(alg.children[1], 0x30, 'RSAES-OAEP-params (defaults mean SHA-1, which is not allowed)');
  const hash = params.children.find((c) => c.tag === 0xa0);
  const mgf = params.children.find((c) => c.tag === 0xa1);
  if (params.children.some((c) => c.tag === 0xa2)) fail('RSAES-OAEP-params.pSourceFunc must be the default (empty label)');
  expectSha256(hash?.children[0], 'RSAES-OAEP-params.hashAlgorithm');
  const mgfAlg = expect(mgf?.children[0], 0x30, 'RSAES-OAEP-params.maskGenAlgorithm');
  expectOid(mgfAlg.children[0], OID.mgf1, 'maskGenAlgorithm.algorithm');
  expectSha256(mgfAlg.children[1], 'maskGenAlgorithm.parameters');
  const encryptedKey = octetContent(expect(ktri.children[3], 0x04, 'KeyTransRecipientInfo.encryptedKey'));
  const eci = expect(ed.children[2], 0x30, 'EncryptedContentInfo');
  if (ed.children.length > 3) fail('unprotectedAttrs are not supported');
  expectOid(eci.children[0], OID.data, 'EncryptedContentInfo.contentType');
  const cea = expect(eci.children[1], 0x30, 'contentEncryptionAlgorithm');
  expectOid(cea.children[0], OID.aes256Cbc, 'contentEncryptionAlgorithm (expected AES-256-CBC)');
  const iv = expect(cea.children[1], 0x04, 'AES-256-CBC IV').value;
  if (iv.length !== 16) fail(`AES-256-CBC IV has ${iv.length} bytes, expected 16`);
  const ec = eci.children[2];
  if (!ec || (ec.tag !== 0x80 && ec.tag !== 0xa0)) fail('EncryptedContentInfo.encryptedContent [0] is missing');
  const encryptedContent = ec!.tag === 0x80 ? ec!.value : octetContent({ ...ec!, constructed: true });
  return { subjectKeyIdentifier: ski, encryptedKey, iv, encryptedContent };
}

/**
 * Enclave side: opens a CiphertextForRecipient with the RSA private key whose public half was in
 * the attestation document's `public_key`. Throws ValidationError on a key mismatch or bad format.
 */
export function openForRecipient(ciphertextForRecipient: Uint8Array, recipientPrivateKey: KeyObject): Uint8Array {
  const env = parseEnvelope(ciphertextForRecipient);
  if (recipientPrivateKey.type !== 'private' || recipientPrivateKey.asymmetricKeyType !== 'rsa')
    throw new ValidationError('expected an RSA private key', 'recipientPrivateKey');
  const spki = createPublicKey(recipientPrivateKey).export({ format: 'der', type: 'spki' });
  const mine = subjectKeyIdentifier(spki);
  if (!Buffer.from(mine).equals(Buffer.from(env.subjectKeyIdentifier)))
    throw new ValidationError(
      `recipient key does not match: envelope is for subjectKeyIdentifier ${Buffer.from(env.subjectKeyIdentifier).toString('hex')}, ` +
        `this key is ${Buffer.from(mine).toString('hex')}`,
      'recipientPrivateKey',
    );
  let cek: Buffer;
  try {
    cek = privateDecrypt({ key: recipientPrivateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, env.encryptedKey);
  } catch {
    throw new ValidationError('RSA-OAEP-SHA-256 decryption of the content-encryption key failed', 'CiphertextForRecipient');
  }
  if (cek.length !== 32) throw new ValidationError(`content-encryption key has ${cek.length} bytes, expected 32`, 'CiphertextForRecipient');
  try {
    const d = createDecipheriv('aes-256-cbc', cek, env.iv);
    return new Uint8Array(Buffer.concat([d.update(env.encryptedContent), d.final()]));
  } catch {
    throw new ValidationError('AES-256-CBC decryption of the content failed (bad padding)', 'CiphertextForRecipient');
  } finally {
    cek.fill(0);
  }
}
