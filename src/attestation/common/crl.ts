/**
 * X.509 CRLs (RFC 5280 §5) for revocation checks, e.g. Intel's PCK CRL and SGX Root CA CRL
 * (checklist TDX §2.3 step 4: "revocation against PCK CRL (of the matching CA) and Root CA CRL,
 * each CRL signature-checked and fresh (nextUpdate ≥ now)").
 *
 * The signature is checked with node:crypto over the exact tbsCertList bytes; the issuer must be
 * the certificate that issued the checked certificate (raw name comparison plus signature).
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { certFields } from './certs.ts';
import { TAG, bitStringBytes, children, encoding, expectTag, integerHex, oid, readExact, time } from './der.ts';
import { AttestationError } from './result.ts';

export const MAX_CRL_BYTES = 1024 * 1024;

const SIG_HASH: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384', // ecdsa-with-SHA384
};

export interface Crl {
  der: Uint8Array;
  tbs: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  issuerDer: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Canonical serial hex (der.ts integerHex) of every revoked certificate. */
  revoked: Set<string>;
}

/** Parses a DER (or PEM "X509 CRL") CRL. Throws code `parse` / `size`. */
export function parseCrl(input: Uint8Array, field = 'crl'): Crl {
  let der = input;
  if (input[0] !== TAG.SEQUENCE) {
    const m = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]*)-----END X509 CRL-----/.exec(
      Buffer.from(input.subarray(0, MAX_CRL_BYTES * 2)).toString('latin1'),
    );
    if (!m) throw new AttestationError('parse', 'not a DER or PEM CRL', field);
    der = new Uint8Array(Buffer.from(m[1].replace(/\s/g, ''), 'base64'));
  }
  if (der.length > MAX_CRL_BYTES) throw new AttestationError('size', `CRL larger than ${MAX_CRL_BYTES} bytes`, field);
  const top = children(der, readExact(der, TAG.SEQUENCE, field), field);
  if (top.length !== 3) throw new AttestationError('parse', 'CertificateList must have 3 elements', field);
  const tbsTlv = expectTag(top[0], TAG.SEQUENCE, field);
  const algo = oid(der, children(der, expectTag(top[1], TAG.SEQUENCE, field), field)[0], `${field}.signatureAlgorithm`);
  const f = children(der, tbsTlv, field);
  let k = f[0]?.tag === TAG.INTEGER ? 1 : 0;
  k++; // inner signature AlgorithmIdentifier
  const issuer = expectTag(f[k++], TAG.SEQUENCE, `${field}.issuer`);
  if (f[k] === undefined) throw new AttestationError('parse', 'missing thisUpdate', field);
  const thisUpdate = time(der, f[k++], `${field}.thisUpdate`);
  let nextUpdate: number | undefined;
  if (f[k]?.tag === TAG.UTC_TIME || f[k]?.tag === TAG.GENERALIZED_TIME) nextUpdate = time(der, f[k++], `${field}.nextUpdate`);
  const revoked = new Set<string>();
  if (f[k]?.tag === TAG.SEQUENCE) {
    for (const entry of children(der, f[k], field)) {
      revoked.add(integerHex(der, children(der, expectTag(entry, TAG.SEQUENCE, field), field)[0], `${field}.revoked`));
    }
  }
  return {
    der,
    tbs: encoding(der, tbsTlv),
    signatureAlgorithm: algo,
    signature: bitStringBytes(der, top[2], `${field}.signature`),
    issuerDer: encoding(der, issuer),
    thisUpdate: new Date(thisUpdate),
    nextUpdate: nextUpdate === undefined ? undefined : new Date(nextUpdate),
    revoked,
  };
}

/**
 * Checks `crl` was issued by the CA certificate `issuerDer` (name and signature); throws `chain` /
 * `algorithm` otherwise. Freshness is separate ({@link checkCrlFreshness}).
 */
export function checkCrlIssuer(crl: Crl, issuerDer: Uint8Array, issuerKey: KeyObject, what: string): void {
  if (Buffer.compare(crl.issuerDer, certFields(issuerDer).subjectDer) !== 0) {
    throw new AttestationError('chain', `${what} is not issued by the CA that issued the checked certificate`);
  }
  const hash = SIG_HASH[crl.signatureAlgorithm];
  if (hash === undefined) throw new AttestationError('algorithm', `${what} signature algorithm ${crl.signatureAlgorithm} is not supported`);
  let ok = false;
  try {
    ok = cryptoVerify(hash, crl.tbs, { key: issuerKey, dsaEncoding: 'der' }, crl.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new AttestationError('signature', `${what} signature does not verify`);
}

/** Throws `not-yet-valid` / `expired` unless thisUpdate ≤ now ≤ nextUpdate (a CRL without nextUpdate is stale). */
export function checkCrlFreshness(crl: Crl, now: Date, what: string): void {
  const t = now.getTime();
  if (t < crl.thisUpdate.getTime())
    throw new AttestationError('not-yet-valid', `${what} thisUpdate ${crl.thisUpdate.toISOString()} is after now ${now.toISOString()}`);
  if (crl.nextUpdate === undefined) throw new AttestationError('expired', `${what} has no nextUpdate`);
  if (t > crl.nextUpdate.getTime()) {
    throw new AttestationError(
      'expired',
      `${what} is stale: nextUpdate ${crl.nextUpdate.toISOString()} is ${t - crl.nextUpdate.getTime()} ms before now`,
    );
  }
}

/** Throws `revoked` if the certificate's serial is listed. */
export function checkNotRevoked(crl: Crl, certDer: Uint8Array, what: string): void {
  const serial = certFields(certDer).serialHex;
  if (crl.revoked.has(serial)) throw new AttestationError('revoked', `${what} (serial ${serial}) is revoked by the CRL`);
}
