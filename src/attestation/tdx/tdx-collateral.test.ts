/**
 * TDX collateral: CRL revocation, TCB info / QE identity signatures and evaluation, freshness
 * (checklist §2.3 steps 4, 8, 9), against the go-tdx-guest collateral in shared/testdata/attestation/tdx.
 * Expected TCB outcomes (README / expected.json): SPR_E4 → no matching TCB level ("NotSupported",
 * rejected), QE UpToDate; v5 sample → UpToDate, but its 2026 collateral cannot be fully validated
 * (TCB signing certificate expired 2025-05-21, QE identity and CRLs from 2023) → `expired`.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { requireTestdata } from '../../../test/helpers/testdata.ts';
import { decodeCertificates } from '../common/certs.ts';
import { failureCode, type VerificationResult } from '../common/result.ts';
import { loadTdxCollateral, signedJsonMember, type TdxCollateral } from './collateral.ts';
import type { TdxPolicy } from './policy.ts';
import { parseTdxQuote } from './quote.ts';
import { verifyTdx } from './verify.ts';

const DIR = 'attestation/tdx';
const SPR = 'go-tdx-guest_tdx_prod_quote_SPR_E4.dat';
const V5 = 'go-tdx-guest_quote_v5_sample.dat';
const Q4 = 'trustee_tdx_quote_4.dat'; // same FMSPC (50806f000000) as SPR_E4, debug TD, higher SGX SVNs
/** go-tdx-guest's currentTime: inside every window of the 2023 collateral. */
const T2023 = new Date('2023-07-01T01:00:00Z');

interface Fixture {
  dir: string;
  col: TdxCollateral;
  quote: (name: string) => Uint8Array;
  expected: (name: string) => Record<string, unknown>;
}

function fixture(t: TestContext): Fixture | undefined {
  const p = requireTestdata(
    t,
    `${DIR}/expected.json`,
    ...[SPR, V5, Q4, 'go-tdx-guest_sample_tcbInfo_response', 'go-tdx-guest_pckcrl'].map((f) => `${DIR}/${f}`),
  );
  if (!p) return undefined;
  const dir = join(p[0], '..');
  const expected = JSON.parse(readFileSync(p[0], 'utf8')) as Record<string, unknown>[];
  return {
    dir,
    col: loadTdxCollateral(dir),
    quote: (name) => new Uint8Array(readFileSync(join(dir, name))),
    expected: (name) => expected.find((e) => e.quote === name)!,
  };
}
const expectCode = (r: VerificationResult, code: string) => assert.equal(failureCode(r), code, r.reason);
const tcbOf = (r: VerificationResult) => (r.details as { tcb: Record<string, unknown>; tcbStatus: string }).tcb;
const verifyAt = (f: Fixture, name: string, now: Date, col: TdxCollateral = f.col, policy: TdxPolicy = { allowDebug: true }) =>
  verifyTdx(f.quote(name), { now, collateral: col, policy });

test('the collateral directory loads: 2 TCB infos, QE identity, TCB signing chain, PCK CRL (44 serials), Root CA CRL', (t) => {
  const f = fixture(t);
  if (!f) return;
  assert.deepEqual(f.col.tcbInfos.map((i) => i.value.fmspc).sort(), ['50806f000000', '90c06f000000']);
  assert.equal(f.col.qeIdentity?.value.id, 'TD_QE');
  assert.equal(f.col.tcbSigningChain?.length, 2);
  assert.equal(f.col.pckCrl?.revoked.size, 44);
  assert.equal(f.col.rootCrl?.revoked.size, 0);
});

test('SPR_E4 with its collateral: no TCB level matches → rejected (tcb); QE identity UpToDate', (t) => {
  const f = fixture(t);
  if (!f) return;
  const r = verifyAt(f, SPR, new Date(`${String(f.expected(SPR).fixed_now_utc)}Z`));
  expectCode(r, 'tcb');
  assert.match(r.reason, /no TCB level/);
  const tcb = tcbOf(r);
  assert.deepEqual([tcb.status, tcb.platformStatus, tcb.qeStatus], ['NotSupported', 'NotSupported', f.expected(SPR).qe_tcb_status]);
  assert.equal(f.expected(SPR).platform_tcb_status, null);
});

test('v5 sample: TCB status UpToDate, but the 2026 collateral set is not fully valid (expired signing cert)', (t) => {
  const f = fixture(t);
  if (!f) return;
  const r = verifyAt(f, V5, new Date(`${String(f.expected(V5).fixed_now_utc)}Z`));
  expectCode(r, 'expired');
  assert.match(r.reason, /Intel SGX TCB Signing/);
  const tcb = tcbOf(r);
  assert.deepEqual([tcb.status, tcb.platformStatus, tcb.tdxModuleStatus, tcb.qeStatus], ['UpToDate', 'UpToDate', 'UpToDate', 'UpToDate']);
  assert.equal(tcb.status, f.expected(V5).platform_tcb_status);
  assert.equal(tcb.tcbDate, '2024-11-13T00:00:00Z');
});

test('full collateral path: quote_4 inside the 2023 collateral window is UpToDate and valid (debug allowed)', (t) => {
  const f = fixture(t);
  if (!f) return;
  const r = verifyAt(f, Q4, T2023);
  assert.equal(r.valid, true, r.reason);
  assert.equal((r.details as { tcbStatus: string }).tcbStatus, 'UpToDate');
  assert.equal(tcbOf(r).tcbEvaluationDataNumber, 15);
  expectCode(verifyAt(f, Q4, T2023, f.col, {}), 'policy-debug');
  expectCode(verifyAt(f, Q4, T2023, f.col, { allowDebug: true, acceptedTcbStatuses: ['OutOfDate'] }), 'tcb');
  expectCode(verifyAt(f, Q4, T2023, f.col, { allowDebug: true, minTcbEvaluationDataNumber: 16 }), 'tcb');
  assert.equal(verifyAt(f, Q4, T2023, f.col, { allowDebug: true, minTcbEvaluationDataNumber: 15 }).valid, true);
  // At quote_4's documented time (2024-01-01) the 2023 collateral is stale.
  expectCode(verifyAt(f, Q4, new Date('2024-01-01T00:00:00Z')), 'expired');
});

test('collateral freshness: one millisecond outside the tightest collateral window fails', (t) => {
  const f = fixture(t);
  if (!f) return;
  const info = f.col.tcbInfos.find((i) => i.value.fmspc === '50806f000000')!.value;
  const qe = f.col.qeIdentity!.value;
  const certs = [...f.col.tcbSigningChain!, ...decodeCertificates([parseTdxQuote(f.quote(Q4)).pckChainPem])].map(
    (d) => new X509Certificate(d),
  );
  const starts = [info.issueDate, qe.issueDate].map((s) => Date.parse(String(s)));
  const ends = [info.nextUpdate, qe.nextUpdate].map((s) => Date.parse(String(s)));
  starts.push(f.col.pckCrl!.thisUpdate.getTime(), f.col.rootCrl!.thisUpdate.getTime(), ...certs.map((c) => Date.parse(c.validFrom)));
  ends.push(f.col.pckCrl!.nextUpdate!.getTime(), f.col.rootCrl!.nextUpdate!.getTime(), ...certs.map((c) => Date.parse(c.validTo)));
  const [lo, hi] = [Math.max(...starts), Math.min(...ends)];
  assert.equal(new Date(hi).toISOString(), '2023-07-08T07:24:59.000Z'); // QE identity nextUpdate
  expectCode(verifyAt(f, Q4, new Date(lo - 1)), 'not-yet-valid');
  expectCode(verifyAt(f, Q4, new Date(hi + 1)), 'expired');
  assert.equal(verifyAt(f, Q4, new Date(lo)).valid, true);
  assert.equal(verifyAt(f, Q4, new Date(hi)).valid, true);
});

test('revocation via CRL (test hook: serials added to the parsed, signature-checked CRLs)', (t) => {
  const f = fixture(t);
  if (!f) return;
  // None of the vectors' certificates is in the real CRLs, so the check is exercised by pretending:
  // the serial is added to the parsed revoked set; the CRL signature is still verified over the
  // unmodified tbsCertList bytes.
  const [root, ca, leaf] = decodeCertificates([parseTdxQuote(f.quote(Q4)).pckChainPem])
    .map((d) => new X509Certificate(d))
    .reverse();
  assert.equal(root.subject.includes('Intel SGX Root CA'), true);
  const serial = (c: X509Certificate) => c.serialNumber.toLowerCase().replace(/^(00)+(?=..)/, '');
  assert.equal(f.col.pckCrl!.revoked.has(serial(leaf)), false);
  const withPck = { ...f.col, pckCrl: { ...f.col.pckCrl!, revoked: new Set([...f.col.pckCrl!.revoked, serial(leaf)]) } };
  expectCode(verifyAt(f, Q4, T2023, withPck), 'revoked');
  const withRoot = { ...f.col, rootCrl: { ...f.col.rootCrl!, revoked: new Set([serial(ca)]) } };
  expectCode(verifyAt(f, Q4, T2023, withRoot), 'revoked');
  const signing = new X509Certificate(f.col.tcbSigningChain!.find((d) => new X509Certificate(d).subject.includes('TCB Signing'))!);
  expectCode(verifyAt(f, Q4, T2023, { ...f.col, rootCrl: { ...f.col.rootCrl!, revoked: new Set([serial(signing)]) } }), 'revoked');
  // A tampered revoked list with a broken CRL signature is caught before it is used.
  const sig = f.col.pckCrl!.signature.slice();
  sig[10] ^= 1;
  expectCode(verifyAt(f, Q4, T2023, { ...f.col, pckCrl: { ...f.col.pckCrl!, signature: sig } }), 'signature');
});

test('tampered, mismatched or incomplete collateral is rejected', (t) => {
  const f = fixture(t);
  if (!f) return;
  const infoBytes = new Uint8Array(readFileSync(join(f.dir, 'go-tdx-guest_sample_tcbInfo_response')));
  const edited = new TextEncoder().encode(new TextDecoder().decode(infoBytes).replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"'));
  const forged = signedJsonMember(edited, 'tcbInfo', 'test');
  const others = f.col.tcbInfos.filter((i) => i.value.fmspc !== '50806f000000');
  expectCode(verifyAt(f, Q4, T2023, { ...f.col, tcbInfos: [forged, ...others] }), 'signature');
  const badSig = { ...f.col.tcbInfos[0], signature: f.col.tcbInfos[0].signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
  expectCode(verifyAt(f, Q4, T2023, { ...f.col, tcbInfos: [badSig, ...f.col.tcbInfos.slice(1)] }), 'signature');
  expectCode(verifyAt(f, Q4, T2023, { ...f.col, pckCrl: f.col.rootCrl }), 'chain'); // CRL of the wrong CA
  expectCode(verifyAt(f, Q4, T2023, { ...f.col, qeIdentity: undefined }), 'tcb');
  expectCode(verifyAt(f, Q4, T2023, { ...f.col, tcbSigningChain: [] }), 'tcb');
  expectCode(verifyAt(f, Q4, T2023, { ...f.col, tcbInfos: others }), 'tcb'); // no TCB info for this FMSPC
  assert.throws(() => loadTdxCollateral(join(f.dir, 'no-such-dir')), { name: 'AttestationError', code: 'parse' });
});
