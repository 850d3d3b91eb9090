/**
 * Seeded, NON-CRYPTOGRAPHIC pseudo-random numbers for training the default model (weight
 * initialisation and data sampling). Determinism is the point: the same seed gives the same
 * numbers and therefore byte-identical model files. Never use this for anything secret
 * (shares, MAC keys, protocol randomness): that is node:crypto's job.
 */

/** A stream of uniform numbers in [0, 1) and helpers, all derived from one 32-bit state. */
export interface TrainingPrng {
  /** Uniform in [0, 1) (32 bits). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal N(0, 1) (Box–Muller, one value per call). */
  gaussian(): number;
}

/** mulberry32 (Tommy Ettinger): tiny, fast, good enough for SGD — not for secrets. */
export function trainingPrng(seed: number): TrainingPrng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    gaussian: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}

/** An independent stream for purpose `k` of run `seed` (so data and init do not share numbers). */
export function substreamSeed(seed: number, k: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
