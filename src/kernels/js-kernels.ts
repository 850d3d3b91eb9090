/**
 * Executable specification of {@link RingKernels} with BigInt arithmetic. Slow (~0.1 G ops/s);
 * used by tests to cross-check the WebAssembly kernels, never by the engine.
 */
import type { Limbs, RingKernels } from './kernel-api.ts';

const M64 = (1n << 64n) - 1n;
const M128 = (1n << 128n) - 1n;

function get(limbs: Limbs, a: BigUint64Array, i: number): bigint {
  return limbs === 1 ? a[i] : a[2 * i] | (a[2 * i + 1] << 64n);
}
function set(limbs: Limbs, a: BigUint64Array, i: number, v: bigint): void {
  if (limbs === 1) a[i] = v & M64;
  else {
    a[2 * i] = v & M64;
    a[2 * i + 1] = (v >> 64n) & M64;
  }
}
function map2(
  limbs: Limbs,
  a: BigUint64Array,
  b: BigUint64Array,
  out: BigUint64Array | undefined,
  f: (x: bigint, y: bigint) => bigint,
): BigUint64Array {
  const o = out ?? new BigUint64Array(a.length);
  const mask = limbs === 1 ? M64 : M128;
  for (let i = 0; i < a.length / limbs; i++) set(limbs, o, i, f(get(limbs, a, i), get(limbs, b, i)) & mask);
  return o;
}

export const jsKernels: RingKernels = Object.freeze({
  name: 'js-bigint',
  add: (l: Limbs, a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array) => map2(l, a, b, out, (x, y) => x + y),
  sub: (l: Limbs, a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array) => map2(l, a, b, out, (x, y) => x - y),
  mul: (l: Limbs, a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array) => map2(l, a, b, out, (x, y) => x * y),
  neg: (l: Limbs, a: BigUint64Array, out?: BigUint64Array) => map2(l, a, a, out, (x) => -x),
  mulScalar: (l: Limbs, a: BigUint64Array, s: bigint, out?: BigUint64Array) => map2(l, a, a, out, (x) => x * s),
  matmul(l: Limbs, a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): BigUint64Array {
    const c = new BigUint64Array(m * n * l);
    const mask = l === 1 ? M64 : M128;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0n;
        for (let t = 0; t < k; t++) acc = (acc + get(l, a, i * k + t) * get(l, b, t * n + j)) & mask;
        set(l, c, i * n + j, acc);
      }
    }
    return c;
  },
});
