/**
 * Verification of Intel TDX DCAP quotes (v4, v5): `verifyTdx(quote, { now, collateral, roots, policy })`.
 * Never throws for bad input: every failure is a `valid: false` result whose reason starts with a
 * stable {@link AttestationErrorCode}; `details.tcbStatus` is the converged TCB status, or
 * "NotEvaluated" when no collateral was supplied.
 *
 * Checklist (shared/notes/attestation-verification.md §2.3), in this order:
 * 1–3. structure → quote.ts;
 * 4. PCK chain (from certification data type 5) → Intel SGX Root CA pinned by SHA-256; ECDSA
 *    signatures, names, CA/pathLen/keyUsage, validity at `now` (common/x509-chain.ts);
 * 5. QE report signature (ECDSA P-256/SHA-256, raw r‖s) by the PCK leaf key;
 * 6. QE report_data == SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes;
 * 7. quote signature by the attestation key over header ‖ body;
 * with collateral (collateral.ts): PCK CRL (issued by the PCK's CA) and Root CA CRL signatures and
 * revocation of the PCK leaf / intermediate / TCB signing certificate (code `revoked`); TCB signing
 * chain to the pinned root; TCB info and QE identity signatures; 8–9. evaluation → tcb.ts; then the
 * freshness of everything (CRL thisUpdate..nextUpdate, collateral issueDate..nextUpdate, signing
 * certificate validity) — checked after evaluation so `details` still shows the status of stale
 * collateral; 10–11. policy → policy.ts.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { commonName, decodeCertificates, nodeCertificate, orderChain } from '../common/certs.ts';
import { checkCrlFreshness, checkCrlIssuer, checkNotRevoked } from '../common/crl.ts';
import { AttestationError, failure, toHex, type VerificationResult } from '../common/result.ts';
import { checkValidity, verifyChain } from '../common/x509-chain.ts';
import type { SignedJson, TdxCollateral } from './collateral.ts';
import { parsePckExtensions } from './pck.ts';
import { appraiseTdx, checkTdxPolicyShape, type TdxPolicy } from './policy.ts';
import { isDebugTd, parseTdxQuote, type TdxQuote } from './quote.ts';
import { quoteSummary, tdxMeasurements } from './summary.ts';
import { evaluateQeIdentity, evaluateTcb, type TcbEvaluation } from './tcb.ts';

/** SHA-256 of the DER of the Intel SGX Root CA (P-256, 2018-05-21 → 2049-12-31). */
export const INTEL_SGX_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

export interface TdxVerifyOptions {
  /** The verification time (injected; never read from the clock here). */
  now: Date;
  /** Collateral for revocation and TCB evaluation (collateral.ts `loadTdxCollateral`). */
  collateral?: TdxCollateral;
  /** Pinned root fingerprints (SHA-256 of DER, hex). Default: Intel SGX Root CA. */
  roots?: Iterable<string>;
  /** Appraisal policy. Default `{}`: debug TDs are rejected; collateral, when given, must say UpToDate. */
  policy?: TdxPolicy;
}

/** ECDSA P-256/SHA-256 over `data` with a raw r‖s signature; throws `signature` with `what`. */
function checkP256(data: Uint8Array, sig: Uint8Array, key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new AttestationError('algorithm', `${what}: key is not ECDSA P-256`);
  let ok = false;
  try {
    ok = cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    ok = false;
  }
  if (!ok) throw new AttestationError('signature', `${what} does not verify`);
}

/** The attestation key (raw x‖y) as a P-256 public key; throws `parse` if not on the curve. */
function attestationKey(raw: Uint8Array): KeyObject {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(raw.subarray(0, 32)), y: b64(raw.subarray(32, 64)) }, format: 'jwk' });
  } catch {
    throw new AttestationError('parse', 'attestation key is not a valid P-256 point', 'attestation_key');
  }
}

/** Runs `f`; collects `expired` / `not-yet-valid` failures into `late` instead of throwing. */
function deferTime(late: AttestationError[], f: () => void): void {
  try {
    f();
  } catch (err) {
    if (err instanceof AttestationError && (err.code === 'expired' || err.code === 'not-yet-valid')) late.push(err);
    else throw err;
  }
}

/** Collateral: revocation, signatures, TCB evaluation; time failures go to `late`. */
function checkCollateral(
  q: TdxQuote,
  pckPath: Uint8Array[],
  c: TdxCollateral,
  roots: string[],
  now: Date,
  late: AttestationError[],
): TcbEvaluation {
  const [root, intermediate, leaf] = pckPath;
  const signingPool = c.tcbSigningChain ?? [];
  const signingLeaf = signingPool.find(
    (d) => commonName(nodeCertificate(d, 'collateral.tcbSigningChain').subject) === 'Intel SGX TCB Signing',
  );
  if (!c.pckCrl || !c.rootCrl || !signingLeaf || !c.qeIdentity) {
    throw new AttestationError(
      'tcb',
      'collateral must contain a PCK CRL, the Root CA CRL, the TCB signing chain, a QE identity and TCB info',
    );
  }
  checkCrlIssuer(c.pckCrl, intermediate, nodeCertificate(intermediate, 'pck').publicKey, 'PCK CRL');
  checkCrlIssuer(c.rootCrl, root, nodeCertificate(root, 'root').publicKey, 'Root CA CRL');
  checkNotRevoked(c.pckCrl, leaf, 'PCK certificate');
  checkNotRevoked(c.rootCrl, intermediate, 'PCK CA certificate');
  checkNotRevoked(c.rootCrl, signingLeaf, 'TCB signing certificate');
  deferTime(late, () => verifyChain(orderChain(signingLeaf, signingPool, 'collateral.tcbSigningChain'), { now, pinnedRoots: roots }));
  const signingKey = nodeCertificate(signingLeaf, 'tcbSigning').publicKey;
  const authentic = <T>(doc: SignedJson<T>, what: string) => {
    checkP256(doc.signedBytes, doc.signature, signingKey, `${what} signature`);
    const v = doc.value as Record<string, unknown>;
    const [issued, next] = [Date.parse(String(v.issueDate)), Date.parse(String(v.nextUpdate))];
    if (Number.isNaN(issued) || Number.isNaN(next)) throw new AttestationError('parse', `${what} lacks issueDate/nextUpdate`, 'collateral');
    deferTime(late, () => checkValidity(what, new Date(issued), new Date(next), now));
  };
  const pck = parsePckExtensions(leaf);
  const info = c.tcbInfos.find((t) => String(t.value.fmspc).toLowerCase() === pck.fmspc);
  if (info === undefined) throw new AttestationError('tcb', `no TCB info for FMSPC ${pck.fmspc} in the collateral`);
  authentic(info, 'TCB info');
  authentic(c.qeIdentity, 'QE identity');
  deferTime(late, () => checkCrlFreshness(c.pckCrl!, now, 'PCK CRL'));
  deferTime(late, () => checkCrlFreshness(c.rootCrl!, now, 'Root CA CRL'));
  const qeStatus = evaluateQeIdentity(c.qeIdentity.value, q.qeReport);
  return evaluateTcb(info.value, pck, q.body, q.header.version, qeStatus);
}

/** Verifies a TDX quote. Never throws for bad input. */
export function verifyTdx(quote: Uint8Array, opts: TdxVerifyOptions): VerificationResult {
  let partial: Partial<VerificationResult> | undefined;
  try {
    if (!(opts?.now instanceof Date) || Number.isNaN(opts.now.getTime()))
      throw new AttestationError('parse', 'a valid `now` Date is required', 'now');
    const policy = checkTdxPolicyShape(opts.policy ?? {});
    const q = parseTdxQuote(quote);
    const measurements = tdxMeasurements(q.body);
    const details: Record<string, unknown> = { format: 'tdx', debug: isDebugTd(q.body), tcbStatus: 'NotEvaluated', ...quoteSummary(q) };
    partial = { measurements, reportData: toHex(q.body.reportData), details };

    const roots = [...(opts.roots ?? [INTEL_SGX_ROOT_CA_SHA256])];
    const pool = decodeCertificates([q.pckChainPem], 'pck_chain');
    const leafDer = pool.find((d) => commonName(nodeCertificate(d, 'pck_chain').subject) === 'Intel SGX PCK Certificate');
    if (leafDer === undefined) throw new AttestationError('chain', 'no "Intel SGX PCK Certificate" in the quote');
    const pckPath = orderChain(leafDer, pool, 'pck_chain');
    const chain = verifyChain(pckPath, { now: opts.now, pinnedRoots: roots });
    if (chain.length !== 3) throw new AttestationError('chain', `expected root → PCK CA → PCK, got ${chain.length} certificates`);
    details.pck = parsePckExtensions(leafDer);
    details.pckChain = chain.map((c) => ({
      subject: c.subject,
      sha256: c.sha256,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
    }));

    checkP256(q.qeReport.bytes, q.qeReportSignature, nodeCertificate(leafDer, 'pck').publicKey, 'QE report signature by the PCK key');
    const binding = createHash('sha256').update(q.attestationKey).update(q.qeAuthData).digest();
    const rd = q.qeReport.reportData;
    if (!binding.equals(rd.subarray(0, 32)) || rd.subarray(32).some((b) => b !== 0)) {
      throw new AttestationError('signature', 'QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ zeros');
    }
    checkP256(q.signedRegion, q.signature, attestationKey(q.attestationKey), 'quote signature by the attestation key');

    let tcb: TcbEvaluation | undefined;
    if (opts.collateral !== undefined) {
      const late: AttestationError[] = [];
      tcb = checkCollateral(q, pckPath, opts.collateral, roots, opts.now, late);
      Object.assign(details, { tcbStatus: tcb.status, tcb });
      if (late.length > 0) throw late[0];
    }
    appraiseTdx(policy, q.body, measurements, tcb, opts.now);
    return { valid: true, reason: 'ok', measurements, reportData: toHex(q.body.reportData), details };
  } catch (err) {
    return failure(err, partial);
  }
}
