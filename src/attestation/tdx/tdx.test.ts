/**
 * TDX verifier against the real quotes in shared/testdata/attestation/tdx (README + expected.json):
 * every quote verifies (evidence only, no collateral) at its documented time with the expected
 * fields; derived negatives fail with a specific code (checklist §2.3 steps 1–7, 10, 11).
 * Collateral, TCB status and revocation: tdx-collateral.test.ts; robustness: tdx-fuzz.test.ts.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { requireTestdata } from '../../../test/helpers/testdata.ts';
import { decodeCertificates } from '../common/certs.ts';
import { failureCode, type VerificationResult } from '../common/result.ts';
import type { TdxPolicy } from './policy.ts';
import { parseTdxQuote } from './quote.ts';
import { verifyTdx } from './verify.ts';

const DIR = 'attestation/tdx';
// expected.json is free-form JSON; field access is checked by the assertions themselves.
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
interface TdxVector {
  e: Json;
  quote: Uint8Array;
  now: Date;
}

/** The quotes of expected.json (skips the test when the data is absent). */
function tdxVectors(t: TestContext): TdxVector[] | undefined {
  const p = requireTestdata(t, `${DIR}/expected.json`);
  if (!p) return undefined;
  const all = JSON.parse(readFileSync(p[0], 'utf8')) as Json[];
  if (!requireTestdata(t, ...all.map((e) => `${DIR}/${e.quote}`))) return undefined;
  return all.map((e) => ({ e, quote: new Uint8Array(readFileSync(join(dirname(p[0]), e.quote))), now: new Date(`${e.fixed_now_utc}Z`) }));
}

const expectCode = (r: VerificationResult, code: string) => assert.equal(failureCode(r), code, r.reason);
const run = (v: TdxVector, over: { quote?: Uint8Array; now?: Date; roots?: string[]; policy?: TdxPolicy } = {}) =>
  verifyTdx(over.quote ?? v.quote, { now: over.now ?? v.now, roots: over.roots, policy: over.policy ?? { allowDebug: true } });
const find = (vs: TdxVector[], name: string) => vs.find((v) => v.e.quote === name)!;

test('every quote verifies at its fixed time and yields the fields of expected.json', (t) => {
  const vs = tdxVectors(t);
  if (!vs) return;
  assert.equal(vs.length, 5);
  for (const { e, quote, now } of vs) {
    const r = verifyTdx(quote, { now, policy: { allowDebug: e.body['td_attributes_debug(bit0)'] } });
    assert.equal(r.valid, true, `${e.quote}: ${r.reason}`);
    const d = r.details as Json;
    const b = e.body;
    assert.deepEqual([d.header.version, d.body.kind, d.header.qeVendorId], [e.version, e.body_kind, e.header_qe_vendor_id]);
    const m = r.measurements;
    assert.deepEqual(
      [m.MRTD, m.RTMR0, m.RTMR1, m.RTMR2, m.RTMR3, m.MRSEAM, m.MRCONFIGID, m.MROWNER, m.MROWNERCONFIG, m.MRSERVICETD],
      [b.mrtd, b.rtmr0, b.rtmr1, b.rtmr2, b.rtmr3, b.mrseam, b.mrconfigid, b.mrowner, b.mrownerconfig, b.mrservicetd],
    );
    assert.equal(r.reportData, b.report_data);
    const db = d.body;
    assert.deepEqual(
      [db.teeTcbSvn, db.mrSignerSeam, db.seamAttributes, db.tdAttributes, db.xfam, db.teeTcbSvn2, d.debug],
      [b.tee_tcb_svn, b.mrsignerseam, b.seam_attributes, b.td_attributes, b.xfam, b.tee_tcb_svn2, b['td_attributes_debug(bit0)']],
    );
    const q = e.qe_report;
    assert.deepEqual(d.qeReport, {
      cpuSvn: q.cpu_svn,
      miscSelect: q.miscselect,
      attributes: q.attributes,
      mrEnclave: q.mr_enclave,
      mrSigner: q.mr_signer,
      isvProdId: q.isv_prod_id,
      isvSvn: q.isv_svn,
      reportData: q.report_data,
    });
    const x = e.pck_ext;
    assert.deepEqual(d.pck, { fmspc: x.fmspc, pceId: x.pceid, sgxTcbCompSvns: x.sgx_tcb_comp_svns, pceSvn: x.pcesvn, cpuSvn: x.cpusvn });
    const validity = (i: number) => [d.pckChain[2 - i].notBefore, d.pckChain[2 - i].notAfter];
    for (const [i, c] of e.pck_chain.entries()) assert.deepEqual(validity(i), [new Date(c.nb).toISOString(), new Date(c.na).toISOString()]);
    assert.equal(d.pckChain[2].subject.includes('Intel SGX PCK Certificate'), true);
    assert.equal(d.trailingBytes, e.trailing_bytes_after_sigdata);
    assert.equal(d.tcbStatus, 'NotEvaluated');
  }
});

test('debug TD (trustee quote_4) is rejected by a production policy; the others pass it', (t) => {
  const vs = tdxVectors(t);
  if (!vs) return;
  for (const v of vs) {
    const r = run(v, { policy: {} });
    if (v.e.body['td_attributes_debug(bit0)']) expectCode(r, 'policy-debug');
    else assert.equal(r.valid, true, r.reason);
    assert.equal(r.valid, v.e.checks.td_not_debug);
  }
});

test('derived negatives: flipped signature / body / QE report / key bytes, changed algorithm, foreign root', (t) => {
  const vs = tdxVectors(t);
  if (!vs) return;
  for (const name of ['go-tdx-guest_tdx_prod_quote_SPR_E4.dat', 'go-tdx-guest_quote_v5_sample.dat']) {
    const v = find(vs, name);
    const q = parseTdxQuote(v.quote);
    const off = (sub: Uint8Array) => sub.byteOffset - v.quote.byteOffset;
    const flip = (i: number) => {
      const b = v.quote.slice();
      b[i] ^= 0x01;
      return b;
    };
    expectCode(run(v, { quote: flip(off(q.signature)) }), 'signature');
    expectCode(run(v, { quote: flip(off(q.signature) + 63) }), 'signature');
    expectCode(run(v, { quote: flip(off(q.body.reportData)) }), 'signature');
    expectCode(run(v, { quote: flip(off(q.body.mrTd) + 5) }), 'signature');
    expectCode(run(v, { quote: flip(off(q.qeReport.bytes) + 100) }), 'signature'); // QE report signed by the PCK
    expectCode(run(v, { quote: flip(off(q.qeReportSignature)) }), 'signature');
    expectCode(run(v, { quote: flip(off(q.attestationKey) + 10) }), 'signature'); // no longer bound by the QE report
    expectCode(run(v, { quote: flip(off(q.qeAuthData)) }), 'signature');
    expectCode(run(v, { quote: flip(2) }), 'algorithm'); // att_key_type 2 → 3
    expectCode(run(v, { roots: ['00'.repeat(32)] }), 'root-not-pinned');
  }
});

test('now one millisecond outside the PCK chain validity window fails; the bounds pass', (t) => {
  const vs = tdxVectors(t);
  if (!vs) return;
  for (const v of vs) {
    const certs = decodeCertificates([parseTdxQuote(v.quote).pckChainPem]).map((d) => new X509Certificate(d));
    const notBefore = Math.max(...certs.map((c) => Date.parse(c.validFrom)));
    const notAfter = Math.min(...certs.map((c) => Date.parse(c.validTo)));
    expectCode(run(v, { now: new Date(notBefore - 1) }), 'not-yet-valid');
    expectCode(run(v, { now: new Date(notAfter + 1) }), 'expired');
    assert.equal(run(v, { now: new Date(notBefore) }).valid, true);
    assert.equal(run(v, { now: new Date(notAfter) }).valid, true);
  }
  expectCode(run(find(vs, 'go-tdx-guest_tdx_prod_quote_SPR_E4.dat'), { now: new Date('2053-07-01T01:00:00Z') }), 'expired'); // go-tdx-guest futureTime
});

test('policy: MRTD / RTMRs, nonce (REPORTDATA), TD attributes, XFAM, collateral requirement, max age', (t) => {
  const vs = tdxVectors(t);
  if (!vs) return;
  const v = find(vs, 'go-tdx-guest_tdx_prod_quote_SPR_E4.dat');
  const b = v.e.body;
  const ok = (policy: TdxPolicy) => assert.equal(run(v, { policy }).valid, true, JSON.stringify(policy));
  const bad = (policy: TdxPolicy, code: string) => expectCode(run(v, { policy }), code);
  ok({
    expectedMeasurements: { MRTD: b.mrtd, RTMR0: b.rtmr0, RTMR1: b.rtmr1.toUpperCase(), RTMR2: b.rtmr2, RTMR3: b.rtmr3 },
    nonce: b.report_data,
  });
  bad({ expectedMeasurements: { MRTD: '00'.repeat(48) } }, 'policy-measurement');
  bad({ expectedMeasurements: { RTMR3: 'ff'.repeat(48) } }, 'policy-measurement');
  bad({ expectedMeasurements: { PCR0: '00' } }, 'policy-measurement');
  bad({ nonce: '00'.repeat(64) }, 'policy-nonce');
  bad({ maxAgeMs: 1000 }, 'policy-age');
  bad({ requireCollateral: true }, 'tcb');
  // TD_ATTRIBUTES here is 00000040…: DEBUG (bit 0) clear, PKS (bit 30) set, SEPT_VE_DISABLE (bit 28, 0x10 in byte 3) clear.
  ok({ tdAttributes: { mask: '0100004000000000', value: '0000004000000000' } });
  bad({ tdAttributes: { mask: '0000001000000000', value: '0000001000000000' } }, 'policy');
  ok({ xfam: { mask: 'ffffffffffffffff', value: b.xfam } });
  bad({ xfam: { mask: 'ffffffffffffffff', value: '0300000000000000' } }, 'policy');
  // Untyped policies (from a file) are shape-checked: typos and wrong types fail closed.
  for (const junk of [
    { allowDebug: 'yes' },
    { acceptedTcbStatuses: 'UpToDate' },
    { acceptedTcbStatuses: ['Fine'] },
    { mrtd: 'ab' },
    { xfam: { mask: 1 } },
  ]) {
    bad(junk as TdxPolicy, 'parse');
  }
});
