/**
 * mpc-prompt model encrypt --model PATH --out FILE [--kms-dir DIR] [--key-id ID] [--policy FILE]
 *   Encrypts a model file or checkpoint directory under a fresh data key from the local KMS in
 *   DIR (default .mpc-prompt/kms), creating key ID (default "model") if needed. --policy (JSON:
 *   {"roots": [sha256hex...], "expectedMeasurements": {"PCR0": hex...}, "allowDebug": false,
 *   "maxAgeMs": n}) sets the release policy of a new key; without it the key releases nothing
 *   until a policy is set.
 * mpc-prompt model inspect FILE [--json]
 *   Prints the header (key id, algorithm, wrapped key, source name/size/SHA-256); never decrypts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ValidationError } from '../base/errors.ts';
import { encryptModel, inspectEncryptedModel } from '../kms/envelope.ts';
import { LocalKms, type KeyPolicy } from '../kms/kms.ts';

const USAGE =
  'usage: mpc-prompt model encrypt --model PATH --out FILE [--kms-dir DIR] [--key-id ID] [--policy FILE] | model inspect FILE [--json]';

function readPolicy(path: string): KeyPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ValidationError(`cannot read a JSON policy from ${path}: ${(e as Error).message}`, '--policy');
  }
  const p = raw as { roots?: unknown; expectedMeasurements?: unknown; allowDebug?: unknown; maxAgeMs?: unknown };
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new ValidationError('expected a JSON object', '--policy');
  if (!Array.isArray(p.roots) || !p.roots.every((r) => typeof r === 'string' && /^[0-9a-fA-F]{64}$/.test(r)))
    throw new ValidationError('roots must be an array of SHA-256 hex fingerprints', '--policy.roots');
  const m = p.expectedMeasurements as Record<string, unknown> | undefined;
  if (typeof m !== 'object' || m === null || typeof m.PCR0 !== 'string')
    throw new ValidationError('expectedMeasurements must be an object with at least PCR0 (hex)', '--policy.expectedMeasurements');
  if (p.allowDebug !== undefined && typeof p.allowDebug !== 'boolean')
    throw new ValidationError('expected a boolean', '--policy.allowDebug');
  if (p.maxAgeMs !== undefined && !(Number.isSafeInteger(p.maxAgeMs) && (p.maxAgeMs as number) > 0))
    throw new ValidationError('expected a positive integer', '--policy.maxAgeMs');
  return {
    roots: (p.roots as string[]).map((r) => r.toLowerCase()),
    policy: {
      expectedMeasurements: m as Record<string, string>,
      ...(p.allowDebug === undefined ? {} : { allowDebug: p.allowDebug }),
      ...(p.maxAgeMs === undefined ? {} : { maxAgeMs: p.maxAgeMs as number }),
    },
  };
}

export async function modelCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      'kms-dir': { type: 'string' },
      'key-id': { type: 'string' },
      policy: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [sub, ...rest] = positionals;
  if (sub === 'encrypt') {
    if (rest.length) throw new ValidationError(`unexpected argument ${JSON.stringify(rest[0])}; ${USAGE}`, 'model encrypt');
    if (!values.model) throw new ValidationError('missing the model file or directory to encrypt', '--model');
    if (!values.out) throw new ValidationError('missing the output file', '--out');
    const keyId = values['key-id'] ?? 'model';
    const kms = new LocalKms({ dir: values['kms-dir'] ?? join('.mpc-prompt', 'kms') });
    const keyPolicy = values.policy ? readPolicy(values.policy) : undefined;
    let created = false;
    if (!kms.hasKey(keyId)) {
      kms.createKey(keyId, keyPolicy);
      created = true;
    } else if (keyPolicy) {
      kms.putKeyPolicy(keyId, keyPolicy);
    }
    const bytes = await encryptModel(values.model, kms, keyId);
    try {
      writeFileSync(values.out, bytes);
    } catch (e) {
      throw new ValidationError(`cannot write ${values.out}: ${(e as Error).message}`, '--out');
    }
    const h = inspectEncryptedModel(bytes);
    const note = kms.getKeyPolicy(keyId)?.policy.expectedMeasurements?.PCR0
      ? ''
      : ' (key has no release policy: pass --policy to allow an enclave)';
    out(
      values.json
        ? JSON.stringify({ out: values.out, bytes: bytes.length, keyId, createdKey: created, source: h.source })
        : `encrypted ${h.source.kind} ${h.source.name} (${h.source.size} bytes) → ${values.out} (${bytes.length} bytes), key ${keyId}${created ? ' (created)' : ''}${note}`,
    );
    return;
  }
  if (sub === 'inspect') {
    if (rest.length !== 1) throw new ValidationError(USAGE, 'model inspect');
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(rest[0]));
    } catch (e) {
      throw new ValidationError(`cannot read ${rest[0]}: ${(e as Error).message}`, 'FILE');
    }
    const h = inspectEncryptedModel(bytes);
    if (values.json) out(JSON.stringify({ file: rest[0], bytes: bytes.length, header: h }));
    else {
      out(`${rest[0]}: ${bytes.length} bytes, ${h.algorithm}, key ${h.keyId}`);
      out(`  source: ${h.source.kind} ${h.source.name}, ${h.source.size} bytes, sha256 ${h.source.sha256}`);
      out(`  wrapped data key: ${Buffer.from(h.wrappedKey, 'base64').length} bytes; created ${h.createdAt}`);
    }
    return;
  }
  throw new ValidationError(USAGE, 'model');
}
