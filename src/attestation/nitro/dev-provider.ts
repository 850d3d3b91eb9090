/**
 * INSECURE development attestation provider: emits Nitro-format attestation documents signed by
 * a locally generated P-384 root → intermediate → per-document leaf, so local runs exercise the
 * same verification path (verifyNitro) as production. Its documents prove nothing about hardware:
 * - module_id starts with "INSECURE-DEV-" and every certificate subject says INSECURE DEV;
 * - its root is NOT in the default pinned set: a verifier must pin `rootSha256` explicitly, and
 *   then flags the result `details.insecureDev = true`;
 * - creating a provider emits a process warning (code MPC_PROMPT_INSECURE_DEV_ATTESTATION).
 *
 * Binding (notes §3, recommendation): `user_data = SHA-256(DER SubjectPublicKeyInfo of the TLS key)`,
 * `nonce` = the caller's nonce. The checklist items this mirrors are those of §2.1 (structure,
 * ES384 COSE_Sign1, cabundle root-first, leaf P-384, CA flags/pathLen/keyUsage).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, createPrivateKey, randomBytes, sign, webcrypto } from 'node:crypto';
import { sha256Hex } from '../common/x509-chain.ts';
import { encodeCbor } from './cbor.ts';
import { COSE_ALG_ES384 } from './document.ts';
import { INSECURE_DEV_PREFIX, sigStructure } from './verify.ts';

const ALG = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;
const HOUR = 3_600_000;
const ROOT_NAME = 'CN=INSECURE DEV Nitro root (mpc-prompt), O=INSECURE-DEV';

export interface DevAttestOptions {
  /** Document timestamp and leaf validity start (injected). */
  now: Date;
  /** DER SubjectPublicKeyInfo of the TLS key to bind: user_data = SHA-256(spki). */
  tlsSpkiDer?: Uint8Array;
  /** Raw user_data (instead of tlsSpkiDer). */
  userData?: Uint8Array;
  nonce?: Uint8Array;
  publicKey?: Uint8Array;
}

export interface DevNitroProvider {
  readonly insecure: true;
  readonly moduleId: string;
  /** DER of the local root and its SHA-256 (pin this to verify dev documents). */
  readonly rootDer: Uint8Array;
  readonly rootSha256: string;
  /** PCR index → value used in every document. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** Issues a fresh leaf certificate (valid now − 1 s … now + 3 h) and a signed document. */
  attest(opts: DevAttestOptions): Promise<Uint8Array>;
}

export interface DevProviderOptions {
  /** Start of the root/intermediate validity (they are valid from now − 1 day for 1 year). */
  now: Date;
  /** Suffix after "INSECURE-DEV-" in module_id (default random hex). */
  moduleId?: string;
  /** PCRs to report (default: PCR0..2 = SHA-384 of a dev label, PCR3..15 zero; never debug-looking). */
  pcrs?: Map<number, Uint8Array>;
  /** Called once with the insecurity warning (default: process.emitWarning). */
  warn?: (message: string) => void;
  /** A persisted dev root (dev-root.ts) to sign under instead of a fresh one, so verifiers can pin it ahead of time. */
  root?: DevRootMaterial;
}

/** A dev root certificate and its private key (PKCS#8 DER). INSECURE: the key sits on disk. */
export interface DevRootMaterial {
  readonly certDer: Uint8Array;
  readonly keyPkcs8: Uint8Array;
}

/** Creates a self-signed INSECURE dev attestation root, valid from `now` − 1 day for `years` years. */
export async function createDevRoot(now: Date, years = 5): Promise<DevRootMaterial> {
  const keys = await newKeys();
  const start = new Date(now.getTime() - 24 * HOUR);
  const end = new Date(now.getTime() + years * 365 * 24 * HOUR);
  const root = await issue(ROOT_NAME, keys, { name: ROOT_NAME, keys }, start, end, {});
  return {
    certDer: new Uint8Array(root.rawData),
    keyPkcs8: new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
  };
}

async function importRoot(m: DevRootMaterial): Promise<{ name: string; keys: CryptoKeyPair; der: Uint8Array }> {
  const cert = new x509.X509Certificate(Buffer.from(m.certDer));
  const privateKey = await webcrypto.subtle.importKey('pkcs8', Buffer.from(m.keyPkcs8), ALG, true, ['sign']);
  const publicKey = await cert.publicKey.export(ALG, ['verify']);
  return { name: cert.subject, keys: { privateKey, publicKey }, der: new Uint8Array(cert.rawData) };
}

type CryptoKeyPair = webcrypto.CryptoKeyPair;
const newKeys = async (): Promise<CryptoKeyPair> => (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

async function issue(
  subject: string,
  keys: CryptoKeyPair,
  issuer: { name: string; keys: CryptoKeyPair },
  notBefore: Date,
  notAfter: Date,
  ca: { pathLength?: number } | false,
): Promise<x509.X509Certificate> {
  const publicKey = keys.publicKey;
  const usage = ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature;
  return x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: issuer.name,
    notBefore,
    notAfter,
    publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(ca !== false, ca ? ca.pathLength : undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ],
  });
}

function defaultPcrs(): Map<number, Uint8Array> {
  const pcrs = new Map<number, Uint8Array>();
  for (let i = 0; i < 16; i++) {
    pcrs.set(i, i < 3 ? createHash('sha384').update(`INSECURE-DEV PCR${i}`).digest() : new Uint8Array(48));
  }
  return pcrs;
}

/** Creates a dev provider with a fresh local root and intermediate. INSECURE: for local runs only. */
export async function createDevNitroProvider(opts: DevProviderOptions): Promise<DevNitroProvider> {
  const start = new Date(opts.now.getTime() - 24 * HOUR);
  const end = new Date(opts.now.getTime() + 365 * 24 * HOUR);
  const interName = 'CN=INSECURE DEV Nitro intermediate (mpc-prompt), O=INSECURE-DEV';
  const root = await importRoot(opts.root ?? (await createDevRoot(opts.now, 1)));
  const interKeys = await newKeys();
  const inter = await issue(interName, interKeys, root, start, end, { pathLength: 0 });
  const rootDer = root.der;
  const rootSha256 = sha256Hex(rootDer);
  const moduleId = `${INSECURE_DEV_PREFIX}${opts.moduleId ?? randomBytes(8).toString('hex')}`;
  const pcrs = opts.pcrs ?? defaultPcrs();
  const cabundle = [rootDer, new Uint8Array(inter.rawData)];
  const message =
    `INSECURE DEV attestation provider (${moduleId}): documents are signed by a locally generated root ` +
    `(SHA-256 ${rootSha256}) and prove nothing about hardware. Never use outside local development.`;
  (opts.warn ?? ((m: string) => process.emitWarning(m, { code: 'MPC_PROMPT_INSECURE_DEV_ATTESTATION' })))(message);

  async function attest(a: DevAttestOptions): Promise<Uint8Array> {
    const leafKeys = await newKeys();
    const t = a.now.getTime();
    const leafName = `CN=${moduleId}.insecure-dev, O=INSECURE-DEV`;
    const leaf = await issue(leafName, leafKeys, { name: interName, keys: interKeys }, new Date(t - 1000), new Date(t + 3 * HOUR), false);
    const userData = a.userData ?? (a.tlsSpkiDer ? createHash('sha256').update(a.tlsSpkiDer).digest() : null);
    const payload = encodeCbor({
      module_id: moduleId,
      digest: 'SHA384',
      timestamp: t,
      pcrs: new Map(pcrs),
      certificate: new Uint8Array(leaf.rawData),
      cabundle,
      public_key: a.publicKey ?? null,
      user_data: userData ? new Uint8Array(userData) : null,
      nonce: a.nonce ?? null,
    });
    const protectedBytes = encodeCbor(new Map([[1, COSE_ALG_ES384]]));
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey);
    const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    const signature = sign('sha384', sigStructure(protectedBytes, payload), { key, dsaEncoding: 'ieee-p1363' });
    return encodeCbor([protectedBytes, new Map(), payload, new Uint8Array(signature)]);
  }
  return { insecure: true, moduleId, rootDer, rootSha256, pcrs, attest };
}
