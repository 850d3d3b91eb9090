/**
 * Certificate plumbing shared by the SEV-SNP and TDX verifiers: decoding PEM/DER bundles, reading
 * the TBS fields node:crypto does not expose (raw issuer/subject names, serial, private
 * extensions such as AMD's VCEK TCB OIDs and Intel's SGX extension), and ordering an unordered
 * set of certificates into a root-first path for common/x509-chain.ts (which does the actual
 * validation: pinned root, signatures, CA flags, validity).
 */
import { X509Certificate } from 'node:crypto';
import { TAG, children, contents, encoding, expectTag, integerHex, oid, readExact, readTlv } from './der.ts';
import { AttestationError } from './result.ts';

/** Limits for caller-supplied bundles (fail fast on absurd input). */
export const MAX_CERT_BYTES = 16 * 1024;
export const MAX_BUNDLE_CERTS = 16;

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;

/** Decodes one or more inputs, each DER (one certificate) or PEM text (one or more blocks). */
export function decodeCertificates(inputs: ReadonlyArray<string | Uint8Array>, field = 'chain'): Uint8Array[] {
  if (!Array.isArray(inputs)) throw new AttestationError('parse', 'expected an array of PEM texts / DER certificates', field);
  const out: Uint8Array[] = [];
  for (const [i, input] of inputs.entries()) {
    if (typeof input !== 'string' && !(input instanceof Uint8Array))
      throw new AttestationError('parse', 'expected PEM text or DER bytes', `${field}[${i}]`);
    if (input instanceof Uint8Array && input[0] === TAG.SEQUENCE) {
      out.push(checkedDer(input, `${field}[${i}]`));
      continue;
    }
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
    if (text.length > MAX_CERT_BYTES * MAX_BUNDLE_CERTS * 2)
      throw new AttestationError('size', 'certificate bundle too large', `${field}[${i}]`);
    const blocks = [...text.matchAll(PEM_BLOCK)];
    if (blocks.length === 0) throw new AttestationError('parse', 'no PEM CERTIFICATE block and not DER', `${field}[${i}]`);
    for (const [j, m] of blocks.entries()) {
      const b64 = m[1].replace(/[\r\n\t ]/g, '');
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
        throw new AttestationError('parse', 'PEM block is not valid base64', `${field}[${i}][${j}]`);
      }
      out.push(checkedDer(new Uint8Array(Buffer.from(b64, 'base64')), `${field}[${i}][${j}]`));
    }
  }
  if (out.length > MAX_BUNDLE_CERTS) throw new AttestationError('size', `more than ${MAX_BUNDLE_CERTS} certificates`, field);
  return out;
}

function checkedDer(der: Uint8Array, field: string): Uint8Array {
  if (der.length > MAX_CERT_BYTES) throw new AttestationError('size', `certificate larger than ${MAX_CERT_BYTES} bytes`, field);
  readExact(der, TAG.SEQUENCE, field);
  return der;
}

export interface CertExtension {
  critical: boolean;
  /** extnValue contents (the DER of the extension's own value). */
  value: Uint8Array;
}

/** TBS fields of a certificate that node:crypto's X509Certificate does not expose. */
export interface CertFields {
  /** Canonical hex of the serial number (see der.ts integerHex). */
  serialHex: string;
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  extensions: Map<string, CertExtension>;
}

/** Reads the TBS fields of a DER certificate. Throws code `parse`. */
export function certFields(der: Uint8Array, field = 'certificate'): CertFields {
  const cert = readExact(der, TAG.SEQUENCE, field);
  const tbs = expectTag(children(der, cert, field)[0], TAG.SEQUENCE, field);
  const f = children(der, tbs, field);
  let k = f[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  const serial = integerHex(der, f[k++], `${field}.serial`);
  k++; // signature AlgorithmIdentifier
  const issuer = expectTag(f[k++], TAG.SEQUENCE, `${field}.issuer`);
  k++; // validity
  const subject = expectTag(f[k++], TAG.SEQUENCE, `${field}.subject`);
  const extensions = new Map<string, CertExtension>();
  const extWrapper = f.find((t) => t.tag === 0xa3);
  if (extWrapper) {
    const list = expectTag(readTlv(der, extWrapper.contentStart, extWrapper.end, field), TAG.SEQUENCE, `${field}.extensions`);
    for (const ext of children(der, list, field)) {
      const parts = children(der, expectTag(ext, TAG.SEQUENCE, field), field);
      const id = oid(der, parts[0], `${field}.extensions`);
      const critical = parts.length === 3 && parts[1].tag === 0x01 && der[parts[1].contentStart] !== 0;
      const value = contents(der, expectTag(parts[parts.length - 1], TAG.OCTET_STRING, `${field}.extensions.${id}`));
      if (extensions.has(id)) throw new AttestationError('parse', `duplicate extension ${id}`, field);
      extensions.set(id, { critical, value });
    }
  }
  return { serialHex: serial, issuerDer: encoding(der, issuer), subjectDer: encoding(der, subject), extensions };
}

/** The common name in a node:crypto X509Certificate subject/issuer string ("" when absent). */
export function commonName(dn: string): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(dn)?.[1] ?? '';
}

/** Parses DER with node:crypto; throws code `parse`. */
export function nodeCertificate(der: Uint8Array, field: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (err) {
    throw new AttestationError('parse', `not a valid certificate (${err instanceof Error ? err.message : String(err)})`, field);
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * Orders `leaf` and the certificates of `pool` that lead from it to a self-issued root, root first
 * (input for verifyChain). Only names are matched here; signatures are checked by verifyChain.
 * Throws code `chain` when an issuer is missing.
 */
export function orderChain(leaf: Uint8Array, pool: readonly Uint8Array[], field = 'chain'): Uint8Array[] {
  const path = [leaf];
  let cur = certFields(leaf, `${field}.leaf`);
  while (!sameBytes(cur.issuerDer, cur.subjectDer)) {
    if (path.length > 8) throw new AttestationError('chain', 'certificate path longer than 8', field);
    const next = pool.find((c) => !path.includes(c) && sameBytes(certFields(c, field).subjectDer, cur.issuerDer));
    if (next === undefined) {
      const name = commonName(nodeCertificate(path[path.length - 1], field).issuer);
      throw new AttestationError(
        'chain',
        `the issuer "${name}" of ${path.length === 1 ? 'the leaf' : 'an intermediate'} is not among the supplied certificates`,
        field,
      );
    }
    path.push(next);
    cur = certFields(next, field);
  }
  return path.reverse();
}
