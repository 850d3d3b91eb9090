/**
 * Pseudorandom generator: AES-128 in counter mode over a 16-byte seed (node:crypto / OpenSSL,
 * AES-NI). Used to expand dealer seeds into shares (seed compression) and joint coins into
 * public challenges. Uniform ring elements are raw 64-bit words, so sampling is exact.
 *
 * Fresh secrets come from {@link randomSeed} (the OS CSPRNG); never from Math.random.
 */
import { createCipheriv, randomFillSync } from 'node:crypto';
import type { Ring } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { sizeOf } from '../ring/tensor.ts';

export const SEED_BYTES = 16;
/** Read-only zeros to encrypt: the keystream of draws up to this size needs no zero input allocated. */
const ZEROS = Buffer.alloc(1 << 20);

/** A fresh uniformly random seed from the OS CSPRNG. */
export function randomSeed(): Uint8Array {
  return randomFillSync(new Uint8Array(SEED_BYTES));
}

/**
 * A stream of pseudorandom bytes: AES-128-CTR(seed, IV = 0) applied to zeros. `stream` keeps its
 * position, so consecutive draws from one PRG never overlap.
 */
export class Prg {
  readonly #cipher;
  constructor(seed: Uint8Array) {
    if (seed.length !== SEED_BYTES) throw new RangeError(`Prg: seed must be ${SEED_BYTES} bytes, got ${seed.length}`);
    this.#cipher = createCipheriv('aes-128-ctr', seed, Buffer.alloc(16));
  }

  /** The next `n` pseudorandom bytes (a fresh buffer, 8-byte aligned). */
  bytes(n: number): Uint8Array {
    // The keystream is the encryption of zeros; OpenSSL writes it into a fresh buffer, which is
    // returned as is (no copy) and, up to ZEROS' size, without allocating a zero input.
    const out: Buffer = this.#cipher.update(n <= ZEROS.length ? ZEROS.subarray(0, n) : Buffer.alloc(n));
    if (out.length !== n) throw new Error(`Prg: the cipher returned ${out.length} bytes for ${n}`);
    if (out.byteOffset % 8 !== 0) return new Uint8Array(out);
    return new Uint8Array(out.buffer, out.byteOffset, n);
  }

  /** The next `n` uniformly random 64-bit words. */
  words(n: number): BigUint64Array {
    const b = this.bytes(n * 8);
    return new BigUint64Array(b.buffer, b.byteOffset, n);
  }

  /** A uniformly random ring tensor of the given shape. */
  ringTensor(ring: Ring, shape: readonly number[]): RingTensor {
    return { ring, shape: [...shape], data: this.words(sizeOf(shape) * ring.limbs) };
  }
}

/** A uniformly random ring tensor from the OS CSPRNG. */
export function randomRingTensor(ring: Ring, shape: readonly number[]): RingTensor {
  return new Prg(randomSeed()).ringTensor(ring, shape);
}
