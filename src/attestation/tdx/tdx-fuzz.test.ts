/**
 * Robustness of the TDX quote parser, verifier and collateral parsers (checklist §2.3 steps 1–3):
 * random bytes, random quote-shaped input, mutations and truncations of a real quote, oversized
 * input, junk collateral. Every input yields a typed failure (never an untyped exception) within a
 * time bound. Mutations of the signed and signature parts must always be rejected; mutations of
 * the PEM text (not signed; only the certificates inside are) may be benign (e.g. `\n` → `\r`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { requireTestdata } from '../../../test/helpers/testdata.ts';
import { parseCrl } from '../common/crl.ts';
import { AttestationError, failureCode, type VerificationResult } from '../common/result.ts';
import { signedJsonMember } from './collateral.ts';
import { parseTdxQuote, TDX_MAX_QUOTE_BYTES } from './quote.ts';
import { verifyTdx } from './verify.ts';

const ALLOWED = new Set(['parse', 'size', 'algorithm', 'signature', 'chain', 'root-not-pinned']);
const NOW = new Date('2025-01-01T00:00:00Z');

function quote(t: TestContext): Uint8Array | undefined {
  const p = requireTestdata(t, 'attestation/tdx/trustee_tdx_quote_5.dat'); // v5, TD 1.5, no trailing bytes
  return p && new Uint8Array(readFileSync(p[0]));
}

function check(bytes: Uint8Array, ms = 2000): VerificationResult {
  const t0 = performance.now();
  const r = verifyTdx(bytes, { now: NOW });
  const dt = performance.now() - t0;
  if (!r.valid) assert.ok(ALLOWED.has(failureCode(r) ?? ''), r.reason);
  assert.ok(!r.reason.includes('unexpected error'), r.reason); // only typed AttestationErrors
  assert.ok(dt < ms, `took ${dt} ms`);
  return r;
}
const rejected = (bytes: Uint8Array, ms?: number) => {
  const r = check(bytes, ms);
  assert.equal(r.valid, false);
  return r;
};

test('fuzz: random bytes and random quote-shaped input are rejected cleanly', { timeout: 120_000 }, (t) => {
  const q = quote(t);
  if (!q) return;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 8192 }), (b) => {
      rejected(b);
    }),
    { numRuns: 500 },
  );
  // A valid header followed by random bytes gets past the first checks.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 6000 }), (tail) => {
      const b = new Uint8Array(48 + tail.length);
      b.set(q.subarray(0, 48));
      b.set(tail, 48);
      rejected(b);
    }),
    { numRuns: 300 },
  );
});

test('fuzz: mutations of a real quote', { timeout: 120_000 }, (t) => {
  const q = quote(t);
  if (!q) return;
  assert.equal(check(q).valid, true);
  const parsed = parseTdxQuote(q);
  const pemStart = parsed.pckChainPem.byteOffset - q.byteOffset;
  fc.assert(
    fc.property(fc.nat(pemStart - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const m = q.slice();
      m[i] ^= x;
      rejected(m);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.integer({ min: pemStart, max: q.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const m = q.slice();
      m[i] ^= x;
      check(m);
    }),
    { numRuns: 150 },
  );
});

test('truncations at every offset and oversized input fail with parse / size', (t) => {
  const q = quote(t);
  if (!q) return;
  for (let n = 0; n < q.length; n++) assert.equal(failureCode(rejected(q.subarray(0, n))), 'parse', `truncated to ${n}`);
  const big = new Uint8Array(20 * 1024 * 1024);
  big.set(q);
  assert.equal(failureCode(rejected(big, 200)), 'size');
  assert.equal(failureCode(rejected(big.subarray(0, TDX_MAX_QUOTE_BYTES + 1), 200)), 'size');
  // Within the cap, trailing bytes are tolerated (real quotes carry padding) and counted.
  const padded = big.subarray(0, TDX_MAX_QUOTE_BYTES);
  const r = check(padded);
  assert.equal(r.valid, true, r.reason);
  assert.equal((r.details as { trailingBytes: number }).trailingBytes, TDX_MAX_QUOTE_BYTES - q.length);
});

test('fuzz: collateral parsers throw only AttestationError', { timeout: 60_000 }, () => {
  const typed = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof AttestationError, String(err));
    }
  };
  const json = fc.oneof(
    fc.json().map((s) => new TextEncoder().encode(s)),
    fc
      .record({ tcbInfo: fc.jsonValue(), signature: fc.oneof(fc.string(), fc.constant('ab'.repeat(64))) })
      .map((o) => new TextEncoder().encode(JSON.stringify(o))),
    fc.uint8Array({ maxLength: 512 }),
  );
  fc.assert(
    fc.property(json, (b) => {
      typed(() => signedJsonMember(b, 'tcbInfo', 'fuzz'));
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1024 }), fc.boolean(), (b, der) => {
      if (der) b[0] = 0x30;
      typed(() => parseCrl(b));
    }),
    { numRuns: 500 },
  );
});
