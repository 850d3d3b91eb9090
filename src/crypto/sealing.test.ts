import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSealingKeyPair, open, seal } from './sealing.ts';

test('seal/open round trip; wrong key, wrong AAD and a flipped byte are rejected', () => {
  const k = generateSealingKeyPair();
  const other = generateSealingKeyPair();
  const aad = new TextEncoder().encode('session|A|B');
  const msg = new Uint8Array(1000).map((_, i) => i & 255);
  const sealed = seal(k.publicKey, msg, aad);
  assert.deepEqual(open(k, sealed, aad), msg);
  assert.throws(() => open(other, sealed, aad));
  assert.throws(() => open(k, sealed, new TextEncoder().encode('session|A|C')));
  const flipped = sealed.slice();
  flipped[40] ^= 1;
  assert.throws(() => open(k, flipped, aad));
  assert.notDeepEqual(seal(k.publicKey, msg, aad), sealed, 'fresh ephemeral key per message');
});
