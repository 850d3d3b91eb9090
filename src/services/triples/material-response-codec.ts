/**
 * MaterialResponse (proto/mpc_prompt/v1/triples.proto) on the wire without the generated codec's
 * copies: the dealt words of a decode step are tens of MB, and the generated ts-proto code copies
 * them about five times on the service (BinaryWriter.raw, the growing buffer's re-allocations,
 * each nested item's join, finish, Buffer.from) and twice on the party (grpc-js assembles the
 * message, then `Buffer.from(reader.bytes())` per field).
 *
 * Encoding ({@link encodeMaterialResponse}): sizes are computed first, then every field is
 * written once into one buffer (grpc-js copies it once more into its frame). Fields go out in
 * field-number order, as the generated encoder writes them, plus `padding` fields (9: 0..7 zero
 * bytes, ignored by every reader): one before the message's `words` and one before each item
 * that carries `words`, so that every such payload starts at an 8-byte-aligned offset for a
 * receiver that holds the message at offset {@link GRPC_MESSAGE_OFFSET} of a fresh buffer — what
 * grpc-js does for messages above 4 KiB (the 5-byte gRPC frame header precedes the message;
 * stream-decoder.js Buffer.concat). Items are written without padding inside, so their sizes do
 * not depend on their position (words of items nested two deep are not aligned; the service
 * sends none). Any protobuf reader decodes the result to the same message.
 * Decoding ({@link decodeMaterialResponse}): bytes fields are views into the received buffer, not
 * copies (triple-client.ts then views `words` as 64-bit words when aligned, else copies once).
 * It accepts what the generated decoder accepts (any field order, repeated fields — the last
 * wins —, unknown fields of wire types 0, 1, 2 and 5, a known field number with another wire type
 * skipped as unknown) and fails where it fails (truncated fields, bad wire types, over-long
 * varints, nesting deeper than 100), with a RangeError naming the byte offset. One difference:
 * a tag with field number 0 is refused here, where the generated decoder silently stops reading
 * the message at it.
 */
import { TripleServiceService, type MaterialResponse } from '../gen/mpc_prompt/v1/triples.ts';

/** Where grpc-js places a received message in its buffer: after the 5-byte frame header. */
export const GRPC_MESSAGE_OFFSET = 5;
const PADDING_FIELD = 9;
const MAX_DEPTH = 100;
const ZERO = Buffer.alloc(0);

const tag = (field: number, wireType: number): number => (field << 3) | wireType;
const TAG = {
  macKeyShare: tag(1, 2),
  seed: tag(2, 2),
  words: tag(3, 2),
  clear: tag(4, 2),
  shapesJson: tag(5, 2),
  error: tag(6, 2),
  errorKind: tag(7, 2),
  items: tag(8, 2),
  padding: tag(PADDING_FIELD, 2),
} as const;

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Bytes of a length-delimited field with a one-byte tag and `len` payload bytes. */
const fieldSize = (len: number): number => 1 + varintSize(len) + len;
const textSize = (s: string): number => (s === '' ? 0 : fieldSize(Buffer.byteLength(s, 'utf8')));

/** Bytes of the fields written before `words` (macKeyShare, seed). */
function headSize(m: MaterialResponse): number {
  return (m.macKeyShare === undefined ? 0 : fieldSize(m.macKeyShare.length)) + (m.seed === undefined ? 0 : fieldSize(m.seed.length));
}

/** Offset of the `words` payload in the unpadded encoding of m (−1: no words). */
function wordsOffset(m: MaterialResponse): number {
  return m.words === undefined ? -1 : headSize(m) + 1 + varintSize(m.words.length);
}

/** Size of m encoded without padding fields (how nested items are encoded). */
function plainSize(m: MaterialResponse, depth: number): number {
  if (depth > MAX_DEPTH) throw new RangeError(`MaterialResponse: nesting deeper than ${MAX_DEPTH}`);
  let n = headSize(m);
  if (m.words !== undefined) n += fieldSize(m.words.length);
  if (m.clear.length !== 0) n += fieldSize(m.clear.length);
  n += textSize(m.shapesJson) + textSize(m.error) + textSize(m.errorKind);
  for (const item of m.items) n += fieldSize(plainSize(item, depth + 1));
  return n;
}

/** Padding-field payload length (0..7) that puts byte `at + 2 + pad` on an 8-byte boundary. */
const padFor = (at: number): number => (8 - ((at + 2) % 8)) % 8;

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  bytes(t: number, b: Uint8Array): void {
    this.buf[this.pos++] = t;
    this.varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  text(t: number, s: string): void {
    if (s === '') return;
    this.buf[this.pos++] = t;
    this.varint(Buffer.byteLength(s, 'utf8'));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  padding(len: number): void {
    this.buf[this.pos++] = TAG.padding;
    this.buf[this.pos++] = len;
    this.buf.fill(0, this.pos, this.pos + len);
    this.pos += len;
  }

  /**
   * m's fields in field-number order. With `offset` (the absolute offset of this.buf[0] at the
   * receiver), `words` and each item's `words` are aligned by a padding field before them; items
   * themselves are written without padding (so their sizes do not depend on where they start).
   */
  message(m: MaterialResponse, offset: number | undefined, depth: number): void {
    if (m.macKeyShare !== undefined) this.bytes(TAG.macKeyShare, m.macKeyShare);
    if (m.seed !== undefined) this.bytes(TAG.seed, m.seed);
    if (m.words !== undefined) {
      if (offset !== undefined) this.padding(padFor(offset + this.pos + 1 + varintSize(m.words.length)));
      this.bytes(TAG.words, m.words);
    }
    if (m.clear.length !== 0) this.bytes(TAG.clear, m.clear);
    this.text(TAG.shapesJson, m.shapesJson);
    this.text(TAG.error, m.error);
    this.text(TAG.errorKind, m.errorKind);
    for (const item of m.items) {
      const size = plainSize(item, depth + 1);
      const rel = wordsOffset(item);
      if (offset !== undefined && rel >= 0) this.padding(padFor(offset + this.pos + 1 + varintSize(size) + rel));
      this.buf[this.pos++] = TAG.items;
      this.varint(size);
      this.message(item, undefined, depth + 1);
    }
  }
}

/** Upper bound of the encoded size: the unpadded size plus 9 bytes per padding field. */
function paddedSizeBound(m: MaterialResponse): number {
  let n = plainSize(m, 0);
  if (m.words !== undefined) n += 9;
  for (const item of m.items) if (item.words !== undefined) n += 9;
  return n;
}

/** The protobuf encoding of `m`, with `words` 8-byte aligned for grpc-js receivers (module doc). */
export function encodeMaterialResponse(m: MaterialResponse): Buffer {
  const w = new Writer(Buffer.allocUnsafe(paddedSizeBound(m)));
  w.message(m, GRPC_MESSAGE_OFFSET, 0);
  return w.buf.subarray(0, w.pos);
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  fail(what: string): never {
    throw new RangeError(`MaterialResponse: ${what} at byte ${this.pos}`);
  }

  varint(): number {
    let v = 0;
    for (let shift = 0, i = 0; i < 10; i++, shift += 7) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      if (shift < 53) v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A length-delimited payload's [start, end). */
  span(): [number, number] {
    const len = this.varint();
    if (len > this.end - this.pos) this.fail(`length ${len} beyond the message`);
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.span();
    else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4;
      if (n > this.end - this.pos) this.fail('truncated fixed-width field');
      this.pos += n;
    } else this.fail(`unsupported wire type ${wireType}`);
  }
}

function readMessage(r: Reader, depth: number): MaterialResponse {
  if (depth > MAX_DEPTH) r.fail(`nesting deeper than ${MAX_DEPTH}`);
  const m: MaterialResponse = { clear: ZERO, shapesJson: '', error: '', errorKind: '', items: [] };
  const bytes = (): Buffer => {
    const [s, e] = r.span();
    return r.buf.subarray(s, e);
  };
  const text = (): string => {
    const [s, e] = r.span();
    return r.buf.toString('utf8', s, e);
  };
  while (r.pos < r.end) {
    const t = r.varint();
    if (t > 0xffffffff) r.fail('tag beyond 32 bits');
    if (t === TAG.macKeyShare) m.macKeyShare = bytes();
    else if (t === TAG.seed) m.seed = bytes();
    else if (t === TAG.words) m.words = bytes();
    else if (t === TAG.clear) m.clear = bytes();
    else if (t === TAG.shapesJson) m.shapesJson = text();
    else if (t === TAG.error) m.error = text();
    else if (t === TAG.errorKind) m.errorKind = text();
    else if (t === TAG.items) {
      const [s, e] = r.span();
      m.items.push(readMessage(new Reader(r.buf, s, e), depth + 1));
    } else {
      if (t >>> 3 === 0) r.fail('field number 0');
      r.skip(t & 7);
    }
  }
  return m;
}

/** Decodes a MaterialResponse; its bytes fields are views into `buf` (no copies). */
export function decodeMaterialResponse(buf: Buffer): MaterialResponse {
  return readMessage(new Reader(buf, 0, buf.length), 1);
}

/** TripleService as generated, with this module's codec for the responses (server and client). */
export const TRIPLE_SERVICE_DEFINITION = {
  material: {
    ...TripleServiceService.material,
    responseSerialize: encodeMaterialResponse,
    responseDeserialize: decodeMaterialResponse,
  },
} as const;
