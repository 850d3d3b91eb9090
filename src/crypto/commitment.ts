/**
 * Hash commitments: commit(m) = SHA-256(r ‖ m) with a 32-byte random opening r.
 * Hiding (r is secret until opened) and binding (collision resistance of SHA-256) in the random
 * oracle model. Used by the joint coin toss and the commit-then-open step of the MAC check.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const COMMITMENT_BYTES = 32;
export const OPENING_BYTES = 32;

export interface Commitment {
  readonly digest: Uint8Array;
  /** Randomness ‖ message: what the committer later reveals. */
  readonly opening: Uint8Array;
}

export function commit(message: Uint8Array): Commitment {
  const opening = new Uint8Array(OPENING_BYTES + message.length);
  opening.set(randomBytes(OPENING_BYTES), 0);
  opening.set(message, OPENING_BYTES);
  return { digest: new Uint8Array(createHash('sha256').update(opening).digest()), opening };
}

/** Returns the committed message if `opening` matches `digest`, otherwise undefined. */
export function openCommitment(digest: Uint8Array, opening: Uint8Array): Uint8Array | undefined {
  if (digest.length !== COMMITMENT_BYTES || opening.length < OPENING_BYTES) return undefined;
  const actual = createHash('sha256').update(opening).digest();
  if (!timingSafeEqual(actual, digest)) return undefined;
  return opening.subarray(OPENING_BYTES);
}
