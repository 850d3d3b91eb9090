/**
 * Float64 reference functions the approximations are fitted to and tested against (public
 * computations only; nothing here touches secret data).
 *
 * erf: erf(x) = (2/√π)·e^(−x²)·Σ_n 2^n x^(2n+1)/(1·3·5···(2n+1)) (Abramowitz & Stegun 7.1.6), a
 * series of positive terms (no cancellation), accurate to ≈ 1e−15 for |x| ≤ 6; ±1 beyond
 * (1 − erf(6) < 2.2e−17).
 */

export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 500; n++) {
    term *= (2 * ax * ax) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return (Math.sign(x) * 2 * Math.exp(-ax * ax) * sum) / Math.sqrt(Math.PI);
}

/** GeLU, exact form x·Φ(x) = x/2·(1 + erf(x/√2)) (Hendrycks & Gimpel 2016). */
export function geluErfRef(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** GeLU, tanh form x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))) (GPT-2's "gelu_new"). */
export function geluTanhRef(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** SiLU / swish: x·σ(x) = x/(1 + e^(−x)) (Elfwing et al. 2018). */
export function siluRef(x: number): number {
  return x >= 0 ? x / (1 + Math.exp(-x)) : (x * Math.exp(x)) / (1 + Math.exp(x));
}
