/**
 * Pseudorandom generator: AES-128 in counter mode over a 16-byte seed (node:crypto / OpenSSL,
 * AES-NI). Used to expand dealer seeds into shares (seed compression) and joint coins into
 * public challenges. Uniform ring elements are raw 64-bit words, so sampling is exact.
 *
 * Fresh secrets come from {@link randomSeed} (the OS CSPRNG); never from Math.random.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import type { Ring } from '../ring/ring.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { sizeOf } from '../ring/tensor.ts';

export const SEED_BYTES = 16;

/** A fresh uniformly random seed from the OS CSPRNG. */
export function randomSeed(): Uint8Array {
  return new Uint8Array(randomBytes(SEED_BYTES));
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

  /** The next `n` pseudorandom bytes. */
  bytes(n: number): Uint8Array {
    return new Uint8Array(this.#cipher.update(Buffer.alloc(n)));
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
