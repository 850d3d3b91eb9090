import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MaterialResponse } from '../gen/mpc_prompt/v1/triples.ts';
import { decodeMaterialResponse, encodeMaterialResponse, GRPC_MESSAGE_OFFSET } from './material-response-codec.ts';

/** A message as plain data (bytes as arrays, no padding), for deep comparison. */
interface Plain {
  macKeyShare?: number[];
  seed?: number[];
  words?: number[];
  clear: number[];
  shapesJson: string;
  error: string;
  errorKind: string;
  items: Plain[];
}

function plain(m: MaterialResponse): Plain {
  return {
    ...(m.macKeyShare !== undefined ? { macKeyShare: [...m.macKeyShare] } : {}),
    ...(m.seed !== undefined ? { seed: [...m.seed] } : {}),
    ...(m.words !== undefined ? { words: [...m.words] } : {}),
    clear: [...m.clear],
    shapesJson: m.shapesJson,
    error: m.error,
    errorKind: m.errorKind,
    items: m.items.map(plain),
  };
}

const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const optionalBytes = (max: number): fc.Arbitrary<Buffer | undefined> => fc.option(bytes(max), { nil: undefined });

function message(items: fc.Arbitrary<MaterialResponse[]>): fc.Arbitrary<MaterialResponse> {
  return fc.record({
    macKeyShare: optionalBytes(20),
    seed: optionalBytes(20),
    // Lengths around the one-byte varint boundary (127/128) and beyond.
    words: fc.option(
      fc.oneof(
        bytes(40),
        fc.integer({ min: 120, max: 140 }).map((n) => Buffer.alloc(n, 7)),
        fc.integer({ min: 16_380, max: 16_390 }).map((n) => Buffer.alloc(n, 9)),
      ),
      { nil: undefined },
    ),
    clear: bytes(24),
    shapesJson: fc.string({ unit: 'grapheme', maxLength: 12 }),
    error: fc.string({ maxLength: 8 }),
    errorKind: fc.constantFrom('', 'desync', 'internal'),
    items,
  });
}

const leaf = message(fc.constant([]));
const messages = message(fc.array(leaf, { maxLength: 5 }));

/** Frames `enc` as grpc-js holds a received message: after a 5-byte header in a fresh buffer. */
function asReceived(enc: Uint8Array): Buffer {
  const framed = Buffer.alloc(GRPC_MESSAGE_OFFSET + enc.length);
  framed.set(enc, GRPC_MESSAGE_OFFSET);
  return framed.subarray(GRPC_MESSAGE_OFFSET);
}

describe('MaterialResponse codec', () => {
  test('round-trips against the generated codec in both directions', () => {
    fc.assert(
      fc.property(messages, (m) => {
        const ours = encodeMaterialResponse(m);
        assert.deepEqual(plain(MaterialResponse.decode(ours)), plain(m), 'generated decoder reads our encoding');
        assert.deepEqual(plain(decodeMaterialResponse(ours)), plain(m), 'our decoder reads our encoding');
        const generated = Buffer.from(MaterialResponse.encode(m).finish());
        assert.deepEqual(plain(decodeMaterialResponse(generated)), plain(m), 'our decoder reads the generated encoding');
      }),
      { numRuns: 300 },
    );
  });

  test('puts every words payload (top level and items) at an 8-byte-aligned offset as grpc-js receives it', () => {
    fc.assert(
      fc.property(messages, (m) => {
        const got = decodeMaterialResponse(asReceived(encodeMaterialResponse(m)));
        for (const r of [got, ...got.items]) if (r.words !== undefined) assert.equal(r.words.byteOffset % 8, 0);
      }),
      { numRuns: 300 },
    );
  });

  test('decodes bytes fields as views of the received buffer (no copies)', () => {
    const words = Buffer.alloc(4096, 3);
    const received = asReceived(
      encodeMaterialResponse({ words, clear: Buffer.alloc(0), shapesJson: '[[512]]', error: '', errorKind: '', items: [] }),
    );
    const got = decodeMaterialResponse(received);
    assert.equal(got.words?.buffer, received.buffer);
    assert.deepEqual(got.words, words);
  });

  test('skips unknown fields of every wire type and lets the last occurrence of a field win', () => {
    const w = Buffer.from([
      0x12,
      1,
      0xaa, // seed = [aa]
      0x58,
      0x96,
      0x01, // field 11, varint 150
      0x61,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 12, fixed64
      0x6d,
      1,
      2,
      3,
      4, // field 13, fixed32
      0x72,
      2,
      0xff,
      0xfe, // field 14, bytes
      0x1a,
      0, // words = [] (wire type of a known field)
      0x12,
      1,
      0xbb, // seed again: the last wins
    ]);
    const got = decodeMaterialResponse(w);
    assert.deepEqual(plain(got), plain(MaterialResponse.decode(w)));
    assert.deepEqual([...(got.seed ?? [])], [0xbb]);
    assert.deepEqual([...(got.words ?? [1])], []);
  });

  test('every truncation of a valid encoding fails where the generated decoder fails, else decodes the same', () => {
    fc.assert(
      fc.property(messages, fc.nat(), (m, cutSeed) => {
        const enc = encodeMaterialResponse(m);
        const cut = enc.length === 0 ? 0 : cutSeed % enc.length;
        const prefix = Buffer.from(enc.subarray(0, cut));
        let want: Plain | undefined;
        try {
          want = plain(MaterialResponse.decode(prefix));
        } catch {
          want = undefined;
        }
        if (want === undefined) assert.throws(() => decodeMaterialResponse(prefix), RangeError);
        else assert.deepEqual(plain(decodeMaterialResponse(prefix)), want);
      }),
      { numRuns: 500 },
    );
  });

  test('refuses malformed input with the byte offset', () => {
    const cases: [string, number[], RegExp][] = [
      ['a length beyond the message', [0x1a, 5, 1, 2], /length 5 beyond the message at byte 2/],
      ['a truncated varint', [0x1a, 0x80], /truncated varint at byte 2/],
      ['an 11-byte varint', [0x58, ...Array<number>(10).fill(0x80), 1], /varint longer than 10 bytes/],
      ['a group (wire type 3)', [0x5b], /unsupported wire type 3 at byte 1/],
      ['wire type 7', [0x5f], /unsupported wire type 7/],
      ['field number 0', [0x02, 0], /field number 0 at byte 1/],
      ['a truncated fixed64', [0x61, 1, 2], /truncated fixed-width field/],
      ['a malformed item', [0x42, 2, 0x1a, 9], /length 9 beyond the message at byte 4/],
    ];
    for (const [what, b, re] of cases) assert.throws(() => decodeMaterialResponse(Buffer.from(b)), re, what);
  });

  test('refuses nesting deeper than 100 messages, as the generated decoder', () => {
    const nested = (wraps: number): Buffer => {
      let enc = Buffer.alloc(0);
      for (let i = 0; i < wraps; i++) enc = Buffer.concat([Buffer.from([0x42, ...varint(enc.length)]), enc]);
      return enc;
    };
    assert.doesNotThrow(() => decodeMaterialResponse(nested(99)));
    assert.doesNotThrow(() => MaterialResponse.decode(nested(99)));
    assert.throws(() => decodeMaterialResponse(nested(100)), /nesting deeper than 100/);
    assert.throws(() => MaterialResponse.decode(nested(100)), /recursion limit/);
  });
});

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}
