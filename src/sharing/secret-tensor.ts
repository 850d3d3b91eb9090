/**
 * A party's view of a secret-shared tensor.
 *
 * Semi-honest mode: `share` is this party's additive share over Z_2^64 (Σ_i share_i = x).
 * Malicious mode (SPDZ2k): `share` and `mac` are over Z_2^128 with Σ share_i = x and
 * Σ mac_i = α·x (mod 2^128), α = Σ α_i the secret MAC key (each α_i < 2^64). Only x mod 2^64
 * is meaningful; the upper 64 bits are noise that must never be revealed unmasked.
 */
import type { RingTensor } from '../ring/tensor.ts';

export interface SecretTensor {
  readonly shape: readonly number[];
  readonly share: RingTensor;
  /** Present exactly in malicious mode. */
  readonly mac: RingTensor | undefined;
}

/** What local (non-interactive) operations need to know about the party. */
export interface ShareHolder {
  /** 0-based party index; party 0 adds public constants to its share. */
  readonly id: number;
  /** This party's share α_i of the MAC key; undefined in semi-honest mode. */
  readonly macKeyShare: bigint | undefined;
}
