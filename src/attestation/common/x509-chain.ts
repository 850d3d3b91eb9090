/**
 * Generic X.509 path validation for attestation chains, on node:crypto (signatures) and
 * @peculiar/x509 (extension parsing). Never trusts a root that comes with the evidence: the root
 * must match a pinned SHA-256 of its DER.
 *
 * Checklist (shared/notes/attestation-verification.md §2 general rules; Nitro §2.1 step 4; SNP
 * §2.2 step 4; TDX §2.3 step 4): pinned root by SHA-256(DER); each certificate's issuer name and
 * signature against the previous one; validity at the injected `now` for every certificate incl.
 * the root (inclusive bounds, reason with ms); basicConstraints CA + pathLen and keyUsage
 * keyCertSign for CAs; optionally leaf must not be a CA. Tolerant of 21-octet serial numbers.
 */
import 'reflect-metadata';
import { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, X509Certificate as PeculiarCert } from '@peculiar/x509';
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { AttestationError } from './result.ts';

/** One parsed certificate. */
export interface ChainCert {
  der: Uint8Array;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, lower-case hex. */
  sha256: string;
  publicKey: KeyObject;
  /** basicConstraints cA (false when the extension is absent). */
  ca: boolean;
  pathLength: number | undefined;
  /** keyUsage bit mask (RFC 5280 order as in @peculiar/x509's KeyUsageFlags), undefined when absent. */
  keyUsage: number | undefined;
}

export interface ChainOptions {
  now: Date;
  /** SHA-256 (hex, any case) of the DER of every acceptable root. */
  pinnedRoots: Iterable<string>;
  /** Reject a leaf with basicConstraints cA=true (default true). */
  leafMustNotBeCA?: boolean;
}

/** SHA-256 of bytes, lower-case hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Parses one DER certificate; throws code `parse` with `label` on failure. */
export function parseCertificate(der: Uint8Array, label: string): ChainCert {
  try {
    const node = new X509Certificate(der);
    const p = new PeculiarCert(der);
    const bc = p.getExtension(BasicConstraintsExtension);
    const ku = p.getExtension(KeyUsagesExtension);
    return {
      der,
      subject: p.subject,
      issuer: p.issuer,
      notBefore: p.notBefore,
      notAfter: p.notAfter,
      sha256: sha256Hex(der),
      publicKey: node.publicKey,
      ca: bc?.ca === true,
      pathLength: bc?.pathLength,
      keyUsage: ku?.usages,
    };
  } catch (err) {
    throw new AttestationError('parse', `not a valid DER X.509 certificate (${err instanceof Error ? err.message : String(err)})`, label);
  }
}

/** The exact DER SubjectPublicKeyInfo bytes of a certificate (DER or PEM). Throws code `parse`. */
export function certificateSpki(cert: Uint8Array | string): Uint8Array {
  try {
    return new Uint8Array(new PeculiarCert(cert).publicKey.rawData);
  } catch (err) {
    throw new AttestationError('parse', `not a valid certificate (${err instanceof Error ? err.message : String(err)})`, 'certificate');
  }
}

/** Describes a certificate in messages: `chain[i] (root|leaf) "subject"`. */
function label(certs: ChainCert[], i: number): string {
  const role = i === 0 ? ' (root)' : i === certs.length - 1 ? ' (leaf)' : '';
  return `chain[${i}]${role} "${certs[i].subject}"`;
}

/** Throws `expired` / `not-yet-valid` with the distance in ms when `now` is outside [notBefore, notAfter]. */
export function checkValidity(what: string, notBefore: Date, notAfter: Date, now: Date): void {
  const t = now.getTime();
  if (t < notBefore.getTime()) {
    throw new AttestationError(
      'not-yet-valid',
      `${what} is not yet valid: now ${now.toISOString()} is ${notBefore.getTime() - t} ms before notBefore ${notBefore.toISOString()}`,
    );
  }
  if (t > notAfter.getTime()) {
    throw new AttestationError(
      'expired',
      `${what} expired: now ${now.toISOString()} is ${t - notAfter.getTime()} ms after notAfter ${notAfter.toISOString()}`,
    );
  }
}

/**
 * Validates a root-first chain `[root, …, leaf]` (DER). Returns the parsed certificates (root
 * first). Throws {@link AttestationError} with code parse / root-not-pinned / chain / expired /
 * not-yet-valid.
 */
export function verifyChain(rootFirst: readonly Uint8Array[], opts: ChainOptions): ChainCert[] {
  if (rootFirst.length === 0) throw new AttestationError('chain', 'empty certificate chain');
  const certs = rootFirst.map((der, i) => parseCertificate(der, `chain[${i}]`));
  const pinned = new Set([...opts.pinnedRoots].map((h) => h.toLowerCase()));
  if (!pinned.has(certs[0].sha256)) {
    throw new AttestationError('root-not-pinned', `root ${label(certs, 0)} has SHA-256 ${certs[0].sha256}, which is not pinned`);
  }
  const nodeCerts = certs.map((c) => new X509Certificate(c.der));
  for (let i = 1; i < certs.length; i++) {
    if (!nodeCerts[i].checkIssued(nodeCerts[i - 1])) {
      throw new AttestationError('chain', `${label(certs, i)} is not issued by ${label(certs, i - 1)} (issuer "${certs[i].issuer}")`);
    }
    let ok = false;
    try {
      ok = nodeCerts[i].verify(certs[i - 1].publicKey);
    } catch {
      ok = false;
    }
    if (!ok) throw new AttestationError('chain', `signature of ${label(certs, i)} does not verify under ${label(certs, i - 1)}`);
  }
  for (let i = 0; i < certs.length - 1; i++) {
    const c = certs[i];
    if (!c.ca) throw new AttestationError('chain', `${label(certs, i)} issues certificates but is not a CA (basicConstraints)`);
    const below = certs.length - 2 - i; // CA certificates that follow it, excluding the leaf
    if (c.pathLength !== undefined && below > c.pathLength) {
      throw new AttestationError('chain', `${label(certs, i)} has pathLen ${c.pathLength} but ${below} CA certificates follow it`);
    }
    if (c.keyUsage === undefined || (c.keyUsage & KeyUsageFlags.keyCertSign) === 0) {
      throw new AttestationError('chain', `${label(certs, i)} lacks keyUsage keyCertSign`);
    }
  }
  const leaf = certs.length - 1;
  if ((opts.leafMustNotBeCA ?? true) && leaf > 0 && certs[leaf].ca) {
    throw new AttestationError('chain', `${label(certs, leaf)} must not be a CA`);
  }
  certs.forEach((c, i) => checkValidity(`certificate ${label(certs, i)}`, c.notBefore, c.notAfter, opts.now));
  return certs;
}
