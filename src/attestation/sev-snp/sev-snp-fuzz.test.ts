/**
 * Robustness of the SEV-SNP parser and verifier (checklist §2.2 steps 1, 5, 12): random bytes,
 * random 1184-byte reports that pass the first field checks, single-byte mutations of a real
 * report (every byte of the report is either signed or must be zero, so every mutation must be
 * rejected), truncations at every offset, oversized input and junk certificate chains. Every input
 * yields `valid: false` with a typed code, never an exception, within a time bound.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { requireTestdata } from '../../../test/helpers/testdata.ts';
import { failureCode, type VerificationResult } from '../common/result.ts';
import { SNP_REPORT_SIZE } from './report.ts';
import { verifySevSnp } from './verify.ts';

const DIR = 'attestation/sev-snp';
const ALLOWED = new Set(['parse', 'size', 'algorithm', 'signature', 'chain']);
const NOW = new Date('2024-01-01T00:00:00Z');

function load(t: TestContext): { report: Uint8Array; chain: (string | Uint8Array)[] } | undefined {
  const p = requireTestdata(t, `${DIR}/trustee_test-report.bin`, `${DIR}/trustee_test-vcek.der`, `${DIR}/go-sev-guest_ask_ark_milan.pem`);
  if (!p) return undefined;
  return { report: new Uint8Array(readFileSync(p[0])), chain: [new Uint8Array(readFileSync(p[1])), readFileSync(p[2], 'utf8')] };
}

function rejectedQuickly(report: Uint8Array, chain: (string | Uint8Array)[], ms = 2000): VerificationResult {
  const t0 = performance.now();
  const r = verifySevSnp(report, { now: NOW, chain });
  const dt = performance.now() - t0;
  assert.equal(r.valid, false);
  assert.ok(ALLOWED.has(failureCode(r) ?? ''), r.reason);
  assert.ok(!r.reason.includes('unexpected error'), r.reason); // only typed AttestationErrors
  assert.ok(dt < ms, `took ${dt} ms`);
  return r;
}

test('fuzz: random bytes and random report-shaped input are rejected cleanly', { timeout: 120_000 }, (t) => {
  const v = load(t);
  if (!v) return;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), (b) => {
      rejectedQuickly(b, v.chain);
    }),
    { numRuns: 500 },
  );
  // Version 2..5, signature_algo 1, VCEK or VLEK, zero signature padding: gets past the parser.
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: SNP_REPORT_SIZE, maxLength: SNP_REPORT_SIZE }),
      fc.integer({ min: 2, max: 5 }),
      fc.boolean(),
      (b, version, vlek) => {
        const dv = new DataView(b.buffer, b.byteOffset);
        dv.setUint32(0, version, true);
        dv.setUint32(0x34, 1, true);
        dv.setUint32(0x48, vlek ? 4 : 0, true);
        b.fill(0, 0x2a0 + 48, 0x2a0 + 72);
        b.fill(0, 0x2e8 + 48);
        rejectedQuickly(b, v.chain);
      },
    ),
    { numRuns: 100 },
  );
});

test('fuzz: every single-byte mutation of a real report is rejected', { timeout: 120_000 }, (t) => {
  const v = load(t);
  if (!v) return;
  assert.equal(verifySevSnp(v.report, { now: NOW, chain: v.chain }).valid, true);
  fc.assert(
    fc.property(fc.nat(SNP_REPORT_SIZE - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const m = v.report.slice();
      m[i] ^= x;
      rejectedQuickly(m, v.chain);
    }),
    { numRuns: 200 },
  );
});

test('truncations at every offset and oversized input fail with parse / size', (t) => {
  const v = load(t);
  if (!v) return;
  for (let n = 0; n < SNP_REPORT_SIZE; n++) assert.equal(failureCode(rejectedQuickly(v.report.subarray(0, n), v.chain)), 'parse');
  for (const size of [SNP_REPORT_SIZE + 1, 2 * SNP_REPORT_SIZE, 20 * 1024 * 1024]) {
    const big = new Uint8Array(size);
    big.set(v.report);
    assert.equal(failureCode(rejectedQuickly(big, v.chain, 200)), 'size');
  }
});

test('fuzz: junk certificate chains are rejected cleanly', { timeout: 120_000 }, (t) => {
  const v = load(t);
  if (!v) return;
  const pem = (b: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(b).toString('base64')}\n-----END CERTIFICATE-----\n`;
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ maxLength: 2048 }).map(pem), fc.string())),
      (chain) => {
        rejectedQuickly(v.report, chain);
      },
    ),
    { numRuns: 300 },
  );
  // A real chain with one certificate corrupted somewhere.
  const vcek = v.chain[0] as Uint8Array;
  fc.assert(
    fc.property(fc.nat(vcek.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const m = vcek.slice();
      m[i] ^= x;
      rejectedQuickly(v.report, [m, v.chain[1]]);
    }),
    { numRuns: 150 },
  );
  // Non-array / wrongly typed options never throw either.
  for (const [chain, code] of [
    [undefined, 'chain'],
    [null, 'chain'],
    ['x', 'parse'],
    [[42], 'parse'],
    [[{}], 'parse'],
  ] as const) {
    const r = verifySevSnp(v.report, { now: NOW, chain: chain as unknown as string[] });
    assert.equal(failureCode(r), code, r.reason);
    assert.ok(!r.reason.includes('unexpected error'), r.reason);
  }
});
