/**
 * WebAssembly SIMD kernels for Z_2^64 (limbs = 1) and Z_2^128 (limbs = 2), in AssemblyScript.
 * Built by scripts/build-wasm.mjs into build/kernels.wasm and driven by ../wasm-kernels.ts.
 *
 * Every argument named a, b, c, p or out is a byte offset into linear memory, 16-byte aligned.
 * An element is one u64 word (Z_2^64) or two words, low word first (Z_2^128). Matrices are
 * row-major, all arithmetic wraps. Nothing here allocates: the caller lays out operands and
 * scratch above `heapBase()`. Elementwise `out` may equal an input.
 *
 * Why the matmuls split words into 32-bit halves: V8 lowers `i64x2.mul` to about 7 x64
 * instructions, while `i64x2.extmul_*_i32x4_u` (32x32 -> 64) costs 3 and `i32x4.mul` 1.
 * For x = xh·2^32 + xl and y = yh·2^32 + yl,
 *     x·y mod 2^64 = xl·yl + 2^32·(xl·yh + xh·yl mod 2^32),
 * and because sums commute with this split, a dot product keeps one 64-bit accumulator of xl·yl
 * and one 32-bit accumulator of cross terms per column, combined once at the end.
 * Measured (Node 20, AMD EPYC, one thread): about 4.3 G multiply-adds/s on packed B and 3 on raw B,
 * against 2.6 for plain `i64x2.mul`. Z_2^128 uses the same idea with four 32-bit digits
 * (see `Tile.z128`), at about 0.65 G multiply-adds/s.
 *
 * Packed B ("panels"): 64 bytes per row of B per panel, panel after panel, each k rows long;
 * columns past n are zero. Z_2^64 panels hold 8 columns, Z_2^128 panels 4 (see pack64/pack128).
 * Packing costs about one pass over B (0.3 ms for 768x768 Z_2^64) and pays off from about
 * 4 rows of A, or at once when B is reused (pinned).
 */

const M32: u64 = 0xffffffff;
const SIGN: u64 = 0x8000000000000000;
/** 64 bytes of static scratch for partial panels (edge columns). */
const STAGE: usize = memory.data(64, 16);
/**
 * Rows of raw B per pass. Raw B is read 64 (Z_2^64) or 32 (Z_2^128) bytes per row with a stride
 * of a whole row; bounding the rows per pass keeps the pages in the TLB and the lines in L2.
 * Measured on [1,3072]x[3072,768]: 1.3 -> 2.6 G multiply-adds/s. Packed B needs no blocking.
 */
const RAW_ROWS = 256;

/** First free byte of linear memory: the caller's region starts here. */
export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------- elementwise, Z_2^64 (words)

export function add64(a: usize, b: usize, out: usize, words: i32): void {
  const bytes = (<usize>words) << 3;
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) v128.store(out + o, i64x2.add(v128.load(a + o), v128.load(b + o)));
  if (o < bytes) store<u64>(out + o, load<u64>(a + o) + load<u64>(b + o));
}

export function sub64(a: usize, b: usize, out: usize, words: i32): void {
  const bytes = (<usize>words) << 3;
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) v128.store(out + o, i64x2.sub(v128.load(a + o), v128.load(b + o)));
  if (o < bytes) store<u64>(out + o, load<u64>(a + o) - load<u64>(b + o));
}

export function neg64(a: usize, out: usize, words: i32): void {
  const bytes = (<usize>words) << 3;
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) v128.store(out + o, i64x2.neg(v128.load(a + o)));
  if (o < bytes) store<u64>(out + o, 0 - load<u64>(a + o));
}

export function mul64(a: usize, b: usize, out: usize, words: i32): void {
  const bytes = (<usize>words) << 3;
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) v128.store(out + o, i64x2.mul(v128.load(a + o), v128.load(b + o)));
  if (o < bytes) store<u64>(out + o, load<u64>(a + o) * load<u64>(b + o));
}

export function mulScalar64(a: usize, s: u64, out: usize, words: i32): void {
  const bytes = (<usize>words) << 3;
  const sv = i64x2.splat(s);
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) v128.store(out + o, i64x2.mul(v128.load(a + o), sv));
  if (o < bytes) store<u64>(out + o, load<u64>(a + o) * s);
}

// ---------------------------------------------------------------- elementwise, Z_2^128 (elements)

/** High word of the 128-bit product x·y, from 32-bit halves. */
function mulhi64(x: u64, y: u64): u64 {
  const xl = x & M32;
  const xh = x >> 32;
  const yl = y & M32;
  const yh = y >> 32;
  const lh = xl * yh;
  const hl = xh * yl;
  const mid = ((xl * yl) >> 32) + (lh & M32) + (hl & M32);
  return xh * yh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

export function add128(a: usize, b: usize, out: usize, count: i32): void {
  const bytes = (<usize>count) << 4;
  for (let o: usize = 0; o < bytes; o += 16) {
    const a0 = load<u64>(a + o);
    const a1 = load<u64>(a + o, 8);
    const b0 = load<u64>(b + o);
    const b1 = load<u64>(b + o, 8);
    const lo = a0 + b0;
    store<u64>(out + o, lo);
    store<u64>(out + o, a1 + b1 + <u64>(lo < a0), 8);
  }
}

export function sub128(a: usize, b: usize, out: usize, count: i32): void {
  const bytes = (<usize>count) << 4;
  for (let o: usize = 0; o < bytes; o += 16) {
    const a0 = load<u64>(a + o);
    const a1 = load<u64>(a + o, 8);
    const b0 = load<u64>(b + o);
    const b1 = load<u64>(b + o, 8);
    store<u64>(out + o, a0 - b0);
    store<u64>(out + o, a1 - b1 - <u64>(a0 < b0), 8);
  }
}

export function neg128(a: usize, out: usize, count: i32): void {
  const bytes = (<usize>count) << 4;
  for (let o: usize = 0; o < bytes; o += 16) {
    const a0 = load<u64>(a + o);
    const a1 = load<u64>(a + o, 8);
    store<u64>(out + o, 0 - a0);
    store<u64>(out + o, 0 - a1 - <u64>(a0 != 0), 8);
  }
}

export function mul128(a: usize, b: usize, out: usize, count: i32): void {
  const bytes = (<usize>count) << 4;
  for (let o: usize = 0; o < bytes; o += 16) {
    const a0 = load<u64>(a + o);
    const a1 = load<u64>(a + o, 8);
    const b0 = load<u64>(b + o);
    const b1 = load<u64>(b + o, 8);
    store<u64>(out + o, a0 * b0);
    store<u64>(out + o, mulhi64(a0, b0) + a0 * b1 + a1 * b0, 8);
  }
}

export function mulScalar128(a: usize, s0: u64, s1: u64, out: usize, count: i32): void {
  const bytes = (<usize>count) << 4;
  for (let o: usize = 0; o < bytes; o += 16) {
    const a0 = load<u64>(a + o);
    const a1 = load<u64>(a + o, 8);
    store<u64>(out + o, a0 * s0);
    store<u64>(out + o, mulhi64(a0, s0) + a0 * s1 + a1 * s0, 8);
  }
}

// ---------------------------------------------------------------- dot-product tiles

/**
 * The inner loops. `@inline` copies them into each caller, where the `packed` and `accumulate`
 * flags are constants, so each variant gets its own branch-free loop (measured: up to 2x faster
 * than one shared function). Static methods only because prettier rejects decorated functions.
 */
class Tile {
  /**
   * C[0, 0..cols) = A[0, 0..k) · B[0..k, 0..8) for one row of A and 8 columns of B
   * (`accumulate`: C += instead, only with cols = 8).
   * `packed`: B is a panel (rows of [lo c0..3][hi c0..3][lo c4..7][hi c4..7], bStep = 64);
   * otherwise B is raw row-major (bStep = 8n) and split into halves on the fly.
   * Per row of B: 4 extmul + 4 i32x4.mul + 8 adds for 8 multiply-adds.
   */
  @inline static z64(a: usize, b: usize, bStep: usize, c: usize, k: i32, cols: i32, packed: bool, accumulate: bool): void {
    let l0 = i64x2.splat(0);
    let l1 = i64x2.splat(0);
    let l2 = i64x2.splat(0);
    let l3 = i64x2.splat(0);
    let x0 = i64x2.splat(0);
    let x1 = i64x2.splat(0);
    const end = a + ((<usize>k) << 3);
    while (a < end) {
      let lo0: v128, hi0: v128, lo1: v128, hi1: v128;
      if (packed) {
        lo0 = v128.load(b);
        hi0 = v128.load(b, 16);
        lo1 = v128.load(b, 32);
        hi1 = v128.load(b, 48);
      } else {
        const r0 = v128.load(b);
        const r1 = v128.load(b, 16);
        const r2 = v128.load(b, 32);
        const r3 = v128.load(b, 48);
        lo0 = i32x4.shuffle(r0, r1, 0, 2, 4, 6);
        hi0 = i32x4.shuffle(r0, r1, 1, 3, 5, 7);
        lo1 = i32x4.shuffle(r2, r3, 0, 2, 4, 6);
        hi1 = i32x4.shuffle(r2, r3, 1, 3, 5, 7);
      }
      const al = v128.load32_splat(a);
      const ah = v128.load32_splat(a, 4);
      l0 = i64x2.add(l0, i64x2.extmul_low_i32x4_u(al, lo0));
      l1 = i64x2.add(l1, i64x2.extmul_high_i32x4_u(al, lo0));
      x0 = i32x4.add(x0, i32x4.add(i32x4.mul(al, hi0), i32x4.mul(ah, lo0)));
      l2 = i64x2.add(l2, i64x2.extmul_low_i32x4_u(al, lo1));
      l3 = i64x2.add(l3, i64x2.extmul_high_i32x4_u(al, lo1));
      x1 = i32x4.add(x1, i32x4.add(i32x4.mul(al, hi1), i32x4.mul(ah, lo1)));
      a += 8;
      b += bStep;
    }
    let r0 = combine64(l0, x0, false);
    let r1 = combine64(l1, x0, true);
    let r2 = combine64(l2, x1, false);
    let r3 = combine64(l3, x1, true);
    if (accumulate) {
      r0 = i64x2.add(r0, v128.load(c));
      r1 = i64x2.add(r1, v128.load(c, 16));
      r2 = i64x2.add(r2, v128.load(c, 32));
      r3 = i64x2.add(r3, v128.load(c, 48));
    }
    const dst = cols == 8 ? c : STAGE;
    v128.store(dst, r0);
    v128.store(dst, r1, 16);
    v128.store(dst, r2, 32);
    v128.store(dst, r3, 48);
    if (cols != 8) memory.copy(c, STAGE, (<usize>cols) << 3);
  }

  /**
   * C[0, 0..cols) = A[0, 0..k) · B[0..k, 0..2) for one row of A and 2 columns of B (cols ≤ 2;
   * `accumulate`: C += instead, only with cols = 2).
   *
   * With 32-bit digits a = a0 + a1·2^32 + a2·2^64 + a3·2^96 (same for b: d0..d3),
   * a·b mod 2^128 = P + 2^32·(Q + R) + 2^64·S + 2^96·w3, where
   *   P = a0d0, Q = a0d1, R = a1d0 (needed exactly), S = a1d1 + a0d2 + a2d0 (mod 2^64),
   *   w3 = a0d3 + a1d2 + a2d1 + a3d0 (mod 2^32).
   * Summed over k, P and Q + R overflow 64 bits, so their high halves are also summed apart
   * (exact for k < 2^30). B digits come as u01 = [d0 d0' d1 d1'], u23 = [d2 d2' d3 d3'] (' = 2nd
   * column): `packed` loads them from a panel (bStep = 64), otherwise they are shuffled from raw
   * B (bStep = 16n). Per row of B: 6 extmul + 2 i32x4.mul + ~16 other ops for 2 multiply-adds.
   */
  @inline static z128(a: usize, b: usize, bStep: usize, c: usize, k: i32, cols: i32, packed: bool, accumulate: bool): void {
    let L = i64x2.splat(0);
    let Ph = i64x2.splat(0);
    let M = i64x2.splat(0);
    let Qh = i64x2.splat(0);
    let H = i64x2.splat(0);
    let W = i64x2.splat(0);
    const end = a + ((<usize>k) << 4);
    while (a < end) {
      let u01: v128, u23: v128;
      if (packed) {
        u01 = v128.load(b);
        u23 = v128.load(b, 16);
      } else {
        const r0 = v128.load(b);
        const r1 = v128.load(b, 16);
        u01 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
        u23 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
      }
      const av = v128.load(a);
      const a0 = v128.load32_splat(a);
      const a1 = v128.load32_splat(a, 4);
      const a2 = v128.load32_splat(a, 8);
      const P = i64x2.extmul_low_i32x4_u(a0, u01);
      const Q = i64x2.extmul_high_i32x4_u(a0, u01);
      const R = i64x2.extmul_low_i32x4_u(a1, u01);
      L = i64x2.add(L, P);
      Ph = i64x2.add(Ph, i64x2.shr_u(P, 32));
      M = i64x2.add(M, i64x2.add(Q, R));
      Qh = i64x2.add(Qh, i64x2.add(i64x2.shr_u(Q, 32), i64x2.shr_u(R, 32)));
      const S = i64x2.add(i64x2.extmul_high_i32x4_u(a1, u01), i64x2.extmul_low_i32x4_u(a0, u23));
      H = i64x2.add(H, i64x2.add(S, i64x2.extmul_low_i32x4_u(a2, u01)));
      // lanes [a3d0 a3d0' a2d1 a2d1'] + [a1d2 a1d2' a0d3 a0d3']
      const a32 = i32x4.shuffle(av, av, 3, 3, 2, 2);
      const a10 = i32x4.shuffle(av, av, 1, 1, 0, 0);
      W = i32x4.add(W, i32x4.add(i32x4.mul(a32, u01), i32x4.mul(a10, u23)));
      a += 16;
      b += bStep;
    }
    // Sum P = Lx + 2^32·Ph and sum (Q+R) = Mx + 2^32·Qh with Lx, Mx < 2^64, so
    // V = Lx + 2^32·(Ph + Mx) + 2^64·Qh, and Ph + Mx < 3k·2^32 fits in 64 bits.
    const Lx = i64x2.sub(L, i64x2.shl(Ph, 32));
    const mid = i64x2.add(Ph, i64x2.sub(M, i64x2.shl(Qh, 32)));
    let lo = i64x2.add(Lx, i64x2.shl(mid, 32));
    const sign = i64x2.splat(SIGN);
    const carry = i64x2.lt_s(v128.xor(lo, sign), v128.xor(Lx, sign)); // lo <u Lx: -1
    const w = i32x4.add(W, i32x4.shuffle(W, W, 2, 3, 0, 1));
    const w3 = i64x2.shl(i64x2.extend_low_i32x4_u(w), 32);
    let hi = i64x2.sub(i64x2.add(i64x2.add(H, w3), i64x2.add(Qh, i64x2.shr_u(mid, 32))), carry);
    if (accumulate) {
      const c0 = v128.load(c);
      const c1 = v128.load(c, 16);
      const old = i64x2.shuffle(c0, c1, 0, 2);
      const sum = i64x2.add(lo, old);
      const carried = i64x2.lt_s(v128.xor(sum, sign), v128.xor(old, sign));
      hi = i64x2.sub(i64x2.add(hi, i64x2.shuffle(c0, c1, 1, 3)), carried);
      lo = sum;
    }
    v128.store(c, i64x2.shuffle(lo, hi, 0, 2));
    if (cols == 2) v128.store(c, i64x2.shuffle(lo, hi, 1, 3), 16);
  }
}

// ---------------------------------------------------------------- matmul, Z_2^64

/** Columns (c0,c1) or (c2,c3) of a tile: l + (x << 32), x widened from the low/high u32 lanes. */
function combine64(l: v128, x: v128, high: bool): v128 {
  const w = high ? i64x2.extend_high_i32x4_u(x) : i64x2.extend_low_i32x4_u(x);
  return i64x2.add(l, i64x2.shl(w, 32));
}

/** Scalar dot product of a row of A with one column of raw B (edge columns). */
function dotColumn64(a: usize, b: usize, bStep: usize, k: i32): u64 {
  let acc: u64 = 0;
  for (let t = 0; t < k; t++) {
    acc += load<u64>(a + ((<usize>t) << 3)) * load<u64>(b);
    b += bStep;
  }
  return acc;
}

/** C[m,n] = A[m,k]·B[k,n] with B raw row-major. Best below ~4 rows; cost ≈ m·k·n / 3e9 s. */
export function matmul64(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32): void {
  const n8 = (<usize>n) << 3;
  const full = n & ~7;
  for (let i = 0; i < m; i++) {
    const ai = a + ((<usize>i * k) << 3);
    const ci = c + <usize>i * n8;
    for (let t = 0; t < max(k, 1); t += RAW_ROWS) {
      const rows = min(k - t, RAW_ROWS);
      const at = ai + ((<usize>t) << 3);
      const bt = b + <usize>t * n8;
      for (let j = 0; j < full; j += 8) Tile.z64(at, bt + ((<usize>j) << 3), n8, ci + ((<usize>j) << 3), rows, 8, false, t > 0);
    }
    for (let j = full; j < n; j++) store<u64>(ci + ((<usize>j) << 3), dotColumn64(ai, b + ((<usize>j) << 3), n8, k));
  }
}

/** Packs raw B[k,n] into ceil(n/8) panels of k rows: [lo c0..3][hi c0..3][lo c4..7][hi c4..7]. */
export function pack64(b: usize, p: usize, k: i32, n: i32): void {
  const n8 = (<usize>n) << 3;
  for (let j = 0; j < n; j += 8) {
    const cols = min(n - j, 8);
    for (let t = 0; t < k; t++) {
      let src = b + <usize>t * n8 + ((<usize>j) << 3);
      if (cols < 8) {
        memory.fill(STAGE, 0, 64);
        memory.copy(STAGE, src, (<usize>cols) << 3);
        src = STAGE;
      }
      const r0 = v128.load(src);
      const r1 = v128.load(src, 16);
      const r2 = v128.load(src, 32);
      const r3 = v128.load(src, 48);
      v128.store(p, i32x4.shuffle(r0, r1, 0, 2, 4, 6));
      v128.store(p, i32x4.shuffle(r0, r1, 1, 3, 5, 7), 16);
      v128.store(p, i32x4.shuffle(r2, r3, 0, 2, 4, 6), 32);
      v128.store(p, i32x4.shuffle(r2, r3, 1, 3, 5, 7), 48);
      p += 64;
    }
  }
}

/** C[m,n] = A[m,k]·B[k,n] with B packed by pack64. Cost ≈ m·k·n / 4.3e9 s. */
export function matmul64Packed(a: usize, p: usize, c: usize, m: i32, k: i32, n: i32): void {
  for (let j = 0; j < n; j += 8) {
    const cols = min(n - j, 8);
    for (let i = 0; i < m; i++) Tile.z64(a + ((<usize>i * k) << 3), p, 64, c + ((<usize>(i * n + j)) << 3), k, cols, true, false);
    p += (<usize>k) << 6;
  }
}

// ---------------------------------------------------------------- matmul, Z_2^128

/** Scalar dot product of a row of A with one column of raw B (odd last column). */
function dotColumn128(a: usize, b: usize, bStep: usize, k: i32, c: usize): void {
  let lo: u64 = 0;
  let hi: u64 = 0;
  for (let t = 0; t < k; t++) {
    const a0 = load<u64>(a);
    const a1 = load<u64>(a, 8);
    const b0 = load<u64>(b);
    const b1 = load<u64>(b, 8);
    const p = a0 * b0;
    lo += p;
    hi += mulhi64(a0, b0) + a0 * b1 + a1 * b0 + <u64>(lo < p);
    a += 16;
    b += bStep;
  }
  store<u64>(c, lo);
  store<u64>(c, hi, 8);
}

/** C[m,n] = A[m,k]·B[k,n] over Z_2^128 with B raw row-major. Best below ~4 rows; cost ≈ m·k·n / 0.55e9 s. */
export function matmul128(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32): void {
  const n16 = (<usize>n) << 4;
  const full = n & ~1;
  for (let i = 0; i < m; i++) {
    const ai = a + ((<usize>i * k) << 4);
    const ci = c + <usize>i * n16;
    for (let t = 0; t < max(k, 1); t += RAW_ROWS) {
      const rows = min(k - t, RAW_ROWS);
      const at = ai + ((<usize>t) << 4);
      const bt = b + <usize>t * n16;
      for (let j = 0; j < full; j += 2) Tile.z128(at, bt + ((<usize>j) << 4), n16, ci + ((<usize>j) << 4), rows, 2, false, t > 0);
    }
    if (full < n) dotColumn128(ai, b + ((<usize>full) << 4), n16, k, ci + ((<usize>full) << 4));
  }
}

/** Packs raw B[k,n] into ceil(n/4) panels of k rows: [u01 u23 of c0,c1][u01 u23 of c2,c3]. */
export function pack128(b: usize, p: usize, k: i32, n: i32): void {
  const n16 = (<usize>n) << 4;
  for (let j = 0; j < n; j += 4) {
    const cols = min(n - j, 4);
    for (let t = 0; t < k; t++) {
      let src = b + <usize>t * n16 + ((<usize>j) << 4);
      if (cols < 4) {
        memory.fill(STAGE, 0, 64);
        memory.copy(STAGE, src, (<usize>cols) << 4);
        src = STAGE;
      }
      const r0 = v128.load(src);
      const r1 = v128.load(src, 16);
      const r2 = v128.load(src, 32);
      const r3 = v128.load(src, 48);
      v128.store(p, i32x4.shuffle(r0, r1, 0, 4, 1, 5));
      v128.store(p, i32x4.shuffle(r0, r1, 2, 6, 3, 7), 16);
      v128.store(p, i32x4.shuffle(r2, r3, 0, 4, 1, 5), 32);
      v128.store(p, i32x4.shuffle(r2, r3, 2, 6, 3, 7), 48);
      p += 64;
    }
  }
}

/** C[m,n] = A[m,k]·B[k,n] over Z_2^128 with B packed by pack128. Cost ≈ m·k·n / 0.65e9 s. */
export function matmul128Packed(a: usize, p: usize, c: usize, m: i32, k: i32, n: i32): void {
  for (let j = 0; j < n; j += 4) {
    const cols = n - j;
    for (let i = 0; i < m; i++) {
      const ai = a + ((<usize>i * k) << 4);
      const ci = c + ((<usize>(i * n + j)) << 4);
      Tile.z128(ai, p, 64, ci, k, min(cols, 2), true, false);
      if (cols > 2) Tile.z128(ai, p + 32, 64, ci + 32, k, min(cols - 2, 2), true, false);
    }
    p += (<usize>k) << 6;
  }
}
