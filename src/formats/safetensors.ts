/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors).
 *
 * Layout: `u64` little-endian header length N, then N bytes of UTF-8 JSON mapping each tensor
 * name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the first byte after
 * the header) plus an optional `__metadata__` string map, then the raw little-endian data.
 *
 * The reader accepts F32, F16 and BF16 and returns every tensor as a `Float32Array`. F32 data
 * is a zero-copy view into `bytes` when aligned (copy it before mutating either); F16/BF16 are
 * converted into fresh arrays. Every header field is validated before any data is touched.
 */
import { ValidationError } from '../base/errors.ts';
import { describe } from '../base/validate.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** Bytes per element of each supported dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2 };

export interface SafetensorsTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A tensor to write; `dtype` defaults to F32 (F16/BF16 round to nearest even). */
export interface SafetensorsInput {
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly dtype?: SafetensorsDtype;
}

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Parses a whole safetensors file. `source` (usually the path) is used in error messages. */
export function parseSafetensors(bytes: Uint8Array, source: string): Map<string, SafetensorsTensor> {
  const { header, dataStart } = readHeader(bytes, source);
  const dataLen = bytes.length - dataStart;
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name !== '__metadata__') entries.push(checkEntry(name, info, dataStart, dataLen, source));
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const [prev, cur] = [sorted[i - 1], sorted[i]];
    if (cur.begin < prev.end) {
      throw new ValidationError(
        `${source}: tensor ${cur.name} data_offsets [${cur.begin}, ${cur.end}] overlap tensor ${prev.name} ` +
          `[${prev.begin}, ${prev.end}]: expected disjoint byte ranges`,
      );
    }
  }
  const out = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    out.set(e.name, { dtype: e.dtype, shape: e.shape, data: decode(bytes, dataStart + e.begin, e.numel, e.dtype) });
  }
  return out;
}

/** The `__metadata__` string map of a safetensors file, if any. */
export function readSafetensorsMetadata(bytes: Uint8Array, source: string): Record<string, string> | undefined {
  const meta = readHeader(bytes, source).header['__metadata__'];
  return meta === undefined ? undefined : (meta as Record<string, string>);
}

/** Serialises tensors (in insertion order) with a space-padded header whose length is a multiple of 8. */
export function writeSafetensors(tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  let offset = 0;
  const parts: { begin: number; t: SafetensorsInput; dtype: SafetensorsDtype }[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const dtype = t.dtype ?? 'F32';
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new ValidationError(
        `writeSafetensors: tensor ${name} has ${t.data.length} values, expected ${numel} for shape [${t.shape.join(', ')}]`,
      );
    }
    const size = numel * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    parts.push({ begin: offset, t, dtype });
    offset += size;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  const pad = (8 - (encoder.encode(json).length % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = encoder.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const base = 8 + headerBytes.length;
  for (const { begin, t, dtype } of parts) {
    for (let i = 0; i < t.data.length; i++) {
      const at = base + begin + i * DTYPE_BYTES[dtype];
      if (dtype === 'F32') view.setFloat32(at, t.data[i], true);
      else view.setUint16(at, dtype === 'F16' ? f32ToF16(t.data[i]) : f32ToBf16(t.data[i]), true);
    }
  }
  return out;
}

/** IEEE 754 binary16 bits → number. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** number → binary16 bits, rounding to nearest even (overflow → ±Inf, NaN stays NaN). */
export function f32ToF16(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  let man = bits & 0x7fffff;
  if (((bits >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    man |= 0x800000;
    const shift = 14 - exp;
    const rem = man & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    let r = man >>> shift;
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (exp << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++; // a carry into the exponent is correct
  return sign | r;
}

/** number → bfloat16 bits (the top half of the float32), rounding to nearest even. */
export function f32ToBf16(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0];
  if (Number.isNaN(x)) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

function readHeader(bytes: Uint8Array, source: string): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) {
    throw new ValidationError(`${source}: not a safetensors file: ${bytes.length} bytes, expected at least 8 (u64 header length)`);
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    throw new ValidationError(
      `${source}: header length ${n} (u64 at byte offset 0) extends beyond the file: only ${bytes.length - 8} bytes follow`,
    );
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new ValidationError(`${source}: header length ${n} at byte offset 0 exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const len = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + len)));
  } catch (e) {
    throw new ValidationError(`${source}: corrupted header: bytes 8..${8 + len} are not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) {
    throw new ValidationError(`${source}: corrupted header: expected a JSON object at byte offset 8, got ${describe(header)}`);
  }
  const meta = header['__metadata__'];
  if (meta !== undefined && !(isRecord(meta) && Object.values(meta).every((v) => typeof v === 'string'))) {
    throw new ValidationError(`${source}: __metadata__ must be an object of strings, got ${describe(meta)}`);
  }
  return { header, dataStart: 8 + len };
}

function checkEntry(name: string, info: unknown, dataStart: number, dataLen: number, source: string): Entry {
  const where = `${source}: tensor ${name}`;
  if (!isRecord(info)) throw new ValidationError(`${where}: header entry must be an object, got ${describe(info)}`);
  const dtype = info['dtype'];
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw new ValidationError(`${where}: unknown dtype ${describe(dtype)} (supported: F32, F16, BF16)`);
  }
  const shape = info['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    const shown = Array.isArray(shape) && shape.length <= 8 ? JSON.stringify(shape) : describe(shape);
    throw new ValidationError(`${where}: invalid shape ${shown}: expected a list of non-negative integers`);
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const offsets = info['data_offsets'];
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    const shown = Array.isArray(offsets) && offsets.length <= 4 ? JSON.stringify(offsets) : describe(offsets);
    throw new ValidationError(`${where}: invalid data_offsets ${shown}: expected [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = numel * DTYPE_BYTES[dtype as SafetensorsDtype];
  const needs = `shape [${shape.join(', ')}] of ${dtype}`;
  if (end > dataLen) {
    if (begin <= dataLen && end - begin === expected) {
      throw new ValidationError(
        `${source}: truncated tensor ${name}: expected ${expected} bytes at byte offset ${dataStart + begin}, file has ${dataLen - begin}`,
      );
    }
    throw new ValidationError(
      `${where}: data_offsets [${begin}, ${end}] out of bounds: the data section (byte offsets ${dataStart}..${dataStart + dataLen}) has ${dataLen} bytes`,
    );
  }
  if (end - begin < expected) {
    throw new ValidationError(
      `${source}: truncated tensor ${name}: expected ${expected} bytes (${needs}), file has ${end - begin} (data_offsets [${begin}, ${end}])`,
    );
  }
  if (end - begin > expected) {
    throw new ValidationError(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, expected ${expected} (${needs})`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], numel, begin, end };
}

/** binary16 bits → float32, built on first use (256 KiB). */
let f16Table: Float32Array | undefined;

function decode(bytes: Uint8Array, offset: number, numel: number, dtype: SafetensorsDtype): Float32Array {
  const abs = bytes.byteOffset + offset;
  if (dtype === 'F32' && LITTLE_ENDIAN && abs % 4 === 0) return new Float32Array(bytes.buffer, abs, numel);
  const view = new DataView(bytes.buffer, abs, numel * DTYPE_BYTES[dtype]);
  const out = new Float32Array(numel);
  if (dtype === 'F32') {
    for (let i = 0; i < numel; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === 'F16') {
    const table = (f16Table ??= Float32Array.from({ length: 65536 }, (_, h) => f16ToF32(h)));
    for (let i = 0; i < numel; i++) out[i] = table[view.getUint16(2 * i, true)];
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < numel; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
