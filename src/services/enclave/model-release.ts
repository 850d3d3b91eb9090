/**
 * The enclave's start-up: obtain the model's data key from the KMS by attestation, decrypt the
 * model in memory, fold and encode its weights (notes/attestation-verification.md §4):
 *  1. generate an RSA-2048 key pair inside the enclave;
 *  2. get an attestation document with `public_key` = its DER SPKI;
 *  3. KMS Decrypt with Recipient (the document): the KMS verifies the document against the key
 *     policy (pinned roots, PCR0, debug, age) and returns the data key as CMS EnvelopedData to
 *     that public key (CiphertextForRecipient) — the plaintext data key never crosses the wire;
 *  4. open the envelope with the private key, decrypt the model (AES-256-GCM, header
 *     authenticated), wipe the data key, and parse the checkpoint from memory (never written to
 *     disk);
 *  5. fold (exact rewrites, model/fold-weights.ts) and encode in Z_2^64 at `scaleBits`.
 * Only Hugging Face checkpoint directories are accepted (what `model encrypt` packs from a folder).
 */
import { generateKeyPairSync } from 'node:crypto';
import { ValidationError } from '../../base/errors.ts';
import { loadHfCheckpointFiles } from '../../formats/hf-checkpoint.ts';
import type { ModelConfig } from '../../formats/model-spec.ts';
import { decryptModel, inspectEncryptedModel, unpackDirectory } from '../../kms/envelope.ts';
import { openForRecipient, type Kms } from '../../kms/kms.ts';
import { foldedShapes, foldAll, foldWeights } from '../../model/fold-weights.ts';
import { encode } from '../../ring/fixed-point.ts';
import { Z64 } from '../../ring/ring.ts';
import type { RingTensor } from '../../ring/tensor.ts';

export interface ReleasedModel {
  readonly config: ModelConfig;
  /** Folded, encoded weights in foldedShapes order. */
  readonly weights: readonly RingTensor[];
  /** SHA-256 (hex) of the decrypted payload (= the envelope header's source.sha256). */
  readonly sha256: string;
  readonly keyId: string;
}

export interface ReleaseOptions {
  readonly kms: Kms;
  /** The encrypted model file's bytes (MPCPENC1 envelope). */
  readonly encrypted: Uint8Array;
  /** Attests this enclave with the given recipient public key (DER SPKI) in `public_key`. */
  readonly attest: (publicKeyDer: Uint8Array) => Promise<Uint8Array>;
  readonly scaleBits: number;
}

export async function releaseModel(o: ReleaseOptions): Promise<ReleasedModel> {
  const header = inspectEncryptedModel(o.encrypted);
  if (header.source.kind !== 'directory')
    throw new ValidationError(
      `the enclave needs a Hugging Face checkpoint directory; this envelope holds the file ${header.source.name}`,
      'encrypted model',
    );
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const document = await o.attest(spki);
  const { ciphertextForRecipient } = await o.kms.decryptForRecipient(new Uint8Array(Buffer.from(header.wrappedKey, 'base64')), document);
  const dataKey = openForRecipient(ciphertextForRecipient, privateKey);
  let payload: Uint8Array;
  try {
    payload = decryptModel(o.encrypted, dataKey).payload;
  } finally {
    dataKey.fill(0);
  }
  const model = loadHfCheckpointFiles(unpackDirectory(payload), `enclave:${header.source.name}`);
  const specs = foldedShapes(model.config);
  const weights = foldWeights(model.config, model.weights).map((fold, i) =>
    encode(Z64, specs[i].shape, foldAll(fold, specs[i]), o.scaleBits),
  );
  return { config: model.config, weights, sha256: header.source.sha256, keyId: header.keyId };
}
