/**
 * Persistence of the INSECURE dev attestation root (dev-provider.ts), so that party nodes and the
 * local KMS can pin its SHA-256 before the enclave starts. Files in `dir` (the dev PKI folder):
 * `dev-attestation-root.crt` (PEM) and `dev-attestation-root.key` (PKCS#8 PEM, mode 0600).
 * Anyone who can read the key can forge dev attestation documents: that is why no verifier
 * trusts this root unless it is pinned explicitly (config `deployment.enclave.pin_dev_root`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../../base/errors.ts';
import { sha256Hex } from '../common/x509-chain.ts';
import { createDevRoot, type DevRootMaterial } from './dev-provider.ts';

export const DEV_ROOT_CERT_FILE = 'dev-attestation-root.crt';
export const DEV_ROOT_KEY_FILE = 'dev-attestation-root.key';

const pem = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${(
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  ).join('\n')}\n-----END ${label}-----\n`;

function unpem(text: string, label: string, path: string): Uint8Array {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (!m) throw new ValidationError(`expected a PEM ${label}`, path);
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

/** Creates the dev root in `dir` unless it exists; returns its SHA-256 (hex). */
export async function ensureDevAttestationRoot(dir: string, now: Date = new Date()): Promise<string> {
  if (existsSync(join(dir, DEV_ROOT_CERT_FILE)) && existsSync(join(dir, DEV_ROOT_KEY_FILE))) return loadDevAttestationRoot(dir).sha256;
  const root = await createDevRoot(now);
  writeFileSync(join(dir, DEV_ROOT_KEY_FILE), pem('PRIVATE KEY', root.keyPkcs8), { mode: 0o600 });
  writeFileSync(join(dir, DEV_ROOT_CERT_FILE), pem('CERTIFICATE', root.certDer));
  return sha256Hex(root.certDer);
}

/** The SHA-256 (hex) of the dev root certificate in `dir` (the key is not read). */
export function devAttestationRootSha256(dir: string): string {
  const path = join(dir, DEV_ROOT_CERT_FILE);
  if (!existsSync(path)) throw new ValidationError(`no dev attestation root: run "mpc-prompt pki init ${dir}"`, path);
  return sha256Hex(unpem(readFileSync(path, 'utf8'), 'CERTIFICATE', path));
}

/** Reads the dev root (certificate and private key) from `dir`. */
export function loadDevAttestationRoot(dir: string): DevRootMaterial & { sha256: string } {
  const certPath = join(dir, DEV_ROOT_CERT_FILE);
  const keyPath = join(dir, DEV_ROOT_KEY_FILE);
  if (!existsSync(certPath) || !existsSync(keyPath))
    throw new ValidationError(`no dev attestation root: run "mpc-prompt pki init ${dir}"`, certPath);
  const certDer = unpem(readFileSync(certPath, 'utf8'), 'CERTIFICATE', certPath);
  const keyPkcs8 = unpem(readFileSync(keyPath, 'utf8'), 'PRIVATE KEY', keyPath);
  return { certDer, keyPkcs8, sha256: sha256Hex(certDer) };
}
