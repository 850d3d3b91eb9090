import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTripleSourceConformance } from '../../test/conformance/triple-source.case.ts';
import { InsecureLocalDealer } from './insecure-local-dealer.ts';

runTripleSourceConformance({
  name: 'InsecureLocalDealer',
  create: async (n, mode) => {
    const dealer = new InsecureLocalDealer(n, mode);
    return { sources: Array.from({ length: n }, (_, i) => dealer.forParty(i)), dispose: async () => {} };
  },
});

test('seed compression: all parties but the last receive 16 bytes per request', async () => {
  const dealer = new InsecureLocalDealer(3, 'malicious');
  const views = [0, 1, 2].map((i) => dealer.forParty(i));
  await Promise.all(views.map((v) => v.triples(1000)));
  assert.equal(views[0].stats.bytesReceived, 16);
  assert.equal(views[1].stats.bytesReceived, 16);
  // The last party gets the corrections: 3 tensors × (value + MAC) × 1000 × 16 bytes.
  assert.equal(views[2].stats.bytesReceived, 3 * 2 * 1000 * 16);
});
