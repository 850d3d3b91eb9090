/**
 * Wire encoding of ring data: the little-endian bytes of the 64-bit words (zero-copy on
 * little-endian hosts, which is every platform Node supports here).
 */
export function wordsToBytes(words: BigUint64Array): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
}

/** Copies (to get 8-byte alignment) and reinterprets bytes as 64-bit words. */
export function bytesToWords(bytes: Uint8Array, expectedWords?: number): BigUint64Array {
  if (bytes.length % 8 !== 0 || (expectedWords !== undefined && bytes.length !== expectedWords * 8)) {
    const want = expectedWords === undefined ? 'a multiple of 8' : String(expectedWords * 8);
    throw new RangeError(`bytesToWords: got ${bytes.length} bytes, expected ${want}`);
  }
  const copy = bytes.slice();
  return new BigUint64Array(copy.buffer, copy.byteOffset, copy.length / 8);
}
