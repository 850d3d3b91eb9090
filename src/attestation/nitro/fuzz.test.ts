/**
 * Robustness of the Nitro parsers and verifier: random bytes, CBOR-shaped junk, byte mutations and
 * truncations of a real document, oversized input, hostile CBOR lengths and nesting. Every input
 * yields a typed failure (never an untyped exception), each within a time bound.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { requireTestdata } from '../../../test/helpers/testdata.ts';
import { AttestationError, failureCode, type VerificationResult } from '../common/result.ts';
import { verifyBoundTls } from './bound-tls.ts';
import { decodeCbor, encodeCbor } from './cbor.ts';
import { verifyNitro } from './verify.ts';

const ATTEST = 'attestation/nitro/nitro-attest_attestation.cose';
const code = (r: VerificationResult): string | undefined => failureCode(r);
const file = (t: TestContext, rel: string): Uint8Array | undefined => {
  const p = requireTestdata(t, rel);
  return p && new Uint8Array(readFileSync(p[0]));
};

const ALLOWED = new Set(['parse', 'size', 'algorithm', 'signature', 'chain', 'root-not-pinned']);

function assertRejectedQuickly(bytes: Uint8Array, now: Date, ms = 2000): VerificationResult {
  const t0 = performance.now();
  const r = verifyNitro(bytes, { now });
  const dt = performance.now() - t0;
  assert.equal(r.valid, false);
  assert.ok(ALLOWED.has(code(r) ?? ''), r.reason);
  assert.ok(dt < ms, `took ${dt} ms`);
  return r;
}

test('fuzz: random bytes, mutations, truncations and oversized input are rejected cleanly', { timeout: 120_000 }, (t) => {
  const doc = file(t, ATTEST);
  if (!doc) return;
  const now = new Date(1736179625472);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), (b) => {
      assertRejectedQuickly(b, now);
    }),
    { numRuns: 500 },
  );
  // CBOR-shaped random input: arrays of 4 with random items get past the first checks.
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 4, maxLength: 4 }), (items) => {
      assertRejectedQuickly(encodeCbor(items), now);
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.nat(doc.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const m = doc.slice();
      m[i] ^= x;
      assertRejectedQuickly(m, now);
    }),
    { numRuns: 150 },
  );
  for (let n = 0; n < doc.length; n += 97) assert.equal(code(assertRejectedQuickly(doc.subarray(0, n), now)), 'parse');
  // The bound-TLS front door never throws either, whatever the certificate and document bytes.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), fc.option(fc.uint8Array({ maxLength: 512 })), fc.boolean(), (c, d, pem) => {
      const certificate = pem ? `-----BEGIN CERTIFICATE-----\n${Buffer.from(c).toString('base64')}\n-----END CERTIFICATE-----\n` : c;
      const r = verifyBoundTls({ certificate, document: d ?? undefined, now });
      assert.equal(r.valid, false);
      assert.ok(ALLOWED.has(code(r) ?? ''), r.reason);
    }),
    { numRuns: 200 },
  );
  const huge = new Uint8Array(20 * 1024 * 1024);
  huge.set(doc);
  assert.equal(code(assertRejectedQuickly(huge, now, 200)), 'size');
});

test('CBOR decoder: hostile lengths and nesting fail with AttestationError, never hang', () => {
  const cases = [
    Uint8Array.of(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // 2^64-1 byte string
    Uint8Array.of(0x9a, 0xff, 0xff, 0xff, 0xff), // 4G-item array
    Uint8Array.of(0xbb, 0, 0, 0, 1, 0, 0, 0, 0), // 2^32-entry map
    new Uint8Array(10_000).fill(0x81), // deep nesting
    Uint8Array.of(0x9f, 0xff), // indefinite array
    Uint8Array.of(0xfb, 0, 0, 0, 0, 0, 0, 0, 0), // float
    Uint8Array.of(0x63, 0xff, 0xfe, 0xfd), // invalid UTF-8
    Uint8Array.of(0xa2, 0x01, 0x00, 0x01, 0x00), // duplicate key
  ];
  for (const c of cases)
    assert.throws(
      () => decodeCbor(c),
      (e: unknown) => e instanceof AttestationError && e.code === 'parse',
    );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
      try {
        decodeCbor(b);
      } catch (e) {
        assert.ok(e instanceof AttestationError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
  const v = new Map<string | number, unknown>([['a', [1, -1, -1000, 2 ** 40, new Uint8Array(300), 'ü', true, null]]]);
  assert.deepEqual(decodeCbor(encodeCbor(v as never)), v);
});
