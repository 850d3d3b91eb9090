/**
 * Attestation-gated key release (shared/notes/attestation-verification.md §4), modelled on AWS KMS
 * `GenerateDataKey` + `Decrypt` with `Recipient`:
 * - the model owner calls {@link Kms.generateDataKey} and encrypts the model under the plaintext
 *   data key, storing only the CiphertextBlob (envelope.ts);
 * - the enclave generates an RSA key pair, gets a Nitro attestation document with
 *   `public_key = DER SPKI`, and calls {@link Kms.decryptForRecipient}; the KMS verifies the
 *   document (verifyNitro: pinned roots, signature, chain, PCR policy, debug, age) and only then
 *   returns the data key as a CMS EnvelopedData encrypted to that public key (cms.ts);
 * - the enclave opens it with {@link openForRecipient}.
 *
 * {@link LocalKms} is the in-process implementation (keys in memory or in a directory); the
 * AWS JSON-protocol client is in aws.ts. Both throw {@link KeyReleaseDenied} with a stable `code`.
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import { failureCode, type Policy } from '../attestation/common/result.ts';
import { verifyNitro } from '../attestation/nitro/verify.ts';
import { envelopeForRecipient, rsaRecipientKey } from './cms.ts';

export { openForRecipient } from './cms.ts';

/** AWS's only allowed Recipient.KeyEncryptionAlgorithm. */
export const KEY_ENCRYPTION_ALGORITHM = 'RSAES_OAEP_SHA_256';

export interface DataKey {
  keyId: string;
  /** 32-byte AES-256 data key. The caller must wipe it after use. */
  plaintext: Uint8Array;
  /** Opaque KMS ciphertext of the data key (stored in the model file). */
  ciphertextBlob: Uint8Array;
}

export interface Kms {
  generateDataKey(keyId: string): Promise<DataKey>;
  /** Returns the data key as CiphertextForRecipient (CMS EnvelopedData) for the document's `public_key`. */
  decryptForRecipient(
    ciphertextBlob: Uint8Array,
    attestationDocument: Uint8Array,
  ): Promise<{ keyId: string; ciphertextForRecipient: Uint8Array }>;
}

/**
 * Why a release was refused: an {@link AttestationErrorCode} from verifyNitro (`signature`,
 * `root-not-pinned`, `expired`, `policy-debug`, `policy-measurement`, …) or a KMS-level code:
 * `not-found` (unknown key), `recipient` (no usable RSA public_key in the document),
 * `key-policy` (the key's policy cannot release), `ciphertext` (blob malformed or not ours).
 */
export class KeyReleaseDenied extends ValidationError {
  override readonly name: string = 'KeyReleaseDenied';
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`, 'kms');
    this.code = code;
  }
}

/** Release conditions of one key (the analogue of an AWS key policy with RecipientAttestation conditions). */
export interface KeyPolicy {
  /** Appraisal: expectedMeasurements must include PCR0 (else nothing is released); allowDebug; maxAgeMs. */
  policy: Policy;
  /** Pinned root fingerprints (SHA-256 of DER, hex); e.g. AWS_NITRO_ROOT_G1_SHA256 or a dev provider's rootSha256. */
  roots: string[];
}

export interface AuditEntry {
  time: string;
  operation: 'CreateKey' | 'PutKeyPolicy' | 'GenerateDataKey' | 'Decrypt';
  keyId: string;
  decision: 'allow' | 'deny';
  /** `ok` or the refusal `<code>: <reason>`. */
  reason: string;
  /** Attestation facts (never secrets): module id, PCR0, root fingerprint, SHA-256 of the recipient SPKI. */
  moduleId?: string;
  pcr0?: string;
  rootSha256?: string;
  recipientSpkiSha256?: string;
}

interface StoredKey {
  material: string; // hex, 32 bytes
  keyPolicy: KeyPolicy;
  createdAt: string;
}

const BLOB_VERSION = 1;
const KEYS_FILE = 'keys.json';
const AUDIT_FILE = 'audit.jsonl';

export interface LocalKmsOptions {
  /** Persist keys (keys.json, mode 0600) and the audit log (audit.jsonl) here; default in memory only. */
  dir?: string;
  /** Clock used for document verification and audit time stamps (injected). */
  now?: () => Date;
}

/** In-process KMS. Key material never leaves it except wrapped (blob) or as a data key for a verified recipient. */
export class LocalKms implements Kms {
  readonly audit: AuditEntry[] = [];
  private readonly keys = new Map<string, StoredKey>();
  private readonly dir: string | undefined;
  private readonly now: () => Date;

  constructor(opts: LocalKmsOptions = {}) {
    this.dir = opts.dir;
    this.now = opts.now ?? (() => new Date());
    if (this.dir && existsSync(join(this.dir, KEYS_FILE))) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(join(this.dir, KEYS_FILE), 'utf8'));
      } catch (e) {
        throw new ValidationError(`cannot read ${KEYS_FILE}: ${(e as Error).message}`, 'kms-dir');
      }
      const keys = (raw as { keys?: Record<string, StoredKey> }).keys;
      if (typeof keys !== 'object' || keys === null) throw new ValidationError(`${KEYS_FILE} has no "keys" object`, 'kms-dir');
      for (const [id, k] of Object.entries(keys)) {
        if (!/^[0-9a-f]{64}$/.test(k.material)) throw new ValidationError(`key ${id}: material must be 64 hex digits`, 'kms-dir');
        this.keys.set(id, k);
      }
    }
  }

  hasKey(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Creates a key with a release policy (throws if it exists). */
  createKey(keyId: string, keyPolicy: KeyPolicy = { policy: {}, roots: [] }): void {
    if (!/^[A-Za-z0-9:/_.-]{1,256}$/.test(keyId)) throw new ValidationError('expected 1–256 characters of [A-Za-z0-9:/_.-]', 'keyId');
    if (this.keys.has(keyId)) throw new ValidationError(`key ${keyId} already exists`, 'keyId');
    this.keys.set(keyId, {
      material: randomBytes(32).toString('hex'),
      keyPolicy: structuredClone(keyPolicy),
      createdAt: this.now().toISOString(),
    });
    this.persist();
    this.record({ operation: 'CreateKey', keyId, decision: 'allow', reason: 'ok' });
  }

  /** Replaces a key's release policy (e.g. on a new enclave image: PCR0 changes with every rebuild). */
  putKeyPolicy(keyId: string, keyPolicy: KeyPolicy): void {
    const k = this.keys.get(keyId);
    if (!k) throw new KeyReleaseDenied('not-found', `no key ${keyId}`);
    k.keyPolicy = structuredClone(keyPolicy);
    this.persist();
    this.record({ operation: 'PutKeyPolicy', keyId, decision: 'allow', reason: 'ok' });
  }

  getKeyPolicy(keyId: string): KeyPolicy | undefined {
    const k = this.keys.get(keyId);
    return k && structuredClone(k.keyPolicy);
  }

  async generateDataKey(keyId: string): Promise<DataKey> {
    const k = this.keys.get(keyId);
    if (!k) {
      this.record({ operation: 'GenerateDataKey', keyId, decision: 'deny', reason: `not-found: no key ${keyId}` });
      throw new KeyReleaseDenied('not-found', `no key ${keyId}`);
    }
    const plaintext = new Uint8Array(randomBytes(32));
    const ciphertextBlob = wrap(keyId, Buffer.from(k.material, 'hex'), plaintext);
    this.record({ operation: 'GenerateDataKey', keyId, decision: 'allow', reason: 'ok' });
    return { keyId, plaintext, ciphertextBlob };
  }

  async decryptForRecipient(
    ciphertextBlob: Uint8Array,
    attestationDocument: Uint8Array,
  ): Promise<{ keyId: string; ciphertextForRecipient: Uint8Array }> {
    const facts: Partial<AuditEntry> = {};
    let keyId = '?';
    const deny = (code: string, message: string): never => {
      this.record({ operation: 'Decrypt', keyId, decision: 'deny', reason: `${code}: ${message}`, ...facts });
      throw new KeyReleaseDenied(code, message);
    };
    const parsed = parseBlob(ciphertextBlob);
    if (typeof parsed === 'string') return deny('ciphertext', parsed);
    keyId = parsed.keyId;
    const k = this.keys.get(keyId);
    if (!k) return deny('not-found', `no key ${keyId}`);
    const { policy, roots } = k.keyPolicy;
    if (!policy.expectedMeasurements?.PCR0) return deny('key-policy', `the policy of key ${keyId} pins no PCR0; nothing is released`);
    if (roots.length === 0) return deny('key-policy', `the policy of key ${keyId} pins no attestation root`);
    const result = verifyNitro(attestationDocument, { now: this.now(), roots, policy });
    const d = result.details ?? {};
    if (typeof d.moduleId === 'string') facts.moduleId = d.moduleId;
    if (result.measurements.PCR0) facts.pcr0 = result.measurements.PCR0;
    if (typeof d.rootSha256 === 'string') facts.rootSha256 = d.rootSha256;
    if (!result.valid) return deny(failureCode(result) ?? 'parse', result.reason.replace(/^[a-z-]+: /, ''));
    if (typeof d.publicKey !== 'string' || d.publicKey === '') return deny('recipient', 'the attestation document has no public_key');
    const spki = Buffer.from(d.publicKey, 'hex');
    facts.recipientSpkiSha256 = createHash('sha256').update(spki).digest('hex');
    try {
      rsaRecipientKey(spki);
    } catch (e) {
      return deny('recipient', (e as Error).message);
    }
    const dataKey = unwrap(parsed, Buffer.from(k.material, 'hex'));
    if (!dataKey) return deny('ciphertext', 'the ciphertext blob does not authenticate under this key');
    try {
      const ciphertextForRecipient = envelopeForRecipient(dataKey, spki);
      this.record({ operation: 'Decrypt', keyId, decision: 'allow', reason: result.reason, ...facts });
      return { keyId, ciphertextForRecipient };
    } finally {
      dataKey.fill(0);
    }
  }

  private record(e: Omit<AuditEntry, 'time'>): void {
    const entry: AuditEntry = { time: this.now().toISOString(), ...e };
    this.audit.push(entry);
    if (this.dir) appendFileSync(join(this.dir, AUDIT_FILE), JSON.stringify(entry) + '\n', { mode: 0o600 });
  }

  private persist(): void {
    if (!this.dir) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, KEYS_FILE);
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, keys: Object.fromEntries(this.keys) }, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  }
}

// Blob: u8 version ‖ u16be keyIdLength ‖ keyId ‖ nonce (12) ‖ AES-256-GCM(master, data key) (32) ‖ tag (16);
// AAD = version ‖ keyIdLength ‖ keyId (the key id is bound, like AWS's blob that names its key).
interface ParsedBlob {
  keyId: string;
  aad: Buffer;
  nonce: Buffer;
  ct: Buffer;
  tag: Buffer;
}

function wrap(keyId: string, master: Buffer, plaintext: Uint8Array): Uint8Array {
  const id = Buffer.from(keyId, 'utf8');
  const aad = Buffer.concat([Buffer.from([BLOB_VERSION, id.length >> 8, id.length & 0xff]), id]);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', master, nonce);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return new Uint8Array(Buffer.concat([aad, nonce, ct, c.getAuthTag()]));
}

function parseBlob(blob: Uint8Array): ParsedBlob | string {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 3 || b[0] !== BLOB_VERSION) return `not a LocalKms ciphertext blob (version byte ${b[0]})`;
  const n = b.readUInt16BE(1);
  if (b.length !== 3 + n + 12 + 32 + 16) return `ciphertext blob has ${b.length} bytes, expected ${3 + n + 60}`;
  return {
    keyId: b.subarray(3, 3 + n).toString('utf8'),
    aad: b.subarray(0, 3 + n),
    nonce: b.subarray(3 + n, 15 + n),
    ct: b.subarray(15 + n, 47 + n),
    tag: b.subarray(47 + n),
  };
}

function unwrap(p: ParsedBlob, master: Buffer): Buffer | undefined {
  try {
    const d = createDecipheriv('aes-256-gcm', master, p.nonce);
    d.setAAD(p.aad);
    d.setAuthTag(p.tag);
    return Buffer.concat([d.update(p.ct), d.final()]);
  } catch {
    return undefined;
  }
}

/** Reads the key id named in a LocalKms ciphertext blob (undefined if it is not one). */
export function keyIdOfBlob(blob: Uint8Array): string | undefined {
  const p = parseBlob(blob);
  return typeof p === 'string' ? undefined : p.keyId;
}
