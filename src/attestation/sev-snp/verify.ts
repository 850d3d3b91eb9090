/**
 * Verification of AMD SEV-SNP attestation reports: `verifySevSnp(report, { now, chain, roots, policy })`.
 * Never throws for bad input: every failure is a `valid: false` result whose reason starts with a
 * stable {@link AttestationErrorCode}.
 *
 * Checklist (shared/notes/attestation-verification.md §2.2):
 * 1, 3, 12. structure, version, signing key → report.ts; `signature_algo` must be 1 (code `algorithm`);
 * 2. product: from the pinned ARK (Milan/Genoa/Turin table below), cross-checked against the VEK's
 *    productName and, for v3+ reports, CPUID family/model;
 * 4. chain ARK → ASK|ASVK → VCEK|VLEK from the supplied certificates (any order): ARK pinned by
 *    SHA-256 and self-signed, RSASSA-PSS signatures, issuer names, CA/pathLen/keyUsage, validity of
 *    every certificate at `now` (common/x509-chain.ts); the intermediate must be "SEV-<product>" for
 *    a VCEK and "SEV-VLEK-<product>" for a VLEK;
 * 5. ECDSA P-384/SHA-384 signature of bytes 0..0x29F with the VEK key (r, s little-endian → big-endian);
 * 6. VEK TCB extensions == reported_tcb, VCEK hwID == chip_id → vek.ts;
 * 7–11. policy → policy.ts. AMD's VCEK CRL is not consulted (no CRL vector; offline).
 */
import { verify as cryptoVerify, type X509Certificate } from 'node:crypto';
import { commonName, decodeCertificates, nodeCertificate, orderChain } from '../common/certs.ts';
import { AttestationError, failure, toHex, type VerificationResult } from '../common/result.ts';
import { verifyChain } from '../common/x509-chain.ts';
import { appraiseSnp, checkSnpPolicyShape, type SevSnpPolicy } from './policy.ts';
import {
  parseSnpReport,
  productFromCpuid,
  reportSummary,
  SNP_SIGNED_LENGTH,
  type SnpProduct,
  type SnpReport,
  type SnpSigner,
} from './report.ts';
import { checkVekMatchesReport, parseVekExtensions, productFromName } from './vek.ts';

/** SHA-256 of the DER of AMD's root keys (ARK), as served by KDS `/vcek/v1/<product>/cert_chain`. */
export const AMD_ARK_SHA256: Readonly<Record<string, SnpProduct>> = Object.freeze({
  '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd': 'Milan', // ARK-Milan 2020-10-22 → 2045-10-22
  '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1': 'Genoa', // ARK-Genoa 2022-01-26 → 2047-01-26
  '1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a': 'Turin', // ARK-Turin 2023-05-15 → 2048-05-15
});

export interface SevSnpVerifyOptions {
  /** The verification time (injected; never read from the clock here). */
  now: Date;
  /** VCEK/VLEK plus ASK/ASVK and ARK, each PEM text (one or more blocks) or DER, in any order. */
  chain: ReadonlyArray<string | Uint8Array>;
  /** Pinned ARK fingerprints (SHA-256 of DER, hex). Default: the AMD ARKs of {@link AMD_ARK_SHA256}. */
  roots?: Iterable<string>;
  /** Appraisal policy. Default `{}`: debug-allowed guests are rejected. */
  policy?: SevSnpPolicy;
}

/** Checks the report signature with the VEK public key (ECDSA P-384, SHA-384). Throws `algorithm` / `signature`. */
export function checkReportSignature(report: SnpReport, vek: X509Certificate): void {
  const key = vek.publicKey;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new AttestationError('algorithm', 'the VEK key is not ECDSA P-384');
  }
  const sig = Buffer.concat([report.signatureR, report.signatureS]);
  let ok = false;
  try {
    ok = cryptoVerify('sha384', report.bytes.subarray(0, SNP_SIGNED_LENGTH), { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    ok = false;
  }
  if (!ok) throw new AttestationError('signature', 'the report signature does not verify with the VEK key');
}

/** Picks the VEK (CN "SEV-VCEK" / "SEV-VLEK") matching the report's signing key. */
function pickVek(certs: Uint8Array[], signer: SnpSigner): { der: Uint8Array; cert: X509Certificate } {
  const want = signer === 'VCEK' ? 'SEV-VCEK' : 'SEV-VLEK';
  const found = certs
    .map((der, i) => ({ der, cert: nodeCertificate(der, `chain[${i}]`) }))
    .filter((c) => commonName(c.cert.subject) === want);
  if (found.length !== 1)
    throw new AttestationError('chain', `expected exactly one ${signer} certificate (CN=${want}) in the chain, found ${found.length}`);
  return found[0];
}

/** Verifies an SEV-SNP report. Never throws for bad input. */
export function verifySevSnp(report: Uint8Array, opts: SevSnpVerifyOptions): VerificationResult {
  let partial: Partial<VerificationResult> | undefined;
  try {
    if (!(opts?.now instanceof Date) || Number.isNaN(opts.now.getTime()))
      throw new AttestationError('parse', 'a valid `now` Date is required', 'now');
    const policy = checkSnpPolicyShape(opts.policy ?? {});
    const r = parseSnpReport(report);
    if (r.signatureAlgo !== 1)
      throw new AttestationError('algorithm', `signature_algo ${r.signatureAlgo} is not 1 (ECDSA P-384 with SHA-384)`, 'signature_algo');
    const signer: SnpSigner = r.flags.signingKey === 0 ? 'VCEK' : 'VLEK';
    const measurements = {
      MEASUREMENT: toHex(r.measurement),
      HOST_DATA: toHex(r.hostData),
      ID_KEY_DIGEST: toHex(r.idKeyDigest),
      AUTHOR_KEY_DIGEST: toHex(r.authorKeyDigest),
    };
    const cpuProduct = r.cpuid && productFromCpuid(r.cpuid.family, r.cpuid.model);
    // v2 reports (no CPUID) come from Milan/Genoa, which share the TCB layout; replaced below by the verified product.
    const details: Record<string, unknown> = {
      format: 'sev-snp',
      signer,
      debug: r.policy.debugAllowed,
      vmpl: r.vmpl,
      report: reportSummary(r, cpuProduct ?? 'Milan'),
    };
    partial = { measurements, reportData: toHex(r.reportData), details };

    const certs = decodeCertificates(opts.chain ?? []);
    const vek = pickVek(certs, signer);
    const path = orderChain(vek.der, certs);
    const chain = verifyChain(path, { now: opts.now, pinnedRoots: opts.roots ?? Object.keys(AMD_ARK_SHA256) });
    details.chain = chain.map((c) => ({
      subject: c.subject,
      sha256: c.sha256,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
    }));
    if (chain.length !== 3)
      throw new AttestationError(
        'chain',
        `expected ARK → ${signer === 'VCEK' ? 'ASK' : 'ASVK'} → ${signer}, got ${chain.length} certificates`,
      );
    const ark = nodeCertificate(path[0], 'ark');
    let selfSigned = false;
    try {
      selfSigned = ark.verify(ark.publicKey);
    } catch {
      selfSigned = false;
    }
    if (!selfSigned) throw new AttestationError('chain', 'the ARK is not self-signed');

    const ext = parseVekExtensions(vek.der);
    const product = AMD_ARK_SHA256[chain[0].sha256] ?? productFromName(ext.productName);
    if (product === undefined) throw new AttestationError('chain', `unknown product "${ext.productName}"`);
    details.product = product;
    details.vek = { productName: ext.productName, tcb: ext.tcb, hwId: ext.hwId && toHex(ext.hwId), cspId: ext.cspId };
    details.report = reportSummary(r, product);
    if (productFromName(ext.productName) !== product)
      throw new AttestationError('chain', `${signer} productName "${ext.productName}" does not match the ${product} ARK`);
    const intermediate = commonName(nodeCertificate(path[1], 'intermediate').subject);
    const wantIntermediate = signer === 'VCEK' ? `SEV-${product}` : `SEV-VLEK-${product}`;
    if (intermediate !== wantIntermediate)
      throw new AttestationError('chain', `${signer} is issued by "${intermediate}", expected "${wantIntermediate}"`);
    if (r.cpuid !== undefined && r.cpuid.family !== 0) {
      // v3+ firmware reports the CPUID family/model; zero means "not reported" (older firmware).
      if (cpuProduct !== product) {
        throw new AttestationError(
          'chain',
          `report CPUID family 0x${r.cpuid.family.toString(16)} model 0x${r.cpuid.model.toString(16)} is not a ${product} part`,
        );
      }
    }

    checkReportSignature(r, vek.cert);
    checkVekMatchesReport(ext, r, product, signer);
    appraiseSnp(policy, {
      report: r,
      product,
      signer,
      cspId: ext.cspId,
      measurements,
      reportDataHex: toHex(r.reportData),
      now: opts.now,
    });
    return { valid: true, reason: 'ok', measurements, reportData: toHex(r.reportData), details };
  } catch (err) {
    return failure(err, partial);
  }
}
