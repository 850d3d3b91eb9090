/**
 * SEV-SNP policy appraisal (checklist §2.2 steps 2, 3, 7–11) on the real trustee vectors, and the
 * pinned ARK → ASK/ASVK chains of all three products (step 4).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { requireTestdata } from '../../../test/helpers/testdata.ts';
import { decodeCertificates } from '../common/certs.ts';
import { failureCode, type VerificationResult } from '../common/result.ts';
import { verifyChain } from '../common/x509-chain.ts';
import type { SevSnpPolicy } from './policy.ts';
import { AMD_ARK_SHA256, verifySevSnp } from './verify.ts';

const DIR = 'attestation/sev-snp';
interface Vector {
  e: { parsed: { measurement: string; host_data: string; report_data: string } };
  report: Uint8Array;
  chain: (string | Uint8Array)[];
  now: Date;
}

/** trustee's VCEK report (2024-01-01) and AWS VLEK report (2025-01-01) with their chains. */
function vectors(t: TestContext): { v: Vector; vl: Vector } | undefined {
  const files = ['expected.json', 'trustee_test-report.bin', 'trustee_test-vcek.der', 'go-sev-guest_ask_ark_milan.pem'];
  const vlek = ['trustee_test-vlek-report.bin', 'trustee_test-vlek.der', 'go-sev-guest_ask_ark_milan_vlek.pem'];
  const p = requireTestdata(t, ...[...files, ...vlek].map((f) => `${DIR}/${f}`));
  if (!p) return undefined;
  const expected = JSON.parse(readFileSync(p[0], 'utf8')) as (Vector['e'] & { report: string })[];
  const make = (i: number, now: string): Vector => ({
    e: expected.find((e) => p[i].endsWith(`/${e.report}`))!,
    report: new Uint8Array(readFileSync(p[i])),
    chain: [new Uint8Array(readFileSync(p[i + 1])), readFileSync(p[i + 2], 'utf8')],
    now: new Date(now),
  });
  return { v: make(1, '2024-01-01T00:00:00Z'), vl: make(4, '2025-01-01T00:00:00Z') };
}
const verify = (v: Vector, policy: SevSnpPolicy) => verifySevSnp(v.report, { now: v.now, chain: v.chain, policy });
const expectCode = (r: VerificationResult, code: string) => assert.equal(failureCode(r), code, r.reason);

test('policy: measurement, host data, nonce, VMPL, product, signer, TCB minimum, guest bits, max age', (t) => {
  const vs = vectors(t);
  if (!vs) return;
  const { v, vl } = vs;
  const p = v.e.parsed;
  const ok = (policy: SevSnpPolicy, vec = v) => assert.equal(verify(vec, policy).valid, true, JSON.stringify(policy));
  const bad = (policy: SevSnpPolicy, code: string, vec = v) => expectCode(verify(vec, policy), code);
  ok({
    expectedMeasurements: { MEASUREMENT: p.measurement.toUpperCase(), HOST_DATA: p.host_data },
    nonce: p.report_data,
    vmpl: 0,
    product: 'Milan',
  });
  bad({ expectedMeasurements: { MEASUREMENT: '00'.repeat(48) } }, 'policy-measurement');
  bad({ expectedMeasurements: { HOST_DATA: 'ff'.repeat(32) } }, 'policy-measurement');
  bad({ nonce: '00'.repeat(64) }, 'policy-nonce');
  bad({ maxAgeMs: 60_000 }, 'policy-age');
  bad({ product: 'Genoa' }, 'policy');
  bad({ signers: ['VLEK'] }, 'policy');
  bad({ guest: { allowSmt: false } }, 'policy');
  bad({ guest: { minAbi: { major: 1, minor: 0 } } }, 'policy');
  bad({ minGuestSvn: 5 }, 'policy');
  ok({ minTcb: { bootloader: 3, snp: 8, microcode: 115 }, minFirmware: { major: 1, minor: 52 } });
  bad({ minTcb: { microcode: 116 } }, 'tcb');
  bad({ minFirmware: { major: 1, minor: 53 } }, 'tcb');
  ok({ vmpl: 1, signers: ['VLEK'], cspId: 'CN=cc-us-east-2.amazonaws.com' }, vl);
  bad({ vmpl: 0 }, 'policy', vl);
  bad({ cspId: 'CN=other' }, 'policy', vl);
  // Untyped policies (from a file) are shape-checked: typos and wrong types fail closed.
  for (const junk of [
    { allowDebg: true },
    { vmpl: '1' },
    { signers: 'VCEK' },
    { guest: { allowSmt: 1 } },
    { expectedMeasurements: { MEASUREMENT: 'xyz' } },
  ]) {
    bad(junk as SevSnpPolicy, 'parse');
  }
});

test('the ASK/ASVK → ARK chains for Milan, Genoa and Turin verify against the pinned ARKs', (t) => {
  const files = ['milan', 'genoa', 'turin_vcek', 'milan_vlek', 'genoa_vlek', 'turin_vlek'].map(
    (f) => `${DIR}/go-sev-guest_ask_ark_${f}.pem`,
  );
  const paths = requireTestdata(t, ...files);
  if (!paths) return;
  const products = paths.map((p) => {
    const [ask, ark] = decodeCertificates([readFileSync(p, 'utf8')]);
    const chain = verifyChain([ark, ask], {
      now: new Date('2024-01-01T00:00:00Z'),
      pinnedRoots: Object.keys(AMD_ARK_SHA256),
      leafMustNotBeCA: false,
    });
    return AMD_ARK_SHA256[chain[0].sha256];
  });
  assert.deepEqual(products, ['Milan', 'Genoa', 'Turin', 'Milan', 'Genoa', 'Turin']);
});
