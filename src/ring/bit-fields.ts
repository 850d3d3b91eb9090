/**
 * Bit fields of the low 64-bit word of every element, as used by masked truncation and
 * comparison: msb = bit 63 and high = ⌊(w mod 2^63) / 2^shift⌋, computed on 32-bit halves
 * (no BigInt per element). Results are ring elements of the input's ring (upper limbs zero).
 */
import type { RingTensor } from './tensor.ts';
import { sizeOf, zeros } from './tensor.ts';

export function msbAndHigh(t: RingTensor, shift: number): { msb: RingTensor; high: RingTensor } {
  if (!(Number.isInteger(shift) && shift >= 0 && shift <= 63)) throw new RangeError(`msbAndHigh: shift must be in [0, 63], got ${shift}`);
  const size = sizeOf(t.shape);
  const l = t.ring.limbs;
  const msb = zeros(t.ring, [size]);
  const high = zeros(t.ring, [size]);
  const src = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length * 2);
  const m32 = new Uint32Array(msb.data.buffer);
  const h32 = new Uint32Array(high.data.buffer);
  for (let i = 0; i < size; i++) {
    const at = 2 * l * i;
    const lo = src[at];
    const hi = src[at + 1];
    m32[at] = hi >>> 31;
    // ⌊(w mod 2^63) / 2^shift⌋ as 32-bit halves
    const hi63 = hi & 0x7fffffff;
    if (shift === 0) {
      h32[at] = lo;
      h32[at + 1] = hi63;
    } else if (shift < 32) {
      h32[at] = ((lo >>> shift) | (hi63 << (32 - shift))) >>> 0;
      h32[at + 1] = hi63 >>> shift;
    } else h32[at] = hi63 >>> (shift - 32);
  }
  return { msb, high };
}
