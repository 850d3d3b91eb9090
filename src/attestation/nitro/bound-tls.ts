/**
 * Attestation-bound TLS for Nitro documents: is this (verified) document about *this* TLS key and
 * *this* session?
 *
 * Checklist (shared/notes/attestation-verification.md §2.1 step 8 and §3):
 * - binding modes: `sha256-spki` (this project, dev provider: user_data = SHA-256(DER SPKI of the
 *   TLS key)) and `raw-spki` (Evervault Cages / nitro-atls vectors: user_data = the DER SPKI itself);
 *   the SPKI is taken byte-exact from the certificate, never re-encoded;
 * - freshness: a per-connection nonce must equal the document's `nonce` exactly;
 * - evidence travels either separately (`document`) or, Evervault beta style, hex-encoded as the
 *   longest label of a DNS subjectAltName of the TLS certificate ({@link extractDocumentFromCertificate});
 * - the TLS handshake itself proves possession of the key; the certificate's own CA path is the
 *   TLS stack's business and is not checked here.
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { AttestationError, failure, failureCode, normHex, toHex, type Policy, type VerificationResult } from '../common/result.ts';
import { certificateSpki } from '../common/x509-chain.ts';
import { MAX_DOCUMENT_BYTES } from './document.ts';
import { verifyNitro } from './verify.ts';

export type BindingMode = 'sha256-spki' | 'raw-spki';

export interface BindingCheck {
  ok: boolean;
  /** "ok" or `binding: …` / `policy-nonce: …`. */
  reason: string;
}

/** The user_data value that binds a TLS key's DER SPKI under `mode`. */
export function spkiBindingValue(spkiDer: Uint8Array, mode: BindingMode = 'sha256-spki'): Uint8Array {
  return mode === 'raw-spki' ? spkiDer : new Uint8Array(createHash('sha256').update(spkiDer).digest());
}

const sameHex = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));

/** Checks that a *valid* Nitro result's user_data binds `tlsSpkiDer` and, if given, its nonce equals `nonce`. */
export function checkBinding(
  result: VerificationResult,
  tlsSpkiDer: Uint8Array,
  opts: { nonce?: Uint8Array | string; mode?: BindingMode } = {},
): BindingCheck {
  if (!result.valid) return { ok: false, reason: `binding: the evidence itself is not valid (${result.reason})` };
  const want = toHex(spkiBindingValue(tlsSpkiDer, opts.mode));
  if (result.reportData === '') return { ok: false, reason: 'binding: the document has no user_data' };
  if (!sameHex(result.reportData, want)) {
    return { ok: false, reason: `binding: user_data does not match the ${opts.mode ?? 'sha256-spki'} binding of this TLS key` };
  }
  if (opts.nonce !== undefined) {
    const n = typeof opts.nonce === 'string' ? normHex(opts.nonce, 'nonce') : toHex(opts.nonce);
    const got = result.details?.nonce;
    if (typeof got !== 'string') return { ok: false, reason: 'policy-nonce: the document carries no nonce' };
    if (!sameHex(got, n)) return { ok: false, reason: 'policy-nonce: the document nonce differs from this session nonce' };
  }
  return { ok: true, reason: 'ok' };
}

/** Boolean form of {@link checkBinding}. */
export function bindingOk(result: VerificationResult, tlsSpkiDer: Uint8Array, nonce?: Uint8Array | string, mode?: BindingMode): boolean {
  return checkBinding(result, tlsSpkiDer, { nonce, mode }).ok;
}

/** DER of the first certificate of a DER or PEM input. Throws code `parse`. */
export function firstCertificateDer(cert: Uint8Array | string): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert)).raw);
  } catch (err) {
    throw new AttestationError('parse', `not a certificate (${err instanceof Error ? err.message : String(err)})`, 'certificate');
  }
}

/** Evervault beta style: the document is the hex-encoded longest label of a DNS subjectAltName. Throws code `parse`. */
export function extractDocumentFromCertificate(cert: Uint8Array | string): Uint8Array {
  const x = new X509Certificate(Buffer.from(firstCertificateDer(cert)));
  const labels = (x.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .flatMap((s) => s.slice(4).split('.'));
  const longest = labels.reduce((a, b) => (b.length > a.length ? b : a), '');
  if (longest.length === 0 || longest.length > 2 * MAX_DOCUMENT_BYTES || !/^(?:[0-9a-fA-F]{2})+$/.test(longest)) {
    throw new AttestationError('parse', 'no hex-encoded attestation document found in the certificate subjectAltName', 'certificate');
  }
  return new Uint8Array(Buffer.from(longest, 'hex'));
}

export interface BoundTlsOptions {
  /** The peer's TLS certificate (DER or PEM; the first certificate is used). */
  certificate: Uint8Array | string;
  /** The attestation document; default: extracted from the certificate's subjectAltName. */
  document?: Uint8Array;
  now: Date;
  roots?: Iterable<string>;
  policy?: Policy;
  /** This session's nonce (must equal the document's nonce). */
  nonce?: Uint8Array | string;
  mode?: BindingMode;
}

/** Verifies the document and its binding to the certificate's key. Never throws for bad input. */
export function verifyBoundTls(opts: BoundTlsOptions): VerificationResult {
  let result: VerificationResult | undefined;
  try {
    const doc = opts.document ?? extractDocumentFromCertificate(opts.certificate);
    result = verifyNitro(doc, { now: opts.now, roots: opts.roots, policy: opts.policy });
    if (!result.valid) return result;
    const spki = certificateSpki(firstCertificateDer(opts.certificate));
    const b = checkBinding(result, spki, { nonce: opts.nonce, mode: opts.mode });
    if (b.ok) return { ...result, details: { ...result.details, binding: opts.mode ?? 'sha256-spki' } };
    const code = b.reason.startsWith('policy-nonce') ? 'policy-nonce' : 'binding';
    throw new AttestationError(code, b.reason.slice(b.reason.indexOf(': ') + 2));
  } catch (err) {
    return failure(err, result);
  }
}

/**
 * A `checkServerIdentity` for `tls.connect` that rejects the connection unless the peer certificate
 * carries (or `document` supplies) a valid document bound to that certificate's key. Call the
 * default `tls.checkServerIdentity` too if the hostname matters.
 */
export function attestedServerIdentity(
  opts: Omit<BoundTlsOptions, 'certificate' | 'now'> & { now: () => Date },
): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const r = verifyBoundTls({ ...opts, certificate: new Uint8Array(cert.raw), now: opts.now() });
    return r.valid ? undefined : new AttestationError(failureCode(r) ?? 'binding', `attested TLS rejected: ${r.reason}`);
  };
}
