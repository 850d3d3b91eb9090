/**
 * SEV-SNP verifier against the real vectors in shared/testdata/attestation/sev-snp (README +
 * expected.json): every valid report verifies at its documented time with the expected fields; the
 * derived negatives fail with a specific code (checklist §2.2 steps 1, 4–6, 8). Policy: sev-snp-policy.test.ts.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { requireTestdata } from '../../../test/helpers/testdata.ts';
import { decodeCertificates } from '../common/certs.ts';
import { failureCode, type VerificationResult } from '../common/result.ts';
import type { SevSnpPolicy } from './policy.ts';
import { parseSnpReport } from './report.ts';
import { checkVekMatchesReport, parseVekExtensions } from './vek.ts';
import { AMD_ARK_SHA256, checkReportSignature, verifySevSnp } from './verify.ts';

const DIR = 'attestation/sev-snp';
// expected.json is free-form JSON; field access is checked by the assertions themselves.
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Expected {
  report: string;
  vcek_or_vlek: string;
  ask_ark_chain: string;
  fixed_now_utc: string;
  parsed: Json;
  vek_extensions: Record<string, string | number>;
  vek_validity: [string, string];
  ark_sha256: string;
  ask_sha256: string;
  checks: Record<string, boolean | string>;
}
interface Vector {
  e: Expected;
  report: Uint8Array;
  chain: (string | Uint8Array)[];
  now: Date;
}

function vectors(t: TestContext): Vector[] | undefined {
  const p = requireTestdata(t, `${DIR}/expected.json`);
  if (!p) return undefined;
  const all = JSON.parse(readFileSync(p[0], 'utf8')) as Expected[];
  if (!requireTestdata(t, ...all.flatMap((e) => [e.report, e.vcek_or_vlek, e.ask_ark_chain].map((f) => `${DIR}/${f}`)))) return undefined;
  const path = (f: string) => join(dirname(p[0]), f);
  return all.map((e) => ({
    e,
    report: new Uint8Array(readFileSync(path(e.report))),
    chain: [new Uint8Array(readFileSync(path(e.vcek_or_vlek))), readFileSync(path(e.ask_ark_chain), 'utf8')],
    now: new Date(`${e.fixed_now_utc}Z`),
  }));
}
const isValidVector = (v: Vector) => v.e.checks.vcek_signed_by_ask === true;
const verify = (v: Vector, over: { report?: Uint8Array; now?: Date; roots?: string[]; policy?: SevSnpPolicy } = {}): VerificationResult =>
  verifySevSnp(over.report ?? v.report, {
    now: over.now ?? v.now,
    chain: v.chain,
    roots: over.roots,
    policy: over.policy ?? { allowDebug: true },
  });
const expectCode = (r: VerificationResult, code: string) => assert.equal(failureCode(r), code, r.reason);
const leHex = (hexBe: string) => Buffer.from(hexBe, 'hex').reverse().toString('hex').padEnd(144, '0');
const tcb = (x: { bootloader: number; tee: number; snp: number; microcode: number; raw: string }) => ({
  ...x,
  raw: `0x${x.raw.slice(2).replace(/^0+/, '')}`,
});

test('every valid vector verifies at its fixed time and yields the fields of expected.json', (t) => {
  const vs = vectors(t)?.filter(isValidVector);
  if (!vs) return;
  assert.equal(vs.length, 4);
  for (const v of vs) {
    const r = verify(v);
    assert.equal(r.valid, true, `${v.e.report}: ${r.reason}`);
    const p = v.e.parsed;
    const d = r.details as Json;
    const rep = d.report;
    assert.equal(r.measurements.MEASUREMENT, p.measurement);
    assert.equal(r.measurements.HOST_DATA, p.host_data);
    assert.equal(r.measurements.ID_KEY_DIGEST, p.id_key_digest);
    assert.equal(r.measurements.AUTHOR_KEY_DIGEST, p.author_key_digest);
    assert.equal(r.reportData, p.report_data);
    assert.deepEqual([rep.version, rep.guestSvn, rep.vmpl, rep.signatureAlgo], [p.version, p.guest_svn, p.vmpl, p.signature_algo]);
    const pol = p.policy;
    assert.deepEqual(
      [
        rep.policy.raw,
        rep.policy.abiMinor,
        rep.policy.abiMajor,
        rep.policy.smtAllowed,
        rep.policy.reservedMustBeOne,
        rep.policy.migrateMa,
        rep.policy.debugAllowed,
        rep.policy.singleSocket,
      ],
      [
        pol.raw,
        pol.abi_minor,
        pol.abi_major,
        pol.smt_allowed,
        pol['reserved_must_be_one(bit17)'],
        pol.migrate_ma,
        pol.debug_allowed,
        pol.single_socket,
      ],
    );
    assert.deepEqual(
      [rep.familyId, rep.imageId, rep.platformInfo, rep.reportId, rep.reportIdMa, rep.chipId],
      [p.family_id, p.image_id, p.platform_info, p.report_id, p.report_id_ma, p.chip_id],
    );
    const f = p.flags;
    assert.deepEqual(rep.flags, {
      authorKeyEn: f.author_key_en === 1,
      maskChipKey: f.mask_chip_key === 1,
      signingKey: f['signing_key(0=VCEK,1=VLEK,7=none)'],
    });
    for (const k of ['current_tcb', 'reported_tcb', 'committed_tcb', 'launch_tcb']) {
      const mine = rep[k.replace(/_(\w)/g, (_: string, c: string) => c.toUpperCase())];
      assert.deepEqual(mine, tcb(p[k]), k);
    }
    const cpuid = p['cpuid_fam_mod_step(v3+)'];
    assert.deepEqual(rep.cpuid ? [rep.cpuid.family, rep.cpuid.model, rep.cpuid.stepping] : [0, 0, 0], cpuid);
    const fw = (x: { build: number; minor: number; major: number }) => [x.build, x.minor, x.major];
    assert.deepEqual(fw(rep.currentVersion), p['current_build.minor.major']);
    assert.deepEqual(fw(rep.committedVersion), p['committed_build.minor.major']);
    assert.deepEqual([leHex(rep.signatureR), leHex(rep.signatureS)], [p.signature_r_le, p.signature_s_le]);
    const x = v.e.vek_extensions;
    assert.deepEqual(
      [d.vek.productName, d.vek.tcb.bootloader, d.vek.tcb.tee, d.vek.tcb.snp, d.vek.tcb.microcode],
      [x.productName, x.blSPL, x.teeSPL, x.snpSPL, x.ucodeSPL],
    );
    assert.equal(d.vek.hwId, x.hwID);
    assert.equal(d.vek.cspId, x.csp_id);
    assert.deepEqual([d.chain[0].sha256, d.chain[1].sha256], [v.e.ark_sha256, v.e.ask_sha256]);
    assert.deepEqual(
      [d.chain[2].notBefore, d.chain[2].notAfter],
      v.e.vek_validity.map((s) => new Date(s).toISOString()),
    );
    assert.equal(d.product, 'Milan');
    assert.equal(d.signer, x.csp_id ? 'VLEK' : 'VCEK');
  }
});

test('production policy: non-debug vectors pass, the debug guest (go-sev-guest) is rejected', (t) => {
  const vs = vectors(t)?.filter(isValidVector);
  if (!vs) return;
  for (const v of vs) {
    const r = verify(v, { policy: {} });
    if (v.e.parsed.policy.debug_allowed) expectCode(r, 'policy-debug');
    else assert.equal(r.valid, true, r.reason);
    assert.equal(v.e.checks.policy_debug_disallowed, r.valid);
  }
});

test('derived negatives: flipped signature / body byte, changed algorithm, foreign root', (t) => {
  const v = vectors(t)?.find((x) => x.e.report === 'trustee_test-report.bin' && isValidVector(x));
  if (!v) return;
  const flip = (off: number) => {
    const b = v.report.slice();
    b[off] ^= 0x01;
    return b;
  };
  expectCode(verify(v, { report: flip(0x2a0) }), 'signature'); // r, lowest byte
  expectCode(verify(v, { report: flip(0x2e8 + 47) }), 'signature'); // s, highest used byte
  expectCode(verify(v, { report: flip(0x50) }), 'signature'); // report_data
  expectCode(verify(v, { report: flip(0x90) }), 'signature'); // measurement
  expectCode(verify(v, { report: flip(0x34) }), 'algorithm'); // signature_algo 1 → 0
  expectCode(verify(v, { report: flip(0x2a0 + 60) }), 'parse'); // upper (must-be-zero) part of r
  expectCode(verify(v, { roots: [Object.keys(AMD_ARK_SHA256)[1]] }), 'root-not-pinned'); // Genoa ARK pinned only
  expectCode(verify(v, { roots: ['00'.repeat(32)] }), 'root-not-pinned');
});

test('now one millisecond outside the tightest validity window fails; the bounds themselves pass', (t) => {
  const vs = vectors(t)?.filter(isValidVector);
  if (!vs) return;
  for (const v of vs) {
    const certs = decodeCertificates(v.chain).map((d) => new X509Certificate(d));
    const notBefore = Math.max(...certs.map((c) => Date.parse(c.validFrom)));
    const notAfter = Math.min(...certs.map((c) => Date.parse(c.validTo)));
    expectCode(verify(v, { now: new Date(notBefore - 1) }), 'not-yet-valid');
    expectCode(verify(v, { now: new Date(notAfter + 1) }), 'expired');
    assert.equal(verify(v, { now: new Date(notBefore) }).valid, true);
    assert.equal(verify(v, { now: new Date(notAfter) }).valid, true);
  }
});

test('the two invalid trustee VCEKs fail the chain, the report signature and the TCB/hwID match', (t) => {
  const vs = vectors(t)?.filter((v) => !isValidVector(v));
  if (!vs) return;
  assert.equal(vs.length, 2);
  for (const v of vs) {
    expectCode(verify(v, { policy: {} }), 'chain');
    const vek = decodeCertificates([v.chain[0]])[0];
    const report = parseSnpReport(v.report);
    assert.throws(() => checkReportSignature(report, new X509Certificate(vek)), { code: 'signature' });
    assert.throws(() => checkVekMatchesReport(parseVekExtensions(vek), report, 'Milan', 'VCEK'), { code: 'tcb' });
    assert.equal(v.e.checks.report_signature_ok, false);
  }
});

test('wrong or incomplete chains: VEK of another chip, missing ARK, VLEK report with the VCEK chain', (t) => {
  const vs = vectors(t)?.filter(isValidVector);
  if (!vs) return;
  const [sevGuest, trustee, vlek] = ['go-sev-guest_attestation.bin', 'trustee_test-report.bin', 'trustee_test-vlek-report.bin'].map((n) =>
    vs.find((v) => v.e.report === n)!,
  );
  expectCode(verifySevSnp(trustee.report, { now: trustee.now, chain: sevGuest.chain }), 'signature');
  const askOnly = decodeCertificates([trustee.chain[1]]).slice(0, 1);
  expectCode(verifySevSnp(trustee.report, { now: trustee.now, chain: [trustee.chain[0], ...askOnly] }), 'chain');
  expectCode(verifySevSnp(vlek.report, { now: vlek.now, chain: trustee.chain }), 'chain');
  expectCode(verifySevSnp(trustee.report, { now: trustee.now, chain: [] }), 'chain');
  expectCode(verifySevSnp(trustee.report, { now: new Date('x'), chain: trustee.chain }), 'parse');
});
