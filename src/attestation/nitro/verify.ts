/**
 * Verification of AWS Nitro Enclaves attestation documents: `verifyNitro(bytes, { now, roots, policy })`.
 * Never throws for bad input: every failure is a `valid: false` result whose reason starts with a
 * stable {@link AttestationErrorCode}.
 *
 * Checklist (shared/notes/attestation-verification.md §2.1):
 * 1–3. structure and payload rules → document.ts;
 * 4. chain `[cabundle[0] … cabundle[n-1], certificate]`, cabundle[0] pinned by SHA-256 (default:
 *    AWS Nitro Enclaves Root-G1), signatures, issuer chaining, CA/pathLen/keyUsage, validity of every
 *    certificate at `now` → common/x509-chain.ts;
 * 5. leaf key P-384; ECDSA-SHA-384 over `Sig_structure = ["Signature1", protected, h'', payload]`,
 *    raw r‖s (`dsaEncoding: 'ieee-p1363'`);
 * 6. freshness: timestamp not after `now + maxFutureSkewMs`; maximum age and nonce via the policy;
 * 7. policy: expected PCRs; debug (PCR0, PCR1, PCR2 all zero) rejected unless `allowDebug`.
 * Documents whose root is not the AWS root, or whose module_id starts with "INSECURE-DEV-", are
 * flagged `details.insecureDev` (dev provider, see dev-provider.ts).
 */
import { verify as cryptoVerify } from 'node:crypto';
import { AttestationError, appraise, failure, toHex, type Policy, type VerificationResult } from '../common/result.ts';
import { verifyChain } from '../common/x509-chain.ts';
import { encodeCbor } from './cbor.ts';
import { MAX_DOCUMENT_BYTES, parseCoseSign1, parseNitroPayload, type NitroDocument } from './document.ts';

/** SHA-256 of the DER of AWS Nitro Enclaves Root-G1 (CN=aws.nitro-enclaves, valid 2019-10-28 → 2049-10-28). */
export const AWS_NITRO_ROOT_G1_SHA256 = '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b';
/** module_id prefix of documents made by the insecure dev provider. */
export const INSECURE_DEV_PREFIX = 'INSECURE-DEV-';

export interface NitroVerifyOptions {
  /** The verification time (injected; never read from the clock here). */
  now: Date;
  /** Pinned root fingerprints (SHA-256 of DER, hex). Default: AWS Nitro Enclaves Root-G1 only. */
  roots?: Iterable<string>;
  /** Appraisal policy. Default `{}`: debug-mode documents are rejected. */
  policy?: Policy;
  /** Allowed clock skew for a document timestamp after `now` (default 60 s). */
  maxFutureSkewMs?: number;
}

/** The bytes signed by a COSE_Sign1 (RFC 9052 §4.4), with empty external_aad. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, new Uint8Array(0), payload]);
}

/** PCR0..2 all zero: the enclave was started with `--debug-mode`. */
export function isDebugDocument(doc: NitroDocument): boolean {
  return [0, 1, 2].every((i) => {
    const v = doc.pcrs.get(i);
    return v !== undefined && v.every((b) => b === 0);
  });
}

/** Verifies a Nitro attestation document. Never throws for bad input. */
export function verifyNitro(bytes: Uint8Array, opts: NitroVerifyOptions): VerificationResult {
  let partial: Partial<VerificationResult> | undefined;
  try {
    if (!(opts?.now instanceof Date) || Number.isNaN(opts.now.getTime()))
      throw new AttestationError('parse', 'a valid `now` Date is required', 'now');
    if (!(bytes instanceof Uint8Array)) throw new AttestationError('parse', 'document must be bytes');
    const cose = parseCoseSign1(bytes);
    const doc = parseNitroPayload(cose.payload);
    const measurements = Object.fromEntries([...doc.pcrs].sort((a, b) => a[0] - b[0]).map(([i, v]) => [`PCR${i}`, toHex(v)]));
    const debug = isDebugDocument(doc);
    const details: Record<string, unknown> = {
      format: 'nitro',
      moduleId: doc.moduleId,
      digest: doc.digest,
      timestamp: doc.timestamp,
      timestampIso: new Date(doc.timestamp).toISOString(),
      debug,
      userData: doc.userData && toHex(doc.userData),
      nonce: doc.nonce && toHex(doc.nonce),
      publicKey: doc.publicKey && toHex(doc.publicKey),
    };
    partial = { measurements, reportData: doc.userData ? toHex(doc.userData) : '', details };

    const chain = verifyChain([...doc.cabundle, doc.certificate], { now: opts.now, pinnedRoots: opts.roots ?? [AWS_NITRO_ROOT_G1_SHA256] });
    details.chain = chain.map((c) => ({
      subject: c.subject,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      sha256: c.sha256,
    }));
    details.rootSha256 = chain[0].sha256;
    const insecureDev = chain[0].sha256 !== AWS_NITRO_ROOT_G1_SHA256 || doc.moduleId.startsWith(INSECURE_DEV_PREFIX);
    details.insecureDev = insecureDev;

    const leafKey = chain[chain.length - 1].publicKey;
    if (leafKey.asymmetricKeyType !== 'ec' || leafKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
      throw new AttestationError(
        'algorithm',
        `leaf key must be ECDSA P-384, got ${leafKey.asymmetricKeyType} ${leafKey.asymmetricKeyDetails?.namedCurve ?? ''}`,
      );
    }
    let ok = false;
    try {
      ok = cryptoVerify(
        'sha384',
        sigStructure(cose.protectedBytes, cose.payload),
        { key: leafKey, dsaEncoding: 'ieee-p1363' },
        cose.signature,
      );
    } catch {
      ok = false;
    }
    if (!ok) throw new AttestationError('signature', 'COSE_Sign1 ES384 signature does not verify under the leaf certificate key');

    const skew = opts.maxFutureSkewMs ?? 60_000;
    if (doc.timestamp > opts.now.getTime() + skew) {
      throw new AttestationError(
        'stale',
        `document timestamp ${details.timestampIso} is ${doc.timestamp - opts.now.getTime()} ms after now (allowed skew ${skew} ms)`,
      );
    }
    appraise(opts.policy ?? {}, {
      debug,
      measurements,
      nonce: details.nonce as string | undefined,
      timestampMs: doc.timestamp,
      now: opts.now,
    });
    const notes = [
      debug ? 'debug-mode enclave allowed by policy' : '',
      insecureDev ? 'INSECURE DEV attestation: not rooted in AWS hardware' : '',
    ];
    const note = notes.filter(Boolean).join('; ');
    return { valid: true, reason: note ? `ok (${note})` : 'ok', measurements, reportData: partial.reportData ?? '', details };
  } catch (err) {
    return failure(err, partial);
  }
}

/**
 * Accepts a document as raw CBOR bytes, or as base64 / hex text (as some tools store it), and
 * returns the raw bytes. Text that is neither is returned unchanged (verification then fails with `parse`).
 */
export function decodeNitroInput(input: Uint8Array): Uint8Array {
  if (input.length === 0 || input[0] === 0x84 || input[0] === 0xd2) return input;
  if (input.length > 4 * MAX_DOCUMENT_BYTES) return input;
  const text = Buffer.from(input).toString('latin1').replace(/\s+/g, '');
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return new Uint8Array(Buffer.from(text, 'base64'));
  return input;
}
