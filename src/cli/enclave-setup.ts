/**
 * Local-deployment set-up of the model-key path, done by `mpc-prompt up` / `demo` before the
 * services start (the model owner's steps, which in production happen once, elsewhere):
 *  - dev KMS credentials (SigV4 access key) in kms_dir/dev-credentials.json (0600);
 *  - the KMS key `key_id`, whose release policy pins the dev attestation root, the configured
 *    roots and PCR0, and refuses debug enclaves and documents older than 5 minutes;
 *  - the encrypted model at `encrypted_model`, from the plaintext checkpoint `model`, if missing
 *    or if it holds a different checkpoint (its header's SHA-256 differs from `model`'s).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import { devAttestationRootSha256 } from '../attestation/nitro/dev-root.ts';
import type { Config } from '../config/config.ts';
import type { AwsCredentials } from '../kms/aws.ts';
import { encryptModel, inspectEncryptedModel, packDirectory } from '../kms/envelope.ts';
import { LocalKms, type KeyPolicy } from '../kms/kms.ts';

export const LOCAL_KMS_REGION = 'local';
const CREDENTIALS_FILE = 'dev-credentials.json';

export function readDevKmsCredentials(kmsDir: string): AwsCredentials {
  const path = join(kmsDir, CREDENTIALS_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ValidationError(`cannot read the dev KMS credentials (run "mpc-prompt up" once): ${(e as Error).message}`, path);
  }
  const c = raw as Partial<AwsCredentials>;
  if (typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string')
    throw new ValidationError('expected {"accessKeyId": ..., "secretAccessKey": ...}', path);
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
}

/** Does the envelope at `file` hold exactly the checkpoint directory `model` (by the payload's SHA-256)? */
function holdsCheckpoint(file: string, model: string): boolean {
  try {
    const header = inspectEncryptedModel(readFileSync(file));
    if (!statSync(model).isDirectory()) return false;
    return createHash('sha256').update(packDirectory(model).payload).digest('hex') === header.source.sha256;
  } catch {
    return false;
  }
}

/** Creates what is missing or stale (local development only). Returns what it did. */
export async function prepareLocalEnclaveModel(config: Config): Promise<string[]> {
  const dep = config.deployment;
  const e = dep.enclave;
  const done: string[] = [];
  mkdirSync(e.kms_dir, { recursive: true, mode: 0o700 });
  const credPath = join(e.kms_dir, CREDENTIALS_FILE);
  if (!existsSync(credPath)) {
    const creds: AwsCredentials = {
      accessKeyId: `AKIDLOCAL${randomBytes(6).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
    };
    writeFileSync(credPath, JSON.stringify(creds) + '\n', { mode: 0o600 });
    done.push('created dev KMS credentials');
  }
  const kms = new LocalKms({ dir: e.kms_dir });
  const policy: KeyPolicy = {
    roots: [devAttestationRootSha256(dep.pki_dir), ...e.pinned_roots],
    policy: { expectedMeasurements: { PCR0: e.pcr0 }, allowDebug: false, maxAgeMs: 5 * 60_000 },
  };
  if (!kms.hasKey(e.key_id)) {
    kms.createKey(e.key_id, policy);
    done.push(`created KMS key ${e.key_id} (releases only to the pinned PCR0)`);
  } else if (JSON.stringify(kms.getKeyPolicy(e.key_id)) !== JSON.stringify(policy)) {
    // A new dev PKI (new dev root) or a changed PCR0 in the config: the local owner follows it.
    kms.putKeyPolicy(e.key_id, policy);
    done.push(`updated the release policy of KMS key ${e.key_id} to the current dev root and PCR0`);
  }
  const stale = existsSync(e.encrypted_model) && !holdsCheckpoint(e.encrypted_model, dep.model);
  if (!existsSync(e.encrypted_model) || stale) {
    mkdirSync(dirname(e.encrypted_model), { recursive: true });
    writeFileSync(e.encrypted_model, await encryptModel(dep.model, kms, e.key_id));
    done.push(`${stale ? 're-encrypted (the file held another checkpoint)' : 'encrypted'} ${dep.model} → ${e.encrypted_model}`);
  }
  return done;
}
