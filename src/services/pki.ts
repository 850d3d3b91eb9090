/**
 * Development PKI for the mTLS transport: one self-signed CA and one key + certificate per
 * service or party name, written as PEM files into a directory.
 *
 *   ca.crt, ca.key          ECDSA P-256 CA (basicConstraints CA:true, keyCertSign), self-signed
 *   <name>.crt, <name>.key  ECDSA P-256 leaf signed by the CA: subject CN=<name>,
 *                           SAN DNS:localhost, IP:127.0.0.1, DNS:<name>; EKU serverAuth+clientAuth
 *
 * Every leaf can act as TLS server and client, so a party can both listen and dial. Identity is
 * the subject CN ({@link peerIdentity}); peers check it against the expected name of a party id.
 * Keys are PKCS#8 PEM, mode 0600. This is for development and CI only: the CA key sits next to
 * the leaves, there is no revocation, and anyone who can read the directory can impersonate any
 * name. Key material is never logged. Built on @peculiar/x509 over Node's WebCrypto (no openssl).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { ensureDevAttestationRoot } from '../attestation/nitro/dev-root.ts';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import { peerCommonName } from '../net/tls-channel.ts';

type CryptoKey = webcrypto.CryptoKey;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Names become file names and DNS SANs: letters, digits and inner hyphens only. */
const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** PEM strings for node:tls options ({ ca, cert, key }). */
export interface TlsIdentity {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface DevPkiOptions {
  /** One certificate per name (its CN); e.g. 'coordinator', 'party-A'. */
  readonly names: readonly string[];
  /** Validity of newly issued certificates (default 365 days). */
  readonly validityDays?: number;
}

/**
 * Creates `dir` (0700) with a dev CA and one key + certificate per name, and the INSECURE dev
 * attestation root (attestation/nitro/dev-root.ts) if it is missing. An existing CA in `dir`
 * (ca.crt + ca.key) is reused, so names can be added later; leaves are always (re)issued.
 * Returns the certificate file paths by name.
 */
export async function initDevPki(dir: string, opts: DevPkiOptions): Promise<{ ca: string; certs: Record<string, string> }> {
  for (const name of opts.names) {
    if (!NAME_RE.test(name) || name.toLowerCase() === 'ca')
      throw new ValidationError(`bad certificate name ${JSON.stringify(name)}`, 'names');
  }
  const days = opts.validityDays ?? 365;
  if (!(days > 0)) throw new ValidationError('must be positive', 'validityDays');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = existsSync(join(dir, 'ca.crt')) && existsSync(join(dir, 'ca.key')) ? await loadCa(dir) : await createCa(dir, days);
  const certs: Record<string, string> = {};
  for (const name of opts.names) {
    const keys = await newKeyPair();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${name}`,
      issuer: ca.cert.subject,
      ...validity(days),
      publicKey: keys.publicKey,
      signingKey: ca.key,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: name },
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
      ],
    });
    await writePem(dir, name, cert, keys.privateKey);
    certs[name] = join(dir, `${name}.crt`);
  }
  await ensureDevAttestationRoot(dir);
  return { ca: join(dir, 'ca.crt'), certs };
}

/** Reads `ca.crt`, `<name>.crt` and `<name>.key` from a directory made by {@link initDevPki}. */
export async function loadIdentity(dir: string, name: string): Promise<TlsIdentity> {
  if (!NAME_RE.test(name)) throw new ValidationError(`bad certificate name ${JSON.stringify(name)}`, 'name');
  const read = (file: string): Promise<string> => readFile(join(dir, file), 'utf8');
  const [ca, cert, key] = await Promise.all([read('ca.crt'), read(`${name}.crt`), read(`${name}.key`)]);
  return { ca, cert, key };
}

/**
 * The subject CN of the peer's certificate if the TLS layer verified it against the CA, else
 * undefined. Identity checks compare this to the name expected for the peer's role.
 */
export const peerIdentity = peerCommonName;

async function createCa(dir: string, days: number): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=MPC-Prompt dev CA',
    ...validity(days),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  await writePem(dir, 'ca', cert, keys.privateKey);
  return { cert, key: keys.privateKey };
}

async function loadCa(dir: string): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const cert = new x509.X509Certificate(await readFile(join(dir, 'ca.crt'), 'utf8'));
  const der = x509.PemConverter.decodeFirst(await readFile(join(dir, 'ca.key'), 'utf8'));
  const key = await crypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
  return { cert, key };
}

function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
}

/** Writes `<base>.crt` (0644) and `<base>.key` (0600, also when the file already existed). */
async function writePem(dir: string, base: string, cert: x509.X509Certificate, key: CryptoKey): Promise<void> {
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', key);
  const keyFile = join(dir, `${base}.key`);
  await writeFile(keyFile, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), { mode: 0o600 });
  await chmod(keyFile, 0o600);
  await writeFile(join(dir, `${base}.crt`), cert.toString('pem') + '\n', { mode: 0o644 });
}

/** Random positive 128-bit serial (hex). */
function serial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

/** Backdated by 5 minutes to tolerate clock skew between hosts. */
function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 300_000), notAfter: new Date(now + days * DAY_MS) };
}
