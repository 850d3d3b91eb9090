import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../base/errors.ts';
import { f16ToF32, f32ToBf16, f32ToF16, parseSafetensors, readSafetensorsMetadata, writeSafetensors } from './safetensors.ts';

/** Builds a file from a raw header string and `dataLen` zero bytes of data. */
function craft(header: string, dataLen: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
const throwsMsg = (fn: () => unknown, message: string | RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });

describe('safetensors round trip', () => {
  it('F32: values, shapes, metadata and 8-byte header padding', () => {
    const a = Float32Array.from([1, -2.5, 3.25, 0, -0, 1e-30]);
    const b = Float32Array.from([7]);
    const bytes = writeSafetensors({ a: { shape: [2, 3], data: a }, b: { shape: [1], data: b } }, { format: 'pt' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLen % 8, 0);
    const parsed = parseSafetensors(bytes, 'mem');
    assert.deepEqual([...parsed.keys()], ['a', 'b']);
    assert.deepEqual(parsed.get('a'), { dtype: 'F32', shape: [2, 3], data: a });
    assert.deepEqual(parsed.get('b')?.data, b);
    assert.deepEqual(readSafetensorsMetadata(bytes, 'mem'), { format: 'pt' });
    assert.equal(parsed.get('a')!.data.buffer, bytes.buffer, 'aligned F32 is a zero-copy view');
  });

  it('F16: exact values survive, others round to nearest even', () => {
    const exact = [1, -2, 0.5, 65504, 2 ** -24, -(2 ** -14), 0, Infinity, -Infinity];
    const bytes = writeSafetensors({ h: { shape: [exact.length], data: Float32Array.from(exact), dtype: 'F16' } });
    const t = parseSafetensors(bytes, 'mem').get('h')!;
    assert.equal(t.dtype, 'F16');
    assert.deepEqual([...t.data], exact);
    assert.equal(f32ToF16(1), 0x3c00);
    assert.equal(f32ToF16(-2), 0xc000);
    assert.equal(f32ToF16(0.1), 0x2e66);
    assert.equal(f16ToF32(0x2e66), 0.0999755859375);
    assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00, 'tie rounds to even (down)');
    assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02, 'tie rounds to even (up)');
    assert.equal(f32ToF16(65520), 0x7c00, 'overflow to +Inf');
    assert.equal(f32ToF16(2 ** -25 * 1.5), 0x0001, 'subnormal rounding');
    assert.equal(f32ToF16(2 ** -26), 0x0000, 'underflow to zero');
    assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
    assert.ok(Object.is(f16ToF32(0x8000), -0));
  });

  it('F16 and BF16: decodes hand-written bits', () => {
    const words = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555];
    const raw = new Uint8Array(new Uint16Array(words).buffer);
    const header = JSON.stringify({ h: entry('F16', [6], [0, 12]), b: entry('BF16', [2, 3], [12, 24]) });
    const file = craft(header, 24);
    file.set(raw, file.length - 24);
    file.set(raw, file.length - 12);
    const m = parseSafetensors(file, 'mem');
    assert.deepEqual([...m.get('h')!.data], [1, -2, 65504, 2 ** -24, Infinity, 0.333251953125]);
    // BF16 words are the top halves of float32 bits: 0x3c00 → 2^-7, 0xc000 → -2, 0x3555 → 0x35550000.
    const bf = m.get('b')!;
    assert.deepEqual(bf.shape, [2, 3]);
    assert.equal(bf.data[0], 2 ** -7);
    assert.equal(bf.data[1], -2);
    assert.equal(new Uint32Array(bf.data.buffer)[5], 0x35550000);
  });

  it('BF16: round trip with round-to-nearest-even', () => {
    const exact = [1, -2, 3.140625, 2 ** -130, 0, -Infinity];
    const bytes = writeSafetensors({ b: { shape: [exact.length], data: Float32Array.from(exact), dtype: 'BF16' } });
    assert.deepEqual([...parseSafetensors(bytes, 'mem').get('b')!.data], exact);
    assert.equal(f32ToBf16(1), 0x3f80);
    assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80, 'tie rounds to even (down)');
    assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82, 'tie rounds to even (up)');
    assert.ok(
      Number.isNaN(
        parseSafetensors(writeSafetensors({ n: { shape: [1], data: Float32Array.of(NaN), dtype: 'BF16' } }), 'm').get('n')!.data[0],
      ),
    );
  });

  it('mixed dtypes: an unaligned F32 tensor is copied correctly', () => {
    const h = Float32Array.from([1, 2, 3]);
    const f = Float32Array.from([0.1, -0.2]);
    const bytes = writeSafetensors({ h: { shape: [3], data: h, dtype: 'F16' }, f: { shape: [2], data: f } });
    const m = parseSafetensors(bytes, 'mem');
    assert.deepEqual(m.get('f')!.data, f);
    assert.notEqual(m.get('f')!.data.buffer, bytes.buffer);
  });

  it('scalars and empty tensors', () => {
    const bytes = writeSafetensors({ s: { shape: [], data: Float32Array.of(5) }, e: { shape: [0, 4], data: new Float32Array(0) } });
    const m = parseSafetensors(bytes, 'mem');
    assert.deepEqual(m.get('s')!.data, Float32Array.of(5));
    assert.deepEqual(m.get('e')!.shape, [0, 4]);
  });
});

describe('safetensors validation', () => {
  const good = () =>
    writeSafetensors({ a: { shape: [2], data: Float32Array.of(1, 2) }, b: { shape: [4], data: Float32Array.of(1, 2, 3, 4) } });

  it('rejects a file shorter than the length prefix', () => {
    throwsMsg(
      () => parseSafetensors(new Uint8Array(5), 'f.st'),
      'f.st: not a safetensors file: 5 bytes, expected at least 8 (u64 header length)',
    );
  });

  it('rejects a header length beyond the file', () => {
    const bytes = good();
    new DataView(bytes.buffer).setBigUint64(0, 1_000_000n, true);
    throwsMsg(
      () => parseSafetensors(bytes, 'f.st'),
      `f.st: header length 1000000 (u64 at byte offset 0) extends beyond the file: only ${bytes.length - 8} bytes follow`,
    );
  });

  it('rejects a corrupted header', () => {
    const bytes = good();
    bytes[9] = 0x23; // '#' inside the JSON
    throwsMsg(() => parseSafetensors(bytes, 'f.st'), /^f\.st: corrupted header: bytes 8\.\.\d+ are not valid UTF-8 JSON \(/);
    throwsMsg(
      () => parseSafetensors(craft('[1,2]   ', 0), 'f.st'),
      'f.st: corrupted header: expected a JSON object at byte offset 8, got array of length 2',
    );
  });

  it('rejects a truncated file (last tensor cut short)', () => {
    const bytes = good();
    const cut = bytes.subarray(0, bytes.length - 4);
    throwsMsg(
      () => parseSafetensors(cut, 'f.st'),
      `f.st: truncated tensor b: expected 16 bytes at byte offset ${bytes.length - 16}, file has 12`,
    );
  });

  it('rejects out-of-bounds, overlapping and mis-sized data_offsets', () => {
    const h = (o: object) => JSON.stringify(o);
    throwsMsg(
      () => parseSafetensors(craft(h({ x: entry('F32', [2], [100, 108]) }), 8), 'f.st'),
      /^f\.st: tensor x: data_offsets \[100, 108\] out of bounds: the data section \(byte offsets \d+\.\.\d+\) has 8 bytes$/,
    );
    throwsMsg(
      () => parseSafetensors(craft(h({ x: entry('F32', [2], [0, 4]) }), 8), 'f.st'),
      'f.st: truncated tensor x: expected 8 bytes (shape [2] of F32), file has 4 (data_offsets [0, 4])',
    );
    throwsMsg(
      () => parseSafetensors(craft(h({ x: entry('F16', [2], [0, 8]) }), 8), 'f.st'),
      'f.st: tensor x: data_offsets [0, 8] span 8 bytes, expected 4 (shape [2] of F16)',
    );
    throwsMsg(
      () => parseSafetensors(craft(h({ x: entry('F32', [2], [0, 8]), y: entry('F32', [2], [4, 12]) }), 12), 'f.st'),
      'f.st: tensor y data_offsets [4, 12] overlap tensor x [0, 8]: expected disjoint byte ranges',
    );
    throwsMsg(
      () => parseSafetensors(craft(h({ x: entry('F32', [2], [8, 0]) }), 8), 'f.st'),
      'f.st: tensor x: invalid data_offsets [8,0]: expected [begin, end] with 0 <= begin <= end',
    );
  });

  it('rejects unknown dtypes and bad shapes', () => {
    const h = (o: object) => JSON.stringify(o);
    throwsMsg(
      () => parseSafetensors(craft(h({ ids: entry('I64', [1], [0, 8]) }), 8), 'f.st'),
      'f.st: tensor ids: unknown dtype "I64" (supported: F32, F16, BF16)',
    );
    throwsMsg(
      () => parseSafetensors(craft(h({ x: entry('F32', [-1, 2], [0, 8]) }), 8), 'f.st'),
      'f.st: tensor x: invalid shape [-1,2]: expected a list of non-negative integers',
    );
    throwsMsg(
      () => parseSafetensors(craft(h({ x: entry('F32', [1.5], [0, 8]) }), 8), 'f.st'),
      'f.st: tensor x: invalid shape [1.5]: expected a list of non-negative integers',
    );
    throwsMsg(
      () => parseSafetensors(craft(h({ __metadata__: { n: 1 } }), 0), 'f.st'),
      'f.st: __metadata__ must be an object of strings, got object',
    );
  });

  it('writer rejects data that does not match the shape', () => {
    throwsMsg(
      () => writeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }),
      'writeSafetensors: tensor w has 3 values, expected 4 for shape [2, 2]',
    );
  });
});
