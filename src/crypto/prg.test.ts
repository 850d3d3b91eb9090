import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { describe, test } from 'node:test';
import { Prg, randomSeed, SEED_BYTES } from './prg.ts';

/** AES-128-CTR keystream built independently: AES-128-ECB of the big-endian counter blocks 0, 1, … */
function ctrKeystream(seed: Uint8Array, bytes: number): Uint8Array {
  const blocks = Math.ceil(bytes / 16);
  const counters = Buffer.alloc(blocks * 16);
  for (let i = 0; i < blocks; i++) counters.writeUInt32BE(i, i * 16 + 12);
  const ecb = createCipheriv('aes-128-ecb', seed, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([ecb.update(counters), ecb.final()]).subarray(0, bytes));
}

describe('Prg', () => {
  test('draws are consecutive pieces of the AES-128-CTR keystream (IV 0), small and above the zero buffer', () => {
    const seed = randomSeed();
    const sizes = [1, 15, 16, 17, 1000, (1 << 20) + 3, 40, 8];
    const want = ctrKeystream(
      seed,
      sizes.reduce((a, b) => a + b, 0),
    );
    const prg = new Prg(seed);
    let at = 0;
    const draws: { got: Uint8Array; at: number }[] = [];
    for (const n of sizes) {
      const got = prg.bytes(n);
      assert.equal(got.length, n);
      assert.deepEqual(got, want.subarray(at, at + n), `draw of ${n} at ${at}`);
      draws.push({ got, at });
      at += n;
    }
    // Draws are independent buffers: writing one changes no other draw.
    draws[4].got.fill(0xff);
    for (const i of [3, 5, 6]) assert.deepEqual(draws[i].got, want.subarray(draws[i].at, draws[i].at + sizes[i]));
    const again = new Prg(seed);
    assert.deepEqual(again.bytes(want.length), want);
  });

  test('words are the keystream as little-endian 64-bit words, in an aligned buffer', () => {
    const seed = randomSeed();
    const prg = new Prg(seed);
    prg.bytes(3); // an unaligned position in the stream
    const words = prg.words(5);
    assert.equal(words.byteOffset % 8, 0);
    const ks = Buffer.from(ctrKeystream(seed, 3 + 40).subarray(3));
    for (let i = 0; i < 5; i++) assert.equal(words[i], ks.readBigUInt64LE(8 * i));
  });

  test('randomSeed gives 16 fresh bytes per call', () => {
    const seeds = Array.from({ length: 64 }, () => randomSeed());
    for (const s of seeds) assert.equal(s.length, SEED_BYTES);
    assert.equal(new Set(seeds.map((s) => Buffer.from(s).toString('hex'))).size, 64);
  });

  test('refuses seeds that are not 16 bytes', () => {
    assert.throws(() => new Prg(new Uint8Array(SEED_BYTES - 1)), /seed must be 16 bytes, got 15/);
  });
});
