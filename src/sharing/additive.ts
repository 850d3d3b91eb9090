/**
 * Additive secret sharing over Z_2^64 / Z_2^128, and its authenticated (SPDZ2k) variant.
 * These are the dealer-side and test-side operations: split a known value into n shares,
 * reconstruct from all shares. Parties never call `split` on their secrets directly (clients use
 * it to share prompts; the dealer uses seed-compressed variants in preprocessing/).
 */
import { Prg, randomSeed } from '../crypto/prg.ts';
import type { RingTensor } from '../ring/tensor.ts';
import { add, mulScalar, sub, zeros } from '../ring/tensor.ts';
import type { SecretTensor } from './secret-tensor.ts';

/** Splits x into n uniformly random additive shares (n−1 random, the last the correction). */
export function split(x: RingTensor, n: number, prg: Prg = new Prg(randomSeed())): RingTensor[] {
  const shares: RingTensor[] = [];
  let rest = x;
  for (let i = 0; i < n - 1; i++) {
    const s = prg.ringTensor(x.ring, x.shape);
    shares.push(s);
    rest = sub(rest, s);
  }
  shares.push(rest);
  return shares;
}

/** Σ shares. */
export function reconstruct(shares: readonly RingTensor[]): RingTensor {
  return shares.slice(1).reduce((acc, s) => add(acc, s), shares[0]);
}

/** Random MAC key shares α_i ∈ [0, 2^64), one per party. */
export function randomMacKeyShares(n: number, prg: Prg = new Prg(randomSeed())): bigint[] {
  return Array.from(prg.words(n), (w) => w);
}

/** α = Σ α_i (mod 2^128). */
export function macKey(shares: readonly bigint[]): bigint {
  return shares.reduce((a, b) => a + b, 0n) & ((1n << 128n) - 1n);
}

/** Splits x into n SecretTensors; with `alpha` (malicious mode) each carries a MAC share of α·x. */
export function shareTensor(x: RingTensor, n: number, alpha?: bigint, prg?: Prg): SecretTensor[] {
  const shares = split(x, n, prg);
  const macs = alpha === undefined ? undefined : split(mulScalar(x, alpha), n, prg);
  return shares.map((share, i) => ({ shape: x.shape, share, mac: macs?.[i] }));
}

/** Reconstructs the value (ignores MACs; tests and the dealer only). */
export function revealForTest(parts: readonly SecretTensor[]): RingTensor {
  return reconstruct(parts.map((p) => p.share));
}

/** True when Σ mac_i = α·Σ share_i (tests only). */
export function macsConsistent(parts: readonly SecretTensor[], alpha: bigint): boolean {
  const x = revealForTest(parts);
  const m = reconstruct(parts.map((p) => p.mac ?? zeros(x.ring, x.shape)));
  const expected = mulScalar(x, alpha);
  return m.data.every((w, i) => w === expected.data[i]);
}
