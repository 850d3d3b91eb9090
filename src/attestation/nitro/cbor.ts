/**
 * A small, bounded CBOR (RFC 8949) decoder and encoder for attestation documents.
 *
 * Checklist (shared/notes/attestation-verification.md §2.1 step 1): bounded input size, nesting
 * depth and item count; definite lengths only; every claimed length is checked against the bytes
 * that remain before anything is allocated, so hostile input can neither exhaust memory nor hang;
 * no trailing bytes; map keys must be integers or text and unique; text must be valid UTF-8.
 * Floats, indefinite lengths and unassigned simple values are rejected (NSM documents use none).
 * Every failure is an {@link AttestationError} with code `parse` (or `size` for oversized input).
 */
import { AttestationError } from '../common/result.ts';

export type CborKey = number | string;
export type CborValue = number | bigint | string | Uint8Array | boolean | null | undefined | CborValue[] | CborMap | CborTag;
export type CborMap = Map<CborKey, CborValue>;

/** A tagged item (major type 6). */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

export interface CborLimits {
  maxBytes: number;
  maxDepth: number;
  maxItems: number;
}

export const DEFAULT_CBOR_LIMITS: CborLimits = { maxBytes: 16 * 1024, maxDepth: 16, maxItems: 4096 };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes exactly one CBOR item spanning all of `bytes`. Throws {@link AttestationError}. */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits = DEFAULT_CBOR_LIMITS): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new AttestationError('parse', 'CBOR input must be bytes');
  if (bytes.length > limits.maxBytes)
    throw new AttestationError('size', `input is ${bytes.length} bytes, more than the limit of ${limits.maxBytes}`);
  if (bytes.length === 0) throw new AttestationError('parse', 'empty CBOR input');
  let pos = 0;
  let items = 0;
  const fail = (msg: string): never => {
    throw new AttestationError('parse', `CBOR: ${msg} at offset ${pos}`);
  };
  const need = (n: number): void => {
    if (n > bytes.length - pos) fail(`truncated input (need ${n} more bytes, ${bytes.length - pos} left)`);
  };
  const readArg = (info: number): number => {
    if (info < 24) return info;
    if (info > 27) return fail(info === 31 ? 'indefinite lengths are not supported' : `reserved additional info ${info}`);
    const n = 1 << (info - 24);
    need(n);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(bytes[pos++]);
    // Only values up to 2^53-1 are representable; larger ones cannot be valid lengths or NSM fields.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? fail('integer larger than 2^53-1') : Number(v);
  };
  const item = (depth: number): CborValue => {
    if (depth > limits.maxDepth) fail(`nesting deeper than ${limits.maxDepth}`);
    if (++items > limits.maxItems) fail(`more than ${limits.maxItems} items`);
    need(1);
    const ib = bytes[pos++];
    const major = ib >> 5;
    const info = ib & 31;
    switch (major) {
      case 0:
        return readArg(info);
      case 1:
        return -1 - readArg(info);
      case 2:
      case 3: {
        const n = readArg(info);
        need(n);
        const chunk = new Uint8Array(bytes.subarray(pos, pos + n)); // a plain copy, even for Buffer input
        pos += n;
        if (major === 2) return chunk;
        try {
          return utf8.decode(chunk);
        } catch {
          return fail('invalid UTF-8 in text string');
        }
      }
      case 4: {
        const n = readArg(info);
        if (n > bytes.length - pos) fail(`array of ${n} items cannot fit in ${bytes.length - pos} bytes`);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = readArg(info);
        if (2 * n > bytes.length - pos) fail(`map of ${n} entries cannot fit in ${bytes.length - pos} bytes`);
        const out: CborMap = new Map();
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (typeof k !== 'number' && typeof k !== 'string') fail('map key must be an integer or a text string');
          if (out.has(k as CborKey)) fail(`duplicate map key ${JSON.stringify(k)}`);
          out.set(k as CborKey, item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = readArg(info);
        return new CborTag(tag, item(depth + 1));
      }
      default: {
        const simple: Record<number, CborValue> = { 20: false, 21: true, 22: null, 23: undefined };
        if (info in simple) return simple[info];
        return fail(info >= 25 && info <= 27 ? 'floating-point values are not supported' : `unsupported simple value ${info}`);
      }
    }
  };
  const value = item(0);
  if (pos !== bytes.length) fail(`${bytes.length - pos} trailing bytes after the CBOR item`);
  return value;
}

function head(major: number, n: number | bigint): number[] {
  const v = BigInt(n);
  const m = major << 5;
  if (v < 24n) return [m | Number(v)];
  const size = v < 0x100n ? 1 : v < 0x10000n ? 2 : v < 0x100000000n ? 4 : 8;
  const out = [m | (24 + Math.log2(size))];
  for (let i = size - 1; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
  return out;
}

/** Encodes a value (integers, bigint, text, bytes, booleans, null, arrays, Maps, plain objects, tags). */
export function encodeCbor(value: CborValue | Record<string, CborValue>): Uint8Array {
  const parts: Uint8Array[] = [];
  const put = (v: unknown): void => {
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new TypeError(`cannot encode non-integer number ${v}`);
      const b = BigInt(v);
      parts.push(Uint8Array.from(b >= 0n ? head(0, b) : head(1, -1n - b)));
    } else if (typeof v === 'string') {
      const t = new TextEncoder().encode(v);
      parts.push(Uint8Array.from(head(3, t.length)), t);
    } else if (v instanceof Uint8Array) {
      parts.push(Uint8Array.from(head(2, v.length)), v);
    } else if (typeof v === 'boolean' || v === null || v === undefined) {
      parts.push(Uint8Array.of(v === false ? 0xf4 : v === true ? 0xf5 : v === null ? 0xf6 : 0xf7));
    } else if (Array.isArray(v)) {
      parts.push(Uint8Array.from(head(4, v.length)));
      v.forEach(put);
    } else if (v instanceof CborTag) {
      parts.push(Uint8Array.from(head(6, v.tag)));
      put(v.value);
    } else {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
      parts.push(Uint8Array.from(head(5, entries.length)));
      for (const [k, x] of entries) {
        put(k);
        put(x);
      }
    }
  };
  put(value);
  return new Uint8Array(Buffer.concat(parts));
}
