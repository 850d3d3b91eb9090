/**
 * The encrypted model file (envelope encryption under a KMS data key):
 *
 *   "MPCPENC1" (8 bytes) ‖ u32be headerLength ‖ header (UTF-8 JSON, {@link EnvelopeHeader})
 *   ‖ AES-256-GCM ciphertext of the payload (header.ciphertextLength bytes) ‖ GCM tag (16 bytes)
 *
 * AAD binding: the GCM additional data is the whole prefix `magic ‖ headerLength ‖ header`, so any
 * change to the header (key id, wrapped key, name, size, digest…) fails authentication.
 * The data key is a fresh KMS data key per file (generateDataKey); only its KMS ciphertext blob is
 * stored (header.wrappedKey). The nonce is 12 random bytes (one encryption per key).
 *
 * Payload: a single file's bytes, or for a directory checkpoint the deterministic concatenation
 * "MPCPDIR1" ‖ u32be count ‖ per file, sorted by POSIX relative path (byte order):
 * u32be nameLength ‖ name (UTF-8, '/'-separated) ‖ u64be size ‖ bytes. Only regular files are
 * included (symlinks and other special files are rejected). header.source.sha256 is the SHA-256
 * of the payload. The whole model is held in memory (fine for the checkpoints this project
 * ships; multi-GB models would need a chunked/streamed variant).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import type { Kms } from './kms.ts';

export const MAGIC = 'MPCPENC1';
const DIR_MAGIC = 'MPCPDIR1';
const TAG_BYTES = 16;
const MAX_HEADER = 64 * 1024;

export interface EnvelopeHeader {
  version: 1;
  algorithm: 'AES-256-GCM';
  keyId: string;
  /** KMS CiphertextBlob of the data key (base64). */
  wrappedKey: string;
  /** GCM nonce (hex, 12 bytes). */
  nonce: string;
  /** What was encrypted. */
  source: { kind: 'file' | 'directory'; name: string; size: number; sha256: string; files?: number };
  ciphertextLength: number;
  /** How the AAD is formed (documentation for readers of the file). */
  aad: 'magic||u32be(headerLength)||header';
  createdAt: string;
}

function fail(message: string, field = 'encrypted model'): never {
  throw new ValidationError(message, field);
}

/** Regular files under `dir`, sorted by POSIX relative path. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
      else fail(`${p} is not a regular file or directory (symlinks are not followed)`, '--model');
    }
  };
  walk(dir);
  const rel = out.map((p) => relative(dir, p).split(sep).join('/'));
  return rel.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** The deterministic directory payload (see the module comment). */
export function packDirectory(dir: string): { payload: Buffer; files: number } {
  const names = listFiles(dir);
  const parts: Buffer[] = [Buffer.from(DIR_MAGIC), u32(names.length)];
  for (const name of names) {
    const data = readFileSync(join(dir, ...name.split('/')));
    const n = Buffer.from(name, 'utf8');
    const size = Buffer.alloc(8);
    size.writeBigUInt64BE(BigInt(data.length));
    parts.push(u32(n.length), n, size, data);
  }
  return { payload: Buffer.concat(parts), files: names.length };
}

/** Inverse of {@link packDirectory}: relative path → bytes. */
export function unpackDirectory(payload: Uint8Array): Map<string, Uint8Array> {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (b.length < 12 || b.subarray(0, 8).toString('latin1') !== DIR_MAGIC) fail('payload is not a directory archive (no MPCPDIR1 magic)');
  const count = b.readUInt32BE(8);
  const files = new Map<string, Uint8Array>();
  let p = 12;
  for (let i = 0; i < count; i++) {
    if (p + 4 > b.length) fail(`directory archive truncated in entry ${i}`);
    const nl = b.readUInt32BE(p);
    p += 4;
    if (p + nl + 8 > b.length) fail(`directory archive truncated in entry ${i}`);
    const name = b.subarray(p, p + nl).toString('utf8');
    p += nl;
    const size = Number(b.readBigUInt64BE(p));
    p += 8;
    if (p + size > b.length) fail(`directory archive truncated in ${name}`);
    if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) fail(`unsafe path in directory archive: ${JSON.stringify(name)}`);
    files.set(name, b.subarray(p, p + size));
    p += size;
  }
  if (p !== b.length) fail(`${b.length - p} trailing bytes after the directory archive`);
  return files;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Encrypts a model file or directory under a fresh data key from `kms` (key `keyId`). */
export async function encryptModel(inputPath: string, kms: Kms, keyId: string, now: Date = new Date()): Promise<Uint8Array> {
  let st;
  try {
    st = lstatSync(inputPath);
  } catch (e) {
    fail(`cannot read ${inputPath}: ${(e as Error).message}`, '--model');
  }
  let payload: Buffer;
  let files: number | undefined;
  if (st.isDirectory()) ({ payload, files } = packDirectory(inputPath));
  else if (st.isFile()) payload = readFileSync(inputPath);
  else fail(`${inputPath} is neither a regular file nor a directory`, '--model');
  const { plaintext, ciphertextBlob, keyId: resolvedKeyId } = await kms.generateDataKey(keyId);
  try {
    return sealPayload(payload, {
      key: plaintext,
      keyId: resolvedKeyId,
      wrappedKey: ciphertextBlob,
      source: { kind: files === undefined ? 'file' : 'directory', name: basename(inputPath), files },
      now,
    });
  } finally {
    plaintext.fill(0);
  }
}

/** Encrypts `payload` under `key` with the header fields given (lower level than {@link encryptModel}). */
export function sealPayload(
  payload: Uint8Array,
  o: {
    key: Uint8Array;
    keyId: string;
    wrappedKey: Uint8Array;
    source: { kind: 'file' | 'directory'; name: string; files?: number };
    now: Date;
  },
): Uint8Array {
  if (o.key.length !== 32) fail(`data key has ${o.key.length} bytes, expected 32`, 'dataKey');
  const nonce = randomBytes(12);
  const header: EnvelopeHeader = {
    version: 1,
    algorithm: 'AES-256-GCM',
    keyId: o.keyId,
    wrappedKey: Buffer.from(o.wrappedKey).toString('base64'),
    nonce: nonce.toString('hex'),
    source: {
      kind: o.source.kind,
      name: o.source.name,
      size: payload.length,
      sha256: createHash('sha256').update(payload).digest('hex'),
      ...(o.source.files === undefined ? {} : { files: o.source.files }),
    },
    ciphertextLength: payload.length,
    aad: 'magic||u32be(headerLength)||header',
    createdAt: o.now.toISOString(),
  };
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.concat([Buffer.from(MAGIC), u32(h.length), h]);
  const cipher = createCipheriv('aes-256-gcm', o.key, nonce);
  cipher.setAAD(prefix);
  const ct = Buffer.concat([cipher.update(payload), cipher.final()]);
  return new Uint8Array(Buffer.concat([prefix, ct, cipher.getAuthTag()]));
}

interface Parsed {
  header: EnvelopeHeader;
  prefix: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function parse(bytes: Uint8Array): Parsed {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 12) fail(`file is truncated: ${b.length} bytes, shorter than the 12-byte preamble`);
  if (b.subarray(0, 8).toString('latin1') !== MAGIC)
    fail(`bad magic: expected "${MAGIC}", got ${JSON.stringify(b.subarray(0, 8).toString('latin1'))}`);
  const hl = b.readUInt32BE(8);
  if (hl === 0 || hl > MAX_HEADER) fail(`header length ${hl} out of range (1…${MAX_HEADER})`);
  if (b.length < 12 + hl) fail(`file is truncated inside the header: ${b.length} bytes, header needs ${12 + hl}`);
  let raw: unknown;
  try {
    raw = JSON.parse(b.subarray(12, 12 + hl).toString('utf8'));
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  const header = checkHeader(raw);
  const want = 12 + hl + header.ciphertextLength + TAG_BYTES;
  if (b.length < want)
    fail(`file is truncated: ${b.length} bytes, expected ${want} (header ${hl}, ciphertext ${header.ciphertextLength}, tag 16)`);
  if (b.length > want) fail(`${b.length - want} unexpected trailing bytes after the GCM tag`);
  return {
    header,
    prefix: b.subarray(0, 12 + hl),
    ciphertext: b.subarray(12 + hl, 12 + hl + header.ciphertextLength),
    tag: b.subarray(want - TAG_BYTES, want),
  };
}

function checkHeader(raw: unknown): EnvelopeHeader {
  const h = raw as Partial<EnvelopeHeader> | null;
  if (typeof h !== 'object' || h === null || Array.isArray(h)) fail('header must be a JSON object');
  if (h.version !== 1) fail(`unsupported version ${JSON.stringify(h.version)}, expected 1`, 'header.version');
  if (h.algorithm !== 'AES-256-GCM') fail(`unsupported algorithm ${JSON.stringify(h.algorithm)}`, 'header.algorithm');
  if (typeof h.keyId !== 'string' || h.keyId === '') fail('expected a non-empty string', 'header.keyId');
  if (typeof h.wrappedKey !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(h.wrappedKey)) fail('expected base64', 'header.wrappedKey');
  if (typeof h.nonce !== 'string' || !/^[0-9a-f]{24}$/.test(h.nonce)) fail('expected 24 lower-case hex digits', 'header.nonce');
  if (!Number.isSafeInteger(h.ciphertextLength) || (h.ciphertextLength as number) < 0)
    fail('expected a non-negative integer', 'header.ciphertextLength');
  const s = h.source;
  if (typeof s !== 'object' || s === null) fail('expected an object', 'header.source');
  if (s.kind !== 'file' && s.kind !== 'directory') fail('expected "file" or "directory"', 'header.source.kind');
  if (typeof s.name !== 'string') fail('expected a string', 'header.source.name');
  if (s.size !== h.ciphertextLength) fail(`size ${s.size} differs from ciphertextLength ${h.ciphertextLength}`, 'header.source.size');
  if (typeof s.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(s.sha256)) fail('expected 64 lower-case hex digits', 'header.source.sha256');
  return h as EnvelopeHeader;
}

/** The header of an encrypted model (checks the framing; never decrypts). */
export function inspectEncryptedModel(bytes: Uint8Array): EnvelopeHeader {
  return parse(bytes).header;
}

/** Decrypts an encrypted model with its plaintext data key; returns the header and the payload. */
export function decryptModel(bytes: Uint8Array, dataKey: Uint8Array): { header: EnvelopeHeader; payload: Uint8Array } {
  const { header, prefix, ciphertext, tag } = parse(bytes);
  if (dataKey.length !== 32) fail(`data key has ${dataKey.length} bytes, expected 32`, 'dataKey');
  const d = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(header.nonce, 'hex'));
  d.setAAD(prefix);
  d.setAuthTag(tag);
  let payload: Buffer;
  try {
    payload = Buffer.concat([d.update(ciphertext), d.final()]);
  } catch {
    fail('AES-256-GCM authentication failed: wrong data key, or the header or ciphertext was modified');
  }
  if (createHash('sha256').update(payload).digest('hex') !== header.source.sha256)
    fail('payload SHA-256 differs from header.source.sha256');
  return { header, payload: new Uint8Array(payload) };
}
