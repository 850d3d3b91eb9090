/**
 * Shared result, error and policy types for every attestation verifier (Nitro, SEV-SNP, TDX).
 *
 * Checklist (shared/notes/attestation-verification.md §2, general rules):
 * - fail closed with a typed, stable error code ({@link AttestationError});
 * - keep evidence verification, policy appraisal ({@link Policy}) and binding separate;
 * - `now` is always injected by the caller (never read from the clock inside a verifier).
 */
import { ValidationError } from '../../base/errors.ts';

/** Outcome of verifying one piece of evidence. Verifiers return it; they never throw for bad input. */
export interface VerificationResult {
  valid: boolean;
  /** "ok" (possibly with a note) when valid; otherwise `<code>: <what failed and why>`. */
  reason: string;
  /** Measurements in lower-case hex, keyed the verifier's way (Nitro `PCR0`…, SNP `MEASUREMENT`, TDX `MRTD`…). */
  measurements: Record<string, string>;
  /** The evidence's user data / report data in lower-case hex ("" when absent). */
  reportData: string;
  /** Format-specific parse results; `details.code` holds the {@link AttestationErrorCode} on failure. */
  details?: Record<string, unknown>;
}

/** Stable failure codes; tests and callers match on these, not on message text. */
export type AttestationErrorCode =
  | 'parse' // malformed input (CBOR/ASN.1/structure/field rules)
  | 'size' // input larger than the format allows
  | 'algorithm' // unsupported signature algorithm or key type
  | 'signature' // evidence signature does not verify
  | 'chain' // certificate path broken: issuer/subject, certificate signature, CA flags, key usage
  | 'root-not-pinned' // the chain's root is not one of the pinned fingerprints
  | 'expired' // a certificate (or collateral) is past notAfter at `now`
  | 'not-yet-valid' // a certificate (or collateral) is before notBefore at `now`
  | 'stale' // evidence timestamp is in the future beyond the allowed skew
  | 'policy-debug' // debug-mode TEE under a policy that does not allow it
  | 'policy-measurement' // a measurement differs from the expected value
  | 'policy-nonce' // nonce absent or different from the expected one
  | 'policy-age' // evidence older than the policy's maximum age
  | 'binding' // evidence is not bound to this TLS key / session
  | 'revoked' // a certificate is listed in a (signature-checked) CRL
  | 'tcb' // platform TCB not acceptable: below the minimum, no matching TCB level, or a status the policy rejects
  | 'policy'; // another policy rule: SEV-SNP VMPL / guest policy bits / product / signing key, TDX attributes

/** A verification failure with a stable {@link code}. A {@link ValidationError}: the input was bad. */
export class AttestationError extends ValidationError {
  override readonly name: string = 'AttestationError';
  readonly code: AttestationErrorCode;
  constructor(code: AttestationErrorCode, message: string, field?: string) {
    super(message, field);
    this.code = code;
  }
}

/**
 * Appraisal policy. All fields are optional; an empty policy still rejects debug-mode evidence
 * (fail closed). Measurement keys and hex values use the verifier's own naming (see
 * {@link VerificationResult.measurements}); hex comparison is case-insensitive.
 */
export interface Policy {
  /** Measurements that must be present and equal, e.g. `{ PCR0: '8bb1…' }`. */
  expectedMeasurements?: Record<string, string>;
  /** Accept debug-mode evidence (default false). */
  allowDebug?: boolean;
  /** Reject evidence whose timestamp is more than this many ms before `now`. */
  maxAgeMs?: number;
  /** Expected nonce (hex); the evidence must carry exactly this value. */
  nonce?: string;
}

/** The failure result for an error; unknown (non-Attestation) errors become code `parse`. */
export function failure(err: unknown, partial?: Partial<VerificationResult>): VerificationResult {
  const e =
    err instanceof AttestationError
      ? err
      : new AttestationError('parse', `unexpected error: ${err instanceof Error ? err.message : String(err)}`);
  return {
    valid: false,
    reason: `${e.code}: ${e.message}`,
    measurements: partial?.measurements ?? {},
    reportData: partial?.reportData ?? '',
    details: { ...partial?.details, code: e.code },
  };
}

/** The failure code of a result (undefined when valid). */
export function failureCode(result: VerificationResult): AttestationErrorCode | undefined {
  return result.valid ? undefined : (result.details?.code as AttestationErrorCode | undefined);
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Normalises a hex string (lower case, no `0x`); throws code `parse` if it is not hex. */
export function normHex(hex: string, field: string): string {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(h)) throw new AttestationError('parse', 'expected an even-length hex string', field);
  return h.toLowerCase();
}

/**
 * Generic policy appraisal over already-verified evidence (checklist Nitro §2.1 6–7, SNP §2.2 8/10/11,
 * TDX §2.3 10/11): debug, expected measurements, nonce, maximum age. Throws {@link AttestationError}.
 */
export function appraise(
  policy: Policy,
  evidence: { debug: boolean; measurements: Record<string, string>; nonce?: string; timestampMs?: number; now: Date },
): void {
  if (evidence.debug && policy.allowDebug !== true) {
    throw new AttestationError('policy-debug', 'debug-mode evidence is rejected by this policy (allowDebug is not set)');
  }
  for (const [key, want] of Object.entries(policy.expectedMeasurements ?? {})) {
    const got = evidence.measurements[key];
    if (got === undefined) throw new AttestationError('policy-measurement', `expected measurement ${key} is absent from the evidence`);
    if (got !== normHex(want, `policy.expectedMeasurements.${key}`)) {
      throw new AttestationError('policy-measurement', `${key} is ${got}, expected ${want.toLowerCase()}`);
    }
  }
  if (policy.nonce !== undefined) {
    const want = normHex(policy.nonce, 'policy.nonce');
    if (evidence.nonce === undefined) throw new AttestationError('policy-nonce', 'the evidence carries no nonce, expected one');
    if (evidence.nonce !== want) throw new AttestationError('policy-nonce', 'the evidence nonce differs from the expected nonce');
  }
  if (policy.maxAgeMs !== undefined) {
    if (evidence.timestampMs === undefined)
      throw new AttestationError('policy-age', 'the evidence has no timestamp, but a maximum age is set');
    const age = evidence.now.getTime() - evidence.timestampMs;
    if (age > policy.maxAgeMs) {
      throw new AttestationError('policy-age', `evidence is ${age} ms old, more than the allowed ${policy.maxAgeMs} ms`);
    }
  }
}
