/**
 * Parsing of AWS Nitro Enclaves attestation documents: COSE_Sign1 envelope and NSM payload.
 * Pure structure checks; no cryptography (see verify.ts).
 *
 * Checklist (shared/notes/attestation-verification.md §2.1):
 * 1. size ≤ 16 KiB; CBOR array of 4, tagged (18) or untagged; no trailing bytes ({@link parseCoseSign1});
 * 2. protected header is a bstr decoding to exactly `{1: -35}` (ES384), other algs → `algorithm`;
 *    unprotected header `{}`; signature 96 bytes (raw r‖s);
 * 3. payload field rules ({@link parseNitroPayload}): exactly the known fields; module_id non-empty
 *    text; digest "SHA384"; timestamp uint > 0; pcrs 1..32 entries, keys 0..31, values 32/48/64
 *    bytes; certificate bstr 1..1024; cabundle ≥ 1 bstr of 1..1024; optional public_key (1..1024),
 *    user_data and nonce (0..1024). Real NSM documents encode an absent optional field as CBOR
 *    null, so null is accepted (= absent) for those three fields only.
 */
import { AttestationError } from '../common/result.ts';
import { CborTag, DEFAULT_CBOR_LIMITS, decodeCbor, type CborMap, type CborValue } from './cbor.ts';

/** Largest accepted document (the NSM's own buffer is 16 KiB). */
export const MAX_DOCUMENT_BYTES = 16 * 1024;
/** COSE algorithm identifiers: ES384 is the only accepted one. */
export const COSE_ALG_ES384 = -35;
const COSE_TAG_SIGN1 = 18;
const ALG_NAMES: Record<number, string> = { [-7]: 'ES256', [-35]: 'ES384', [-36]: 'ES512', [-8]: 'EdDSA', [-37]: 'PS256' };

export interface CoseSign1 {
  /** The protected header exactly as signed (bstr contents). */
  protectedBytes: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
}

export interface NitroDocument {
  moduleId: string;
  digest: string;
  timestamp: number;
  /** PCR index → value. */
  pcrs: Map<number, Uint8Array>;
  certificate: Uint8Array;
  /** Root first. */
  cabundle: Uint8Array[];
  publicKey: Uint8Array | undefined;
  userData: Uint8Array | undefined;
  nonce: Uint8Array | undefined;
}

const bad = (msg: string, field?: string): never => {
  throw new AttestationError('parse', msg, field);
};

function bytesField(v: CborValue, field: string, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) return bad('expected a byte string', field);
  if (v.length < min || v.length > max) return bad(`expected ${min}..${max} bytes, got ${v.length}`, field);
  return v;
}

/** Decodes the COSE_Sign1 envelope (checklist 1–2). Throws {@link AttestationError}. */
export function parseCoseSign1(bytes: Uint8Array): CoseSign1 {
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    throw new AttestationError('size', `document is ${bytes.length} bytes, more than the limit of ${MAX_DOCUMENT_BYTES}`);
  }
  let top = decodeCbor(bytes, { ...DEFAULT_CBOR_LIMITS, maxBytes: MAX_DOCUMENT_BYTES });
  if (top instanceof CborTag) {
    if (top.tag !== COSE_TAG_SIGN1) bad(`unexpected CBOR tag ${top.tag} (COSE_Sign1 is 18)`);
    top = top.value;
  }
  if (!Array.isArray(top) || top.length !== 4) return bad('COSE_Sign1 must be a CBOR array of 4 items');
  const [prot, unprot, payload, signature] = top;
  const protectedBytes = bytesField(prot, 'protected', 1, 64);
  const header = decodeCbor(protectedBytes, { maxBytes: 64, maxDepth: 2, maxItems: 16 });
  if (!(header instanceof Map)) return bad('protected header must be a CBOR map', 'protected');
  const alg = header.get(1);
  if (typeof alg !== 'number') return bad('protected header has no integer alg (label 1)', 'protected');
  if (alg !== COSE_ALG_ES384) {
    throw new AttestationError(
      'algorithm',
      `unsupported COSE algorithm ${alg} (${ALG_NAMES[alg] ?? 'unknown'}); only ES384 (-35) is accepted`,
    );
  }
  if (header.size !== 1) bad('protected header must contain only the alg parameter', 'protected');
  if (!(unprot instanceof Map) || unprot.size !== 0) bad('unprotected header must be an empty map', 'unprotected');
  if (!(payload instanceof Uint8Array))
    return bad('payload must be an embedded byte string (detached payloads are not supported)', 'payload');
  if (!(signature instanceof Uint8Array)) return bad('signature must be a byte string', 'signature');
  if (signature.length !== 96) throw new AttestationError('signature', `ES384 signature must be 96 bytes (r‖s), got ${signature.length}`);
  return { protectedBytes, payload, signature };
}

const REQUIRED = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle'];
const OPTIONAL = ['public_key', 'user_data', 'nonce'];

/** Decodes and checks the NSM payload map (checklist 3). Throws {@link AttestationError}. */
export function parseNitroPayload(payload: Uint8Array): NitroDocument {
  const m = decodeCbor(payload, { ...DEFAULT_CBOR_LIMITS, maxBytes: MAX_DOCUMENT_BYTES });
  if (!(m instanceof Map)) return bad('payload must be a CBOR map');
  for (const k of m.keys()) {
    if (typeof k !== 'string' || (!REQUIRED.includes(k) && !OPTIONAL.includes(k))) bad(`unknown payload field ${JSON.stringify(k)}`);
  }
  for (const k of REQUIRED) if (!m.has(k)) bad(`missing required field`, k);
  const moduleId = m.get('module_id');
  if (typeof moduleId !== 'string' || moduleId.length === 0) bad('expected non-empty text', 'module_id');
  const digest = m.get('digest');
  if (digest !== 'SHA384') throw new AttestationError('algorithm', `digest must be "SHA384", got ${JSON.stringify(digest)}`, 'digest');
  const timestamp = m.get('timestamp');
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0)
    bad('expected a positive integer (ms)', 'timestamp');
  const cabundle = m.get('cabundle');
  if (!Array.isArray(cabundle) || cabundle.length === 0) return bad('expected a non-empty array', 'cabundle');
  const optional = (k: string, min: number): Uint8Array | undefined => {
    const v = m.get(k);
    return v === undefined || v === null ? undefined : bytesField(v, k, min, 1024);
  };
  return {
    moduleId: moduleId as string,
    digest: 'SHA384',
    timestamp: timestamp as number,
    pcrs: parsePcrs(m.get('pcrs')),
    certificate: bytesField(m.get('certificate'), 'certificate', 1, 1024),
    cabundle: cabundle.map((c, i) => bytesField(c, `cabundle[${i}]`, 1, 1024)),
    publicKey: optional('public_key', 1),
    userData: optional('user_data', 0),
    nonce: optional('nonce', 0),
  };
}

function parsePcrs(v: CborValue): Map<number, Uint8Array> {
  if (!(v instanceof Map) || v.size < 1 || v.size > 32) return bad('expected a map of 1..32 entries', 'pcrs');
  const out = new Map<number, Uint8Array>();
  for (const [k, x] of v as CborMap) {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > 31) bad(`PCR index ${JSON.stringify(k)} is not in 0..31`, 'pcrs');
    const b = x instanceof Uint8Array ? x : bad(`PCR${k} must be a byte string`, 'pcrs');
    if (![32, 48, 64].includes(b.length)) bad(`PCR${k} must be 32, 48 or 64 bytes, got ${b.length}`, 'pcrs');
    out.set(k as number, b);
  }
  return out;
}
