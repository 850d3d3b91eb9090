/**
 * A small, bounded DER reader for the few ASN.1 structures the attestation verifiers read
 * themselves: certificate TBS fields and extensions (AMD VCEK/VLEK, Intel PCK SGX extensions) and
 * CRLs (checklist TDX §2.3 step 4). Definite lengths only, single-byte tags, every length checked
 * against its enclosing element; all failures are {@link AttestationError} code `parse`.
 */
import { AttestationError } from './result.ts';

/** One DER element: `tag`, header at `start`, contents `[contentStart, end)`. */
export interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function fail(what: string, field: string): never {
  throw new AttestationError('parse', `malformed DER: ${what}`, field);
}

/** Reads the element at `pos`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, pos: number, limit: number, field = 'der'): Tlv {
  if (pos + 2 > limit || limit > buf.length) fail(`element at ${pos} runs past its container`, field);
  const tag = buf[pos];
  if ((tag & 0x1f) === 0x1f) fail(`multi-byte tag at ${pos}`, field);
  let len = buf[pos + 1];
  let contentStart = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) fail(`unsupported length encoding at ${pos}`, field);
    if (contentStart + n > limit) fail(`length at ${pos} runs past its container`, field);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[contentStart + i];
    contentStart += n;
  }
  const end = contentStart + len;
  if (end > limit) fail(`element at ${pos} (length ${len}) runs past its container`, field);
  return { tag, start: pos, contentStart, end };
}

/** Reads one element that must fill `[pos, limit)` exactly and have tag `tag`. */
export function readExact(buf: Uint8Array, tag: number, field: string, pos = 0, limit = buf.length): Tlv {
  const t = expectTag(readTlv(buf, pos, limit, field), tag, field);
  if (t.end !== limit) fail(`${limit - t.end} trailing bytes`, field);
  return t;
}

/** The child elements of a constructed element. */
export function children(buf: Uint8Array, parent: Tlv, field = 'der'): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end;) {
    const t = readTlv(buf, p, parent.end, field);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** Throws unless `t` has tag `tag`; returns `t`. */
export function expectTag(t: Tlv | undefined, tag: number, field: string): Tlv {
  if (t === undefined) fail(`missing element (tag 0x${tag.toString(16)})`, field);
  if (t.tag !== tag) fail(`expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`, field);
  return t;
}

/** The contents of an element. */
export function contents(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.contentStart, t.end);
}

/** The whole encoding (header and contents) of an element. */
export function encoding(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.start, t.end);
}

/** Dotted string of an OBJECT IDENTIFIER element. */
export function oid(buf: Uint8Array, t: Tlv, field = 'oid'): string {
  const b = contents(buf, expectTag(t, TAG.OID, field));
  if (b.length === 0 || b.length > 64) fail('OID length', field);
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    if (v > 2 ** 40) fail('OID arc too large', field);
    v = v * 128 + (b[i] & 0x7f);
    if ((b[i] & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    } else if (i === b.length - 1) fail('truncated OID', field);
  }
  const first = arcs[0] < 80 ? Math.floor(arcs[0] / 40) : 2;
  return [first, arcs[0] - 40 * first, ...arcs.slice(1)].join('.');
}

/** A non-negative INTEGER (or ENUMERATED) that fits a safe integer. */
export function smallInt(buf: Uint8Array, t: Tlv, field = 'integer'): number {
  if (t.tag !== TAG.INTEGER && t.tag !== TAG.ENUMERATED) expectTag(t, TAG.INTEGER, field);
  const b = contents(buf, t);
  if (b.length === 0 || b.length > 6 || b[0] & 0x80) fail('integer out of range', field);
  return b.reduce((acc, x) => acc * 256 + x, 0);
}

/** Canonical hex of an INTEGER's magnitude (leading zero bytes removed; "00" for zero): serial numbers. */
export function integerHex(buf: Uint8Array, t: Tlv, field = 'integer'): string {
  const b = contents(buf, expectTag(t, TAG.INTEGER, field));
  if (b.length === 0) fail('empty integer', field);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return Buffer.from(b.subarray(i)).toString('hex');
}

/** Milliseconds since the epoch of a UTCTime or GeneralizedTime (`…Z`, whole seconds). */
export function time(buf: Uint8Array, t: Tlv, field = 'time'): number {
  const s = Buffer.from(contents(buf, t)).toString('latin1');
  const m =
    t.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : t.tag === TAG.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (!m) fail(`bad time "${s.slice(0, 20)}"`, field);
  let year = Number(m[1]);
  if (t.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900;
  const [mo, d, h, mi, se] = m.slice(2).map(Number);
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) fail(`bad time "${s}"`, field);
  return ms;
}

/** The bytes of a BIT STRING with no unused bits. */
export function bitStringBytes(buf: Uint8Array, t: Tlv, field = 'bit string'): Uint8Array {
  const b = contents(buf, expectTag(t, TAG.BIT_STRING, field));
  if (b.length === 0 || b[0] !== 0) fail('bit string with unused bits', field);
  return b.subarray(1);
}
