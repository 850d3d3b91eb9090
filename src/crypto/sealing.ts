/**
 * Sealing prompt shares to a party node (so the coordinator only routes ciphertext): an
 * ECIES-style construction from node:crypto, in the spirit of HPKE base mode (RFC 9180, DHKEM
 * X25519 + HKDF-SHA256 + AES-256-GCM), without HPKE's exact labels:
 *   eph ← X25519 keygen;  ss = X25519(eph, recipient);
 *   key ‖ nonce = HKDF-SHA256(ikm = ss, salt = eph_pub ‖ recipient_pub, info = "mpc-prompt/seal/v1" ‖ aad, 44 bytes)
 *   sealed = eph_pub (32) ‖ AES-256-GCM(key, nonce, plaintext, aad) ‖ tag (16)
 * Confidential and integrity-protected to the holder of the recipient's private key; the AAD
 * (session name, sender, recipient) binds the ciphertext to its context.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';

const INFO = 'mpc-prompt/seal/v1';
/** Bytes a sealed message adds to its plaintext: the ephemeral public key (32) and the GCM tag (16). */
export const SEAL_OVERHEAD_BYTES = 48;
const RAW_X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export interface SealingKeyPair {
  readonly publicKey: Uint8Array; // raw 32 bytes
  readonly privateKey: KeyObject;
}

export function generateSealingKeyPair(): SealingKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: rawPublic(publicKey), privateKey };
}

function rawPublic(k: KeyObject): Uint8Array {
  const der = k.export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.subarray(der.length - 32));
}

function publicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError(`sealing key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([RAW_X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function derive(shared: Buffer, eph: Uint8Array, recipient: Uint8Array, aad: Uint8Array): { key: Buffer; nonce: Buffer } {
  const okm = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([eph, recipient]), Buffer.concat([Buffer.from(INFO), aad]), 44));
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) };
}

export function seal(recipientPublic: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const eph = generateKeyPairSync('x25519');
  const ephPub = rawPublic(eph.publicKey);
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: publicFromRaw(recipientPublic) });
  const { key, nonce } = derive(shared, ephPub, recipientPublic, aad);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([ephPub, body, cipher.getAuthTag()]));
}

/** Opens a sealed message; throws if it was not sealed to this key with this AAD. */
export function open(keys: SealingKeyPair, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  if (sealed.length < SEAL_OVERHEAD_BYTES) throw new RangeError(`sealed message too short: ${sealed.length} bytes`);
  const ephPub = sealed.subarray(0, 32);
  const shared = diffieHellman({ privateKey: keys.privateKey, publicKey: publicFromRaw(ephPub) });
  const { key, nonce } = derive(shared, ephPub, keys.publicKey, aad);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(32, sealed.length - 16)), decipher.final()]));
}

/** Loads a sealing key pair from a PKCS#8 PEM private key. */
export function sealingKeyFromPem(pem: string): SealingKeyPair {
  const privateKey = createPrivateKey(pem);
  return { privateKey, publicKey: rawPublic(createPublicKey(privateKey)) };
}
