/**
 * {@link RingKernels} on WebAssembly SIMD: build/kernels.wasm, compiled from
 * assembly/kernels.ts by `npm run build:wasm`, loaded synchronously on first use.
 *
 * Each call copies its operands into the module's linear memory, runs one kernel and copies the
 * result out (into `out` when given). The copies cost about as much as elementwise work itself,
 * and O(k·n) next to the O(m·k·n) of a matmul: for a Z_2^64 [1,768]x[768,768] they take ~45%
 * of the 0.36 ms. For a B reused across calls (weights), {@link pinMatrix} keeps it resident and
 * packed, so {@link matmulPinned} only copies A in and C out (0.14 ms for that product).
 *
 * Linear memory: [static data | pinned matrices, first fit | scratch of the current call].
 * It grows on demand and never shrinks (WebAssembly cannot), so its size is the high-water mark.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Limbs, MatrixPins, PinnedMatrix, RingKernels } from './kernel-api.ts';

export type { PinnedMatrix } from './kernel-api.ts';

/** `wasmKernels.matmul` split into its steps; the operands are already copied in. */
export interface StagedMatmul {
  /** Runs the kernel on the resident operands (no copies); may be repeated. */
  run(): void;
  /** Copies C out. */
  result(): BigUint64Array;
}

// ------------------------------------------------------------------ module and memory bookkeeping

// The project's `lib` has no WebAssembly types: declare the few used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
};

type Ptr = number;
type Binary = (a: Ptr, b: Ptr, out: Ptr, count: number) => void;
type Matmul = (a: Ptr, b: Ptr, c: Ptr, m: number, k: number, n: number) => void;
type Pack = (b: Ptr, p: Ptr, k: number, n: number) => void;
type Bits = 64 | 128;
interface Exports {
  memory: WasmMemory;
  heapBase(): Ptr;
  add64: Binary;
  add128: Binary;
  sub64: Binary;
  sub128: Binary;
  mul64: Binary;
  mul128: Binary;
  neg64(a: Ptr, out: Ptr, count: number): void;
  neg128(a: Ptr, out: Ptr, count: number): void;
  mulScalar64(a: Ptr, s: bigint, out: Ptr, count: number): void;
  mulScalar128(a: Ptr, s0: bigint, s1: bigint, out: Ptr, count: number): void;
  matmul64: Matmul;
  matmul128: Matmul;
  matmul64Packed: Matmul;
  matmul128Packed: Matmul;
  pack64: Pack;
  pack128: Pack;
}

const WASM_URL = new URL('../../build/kernels.wasm', import.meta.url);
const PAGE = 65536;
const ALIGN = 64;
/** From this many rows of A, packing B first is faster than the raw-B kernel (measured). */
const PACK_MIN_ROWS = 4;

let wasm: Exports | undefined;
/** Live pinned matrices, sorted by offset. */
const pinned: Block[] = [];
interface Block extends PinnedMatrix {
  readonly offset: Ptr;
  readonly bytes: number;
}

function load(): Exports {
  if (wasm) return wasm;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(WASM_URL);
  } catch (err) {
    throw new Error(`cannot read ${fileURLToPath(WASM_URL)}: run \`npm run build:wasm\``, { cause: err });
  }
  wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as Exports;
  return wasm;
}

const align = (x: number): number => Math.ceil(x / ALIGN) * ALIGN;

function ensureMemory(end: number): void {
  const memory = load().memory;
  const missing = end - memory.buffer.byteLength;
  if (missing <= 0) return;
  try {
    memory.grow(Math.ceil(missing / PAGE));
  } catch (err) {
    throw new RangeError(`wasm memory cannot grow to ${end} bytes`, { cause: err });
  }
}

/** Offsets of consecutive regions of the given byte sizes above the pinned matrices. */
function scratch(...sizes: number[]): Ptr[] {
  const last = pinned.at(-1);
  let at = last ? align(last.offset + last.bytes) : align(load().heapBase());
  const offsets = sizes.map((size) => {
    const offset = at;
    at = align(at + size);
    return offset;
  });
  ensureMemory(at);
  return offsets;
}

function view(offset: Ptr, words: number): BigUint64Array {
  return new BigUint64Array(load().memory.buffer, offset, words);
}

function copyIn(offset: Ptr, src: BigUint64Array): void {
  view(offset, src.length).set(src);
}

function copyOut(offset: Ptr, words: number, out?: BigUint64Array): BigUint64Array {
  if (!out) return view(offset, words).slice();
  out.set(view(offset, words));
  return out;
}

// ------------------------------------------------------------------ argument checks

function checkLimbs(limbs: Limbs): void {
  if (limbs !== 1 && limbs !== 2) throw new RangeError(`limbs: expected 1 or 2, got ${limbs}`);
}

function checkArray(name: string, array: BigUint64Array): void {
  if (!(array instanceof BigUint64Array)) throw new TypeError(`${name}: expected BigUint64Array`);
}

function checkWords(name: string, array: BigUint64Array, words: number): void {
  checkArray(name, array);
  if (array.length !== words) throw new RangeError(`${name}: expected ${words} words, got ${array.length}`);
}

function checkDim(name: string, x: number): void {
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`${name}: expected integer >= 0, got ${x}`);
}

// ------------------------------------------------------------------ operations

/**
 * Largest operand a call copies into wasm memory at once, in bytes: larger elementwise operands
 * go through in chunks, larger unpinned matmul B operands in row blocks, and pins are packed in
 * row blocks. Scratch therefore stays a few tens of MB above the pinned matrices, whatever the
 * operand sizes (wasm memory never shrinks, so one large call would hold its scratch for good).
 */
export const SCRATCH_CHUNK_BYTES = 1 << 25;

/** Elementwise op on a (and b): operands copied in chunk by chunk, computed in place of a, copied out. */
function elementwise(
  limbs: Limbs,
  a: BigUint64Array,
  b: BigUint64Array | undefined,
  out: BigUint64Array | undefined,
  kernel: (ex: Exports, pa: Ptr, pb: Ptr, count: number) => void,
): BigUint64Array {
  checkLimbs(limbs);
  checkArray('a', a);
  if (a.length % limbs !== 0) throw new RangeError(`a: ${a.length} words is not a multiple of limbs=${limbs}`);
  if (b) checkWords('b', b, a.length);
  if (out) checkWords('out', out, a.length);
  const step = Math.min(a.length, SCRATCH_CHUNK_BYTES / 8);
  const [pa, pb] = scratch(step * 8, b ? step * 8 : 0);
  const result = out ?? new BigUint64Array(a.length);
  // Each chunk is read in full before its part of `out` is written, so out may alias a or b.
  for (let off = 0; off < a.length; off += step) {
    const end = Math.min(a.length, off + step);
    copyIn(pa, a.subarray(off, end));
    if (b) copyIn(pb, b.subarray(off, end));
    kernel(load(), pa, pb, (end - off) / limbs);
    result.set(view(pa, end - off), off);
  }
  return result;
}

const bitsOf = (limbs: Limbs): Bits => (limbs === 1 ? 64 : 128);

function binary(op: 'add' | 'sub' | 'mul') {
  return (limbs: Limbs, a: BigUint64Array, b: BigUint64Array, out?: BigUint64Array): BigUint64Array =>
    elementwise(limbs, a, b, out, (ex, pa, pb, count) => ex[`${op}${bitsOf(limbs)}`](pa, pb, pa, count));
}

/** Bytes of B packed into panels: 64 bytes per row per panel of 8/limbs columns. */
const packedBytes = (limbs: Limbs, k: number, n: number): number => k * Math.ceil((n * limbs) / 8) * 64;

/**
 * Copies A and B (unless pinned) into wasm memory and returns the compute step and the copy-out
 * separately, so a benchmark can time the kernel with resident operands. Valid until the next
 * call into this module. With a pinned B, k and n must match it.
 */
export function stageMatmul(
  limbs: Limbs,
  a: BigUint64Array,
  b: BigUint64Array | PinnedMatrix,
  m: number,
  k: number,
  n: number,
): StagedMatmul {
  checkLimbs(limbs);
  checkDim('m', m);
  checkDim('k', k);
  checkDim('n', n);
  checkWords('a', a, m * k * limbs);
  const bits = bitsOf(limbs);
  const ex = load();
  const words = m * n * limbs;
  let run: () => void;
  if (b instanceof BigUint64Array) {
    checkWords('b', b, k * n * limbs);
    const packed = m >= PACK_MIN_ROWS;
    const [pa, pb, pp, pc] = scratch(a.byteLength, b.byteLength, packed ? packedBytes(limbs, k, n) : 0, words * 8);
    copyIn(pa, a);
    copyIn(pb, b);
    run = packed
      ? () => {
          ex[`pack${bits}`](pb, pp, k, n);
          ex[`matmul${bits}Packed`](pa, pp, pc, m, k, n);
        }
      : () => ex[`matmul${bits}`](pa, pb, pc, m, k, n);
    return { run, result: () => copyOut(pc, words) };
  }
  const block = b as Block;
  if (!pinned.includes(block)) throw new Error('matmulPinned: matrix is not pinned (unpinned already?)');
  if (block.limbs !== limbs || block.k !== k || block.n !== n) {
    throw new RangeError(`pinned matrix is [${block.k},${block.n}] limbs=${block.limbs}, expected [${k},${n}] limbs=${limbs}`);
  }
  const [pa, pc] = scratch(a.byteLength, words * 8);
  copyIn(pa, a);
  run = () => ex[`matmul${bits}Packed`](pa, block.offset, pc, m, k, n);
  return { run, result: () => copyOut(pc, words) };
}

/**
 * Copies B[k,n] into wasm memory once, packed for {@link matmulPinned}. Costs one copy and one
 * pass over B, plus k·n·limbs·8 bytes of wasm memory (rounded up to whole panels) until unpinned.
 */
export function pinMatrix(limbs: Limbs, b: BigUint64Array, k: number, n: number): PinnedMatrix {
  checkLimbs(limbs);
  checkDim('k', k);
  checkDim('n', n);
  checkWords('b', b, k * n * limbs);
  const block = reservePinned(limbs, k, n);
  try {
    writePinnedRows(block, 0, b);
  } catch (err) {
    unpin(block); // no half-pinned block on failure
    throw err;
  }
  return block;
}

/**
 * Reserves wasm memory (first fit among the pinned matrices) for a packed [k, n] B whose rows
 * {@link writePinnedRows} then fills, so B never has to exist whole outside wasm memory.
 * Throws a RangeError when wasm memory cannot grow.
 */
export function reservePinned(limbs: Limbs, k: number, n: number): PinnedMatrix {
  checkLimbs(limbs);
  checkDim('k', k);
  checkDim('n', n);
  const bytes = packedBytes(limbs, k, n);
  let offset = align(load().heapBase());
  let index = 0;
  for (; index < pinned.length && pinned[index].offset - offset < bytes; index++) {
    offset = align(pinned[index].offset + pinned[index].bytes);
  }
  ensureMemory(offset + bytes);
  const block: Block = Object.freeze({ limbs, k, n, offset, bytes });
  pinned.splice(index, 0, block);
  return block;
}

/** Packs rows [start, start + r) of a reserved B from `rows` ([r, n] row-major words). */
export function writePinnedRows(b: PinnedMatrix, start: number, rows: BigUint64Array): void {
  const block = b as Block;
  if (!pinned.includes(block)) throw new Error('writePinnedRows: matrix is not pinned (unpinned already?)');
  const { limbs, k, n, offset } = block;
  checkArray('rows', rows);
  const width = n * limbs;
  const count = width === 0 ? 0 : rows.length / width;
  if (!Number.isInteger(count) || !Number.isInteger(start) || start < 0 || start + count > k)
    throw new RangeError(`writePinnedRows: ${rows.length} words at row ${start} do not fit a [${k},${n}] matrix of limbs=${limbs}`);
  // Row blocks are packed in scratch and their panel rows copied into place (panel p holds rows
  // 0..k-1 of its columns at offset + p·k·64, 64 bytes per row).
  const panels = Math.ceil(width / 8);
  const step = Math.max(1, Math.min(count, Math.floor(SCRATCH_CHUNK_BYTES / Math.max(1, width * 8))));
  const [pb, pp] = scratch(step * width * 8, packedBytes(limbs, step, n));
  const memory = new Uint8Array(load().memory.buffer);
  for (let r = 0; r < count; r += step) {
    const kc = Math.min(step, count - r);
    const t0 = start + r;
    copyIn(pb, rows.subarray(r * width, (r + kc) * width));
    load()[`pack${bitsOf(limbs)}`](pb, pp, kc, n);
    if (kc === k) memory.copyWithin(offset, pp, pp + block.bytes);
    else for (let p = 0; p < panels; p++) memory.copyWithin(offset + (p * k + t0) * 64, pp + p * kc * 64, pp + (p + 1) * kc * 64);
  }
}

/** C[m,n] = A[m,k] · B with a pinned B: copies only A in and C out. */
export function matmulPinned(limbs: Limbs, a: BigUint64Array, b: PinnedMatrix, m: number): BigUint64Array {
  const staged = stageMatmul(limbs, a, b, m, b.k, b.n);
  staged.run();
  return staged.result();
}

/**
 * Copies a pinned Z_2^64 matrix back out of its panels (the inverse of pack64): the raw B[k,n]
 * row-major words. For the rare use of a matrix kept only in wasm memory.
 */
export function readPinned(b: PinnedMatrix): BigUint64Array {
  const block = b as Block;
  if (!pinned.includes(block)) throw new Error('readPinned: matrix is not pinned (unpinned already?)');
  if (block.limbs !== 1) throw new RangeError('readPinned: Z_2^64 matrices only');
  const { k, n } = block;
  const out = new BigUint64Array(k * n);
  const o32 = new Uint32Array(out.buffer);
  const p32 = new Uint32Array(load().memory.buffer, block.offset, block.bytes / 4);
  // Panel j/8, row t: 16 words [lo c0..3][hi c0..3][lo c4..7][hi c4..7].
  for (let j = 0; j < n; j += 8) {
    const cols = Math.min(8, n - j);
    const panel = (j / 8) * k * 16;
    for (let t = 0; t < k; t++) {
      const base = panel + 16 * t;
      const row = 2 * (t * n + j);
      for (let c = 0; c < cols; c++) {
        const at = base + (c < 4 ? c : 4 + c);
        o32[row + 2 * c] = p32[at];
        o32[row + 2 * c + 1] = p32[at + 4];
      }
    }
  }
  return out;
}

/** Releases a pinned matrix's wasm memory for reuse. Using it afterwards throws. */
export function unpin(b: PinnedMatrix): void {
  const index = pinned.indexOf(b as Block);
  if (index < 0) throw new Error('unpin: matrix is not pinned (unpinned already?)');
  pinned.splice(index, 1);
}

/**
 * C = A·B for a B larger than {@link SCRATCH_CHUNK_BYTES}: C = Σ_blocks A[:, rows]·B[rows, :],
 * each block's product added into C in wasm memory (mod 2^64 / 2^128, so exact). The same
 * multiplications as one call, plus copying A's column blocks.
 */
function matmulRowBlocks(limbs: Limbs, a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): BigUint64Array {
  checkLimbs(limbs);
  checkDim('m', m);
  checkDim('k', k);
  checkDim('n', n);
  checkWords('a', a, m * k * limbs);
  checkWords('b', b, k * n * limbs);
  const bits = bitsOf(limbs);
  const ex = load();
  const rows = Math.max(1, Math.floor(SCRATCH_CHUNK_BYTES / (n * limbs * 8)));
  const packed = m >= PACK_MIN_ROWS;
  const words = m * n * limbs;
  const [pa, pb, pp, pc, pt] = scratch(
    m * rows * limbs * 8,
    rows * n * limbs * 8,
    packed ? packedBytes(limbs, rows, n) : 0,
    words * 8,
    words * 8,
  );
  view(pc, words).fill(0n);
  const aBlock = new BigUint64Array(m * rows * limbs);
  for (let t0 = 0; t0 < k; t0 += rows) {
    const kc = Math.min(rows, k - t0);
    for (let i = 0; i < m; i++) aBlock.set(a.subarray((i * k + t0) * limbs, (i * k + t0 + kc) * limbs), i * kc * limbs);
    copyIn(pa, aBlock.subarray(0, m * kc * limbs));
    copyIn(pb, b.subarray(t0 * n * limbs, (t0 + kc) * n * limbs));
    if (packed) {
      ex[`pack${bits}`](pb, pp, kc, n);
      ex[`matmul${bits}Packed`](pa, pp, pt, m, kc, n);
    } else ex[`matmul${bits}`](pa, pb, pt, m, kc, n);
    ex[`add${bits}`](pc, pt, pc, m * n);
  }
  return copyOut(pc, words);
}

export const wasmKernels: RingKernels = Object.freeze({
  name: 'wasm-simd',
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  neg: (limbs: Limbs, a: BigUint64Array, out?: BigUint64Array) =>
    elementwise(limbs, a, undefined, out, (ex, pa, _pb, count) => ex[`neg${bitsOf(limbs)}`](pa, pa, count)),
  mulScalar(limbs: Limbs, a: BigUint64Array, s: bigint, out?: BigUint64Array): BigUint64Array {
    if (typeof s !== 'bigint') throw new TypeError(`s: expected bigint, got ${typeof s}`);
    const s0 = BigInt.asUintN(64, s);
    const s1 = BigInt.asUintN(64, s >> 64n);
    return elementwise(limbs, a, undefined, out, (ex, pa, _pb, count) =>
      limbs === 1 ? ex.mulScalar64(pa, s0, pa, count) : ex.mulScalar128(pa, s0, s1, pa, count),
    );
  },
  matmul(limbs: Limbs, a: BigUint64Array, b: BigUint64Array, m: number, k: number, n: number): BigUint64Array {
    if (b.byteLength > SCRATCH_CHUNK_BYTES && k > 1) return matmulRowBlocks(limbs, a, b, m, k, n);
    const staged = stageMatmul(limbs, a, b, m, k, n);
    staged.run();
    return staged.result();
  },
});

/** {@link MatrixPins} in wasm memory: the functions above. */
export const wasmPins: MatrixPins = Object.freeze({
  name: 'wasm-simd',
  pin: pinMatrix,
  reserve: reservePinned,
  writeRows: writePinnedRows,
  matmul: matmulPinned,
  read: readPinned,
  unpin,
});
