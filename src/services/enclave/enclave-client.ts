/**
 * A party node's side of the enclave service: fetch this party's weight shares for a session, but
 * only from an enclave whose attestation evidence verifies and is bound to the TLS connection.
 *
 *  1. TLS: the enclave's certificate must chain to the deployment CA (mTLS; our certificate
 *     identifies us); the certificate presented in the handshake is captured;
 *  2. a fresh 32-byte nonce goes with the request;
 *  3. the first message must be the evidence: the Nitro document is verified (pinned roots —
 *     the INSECURE dev root only if pinned explicitly —, signature, chain, validity windows, PCR0,
 *     debug, age) and must carry user_data = SHA-256(SPKI of the captured certificate) and our
 *     nonce (attestation/nitro/bound-tls.ts `verifyBoundTls`);
 *  4. the index, party count, model config and tensor shapes must be what this node expects;
 *  5. only then is the share read (seed or explicit words), and its length checked.
 * Any failure cancels the call and throws {@link EnclaveRefused} (code = the attestation failure
 * code, or `evidence`, `config`, `share`, `unavailable`); nothing received is used.
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { ValidationError } from '../../base/errors.ts';
import { failureCode, type Policy, type VerificationResult } from '../../attestation/common/result.ts';
import { verifyBoundTls } from '../../attestation/nitro/bound-tls.ts';
import type { ModelConfig } from '../../formats/model-spec.ts';
import { foldedShapes } from '../../model/fold-weights.ts';
import { expandMessage, type PartyMessage } from '../../preprocessing/seeded-deal.ts';
import { Z64 } from '../../ring/ring.ts';
import { sizeOf, type RingTensor } from '../../ring/tensor.ts';
import { EnclaveServiceClient, type WeightSharesChunk } from '../gen/mpc_prompt/v1/enclave.ts';
import { CHANNEL_OPTIONS } from '../grpc-common.ts';
import type { TlsIdentity } from '../pki.ts';
import { NONCE_BYTES } from './enclave-server.ts';

/** The node refused (or could not get) the enclave's weight shares. */
export class EnclaveRefused extends ValidationError {
  override readonly name: string = 'EnclaveRefused';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`enclave refused (${code}): ${message}`, 'enclave');
  }
}

export interface EnclaveTrust {
  /** Pinned attestation roots (SHA-256 hex of DER). */
  readonly roots: readonly string[];
  /** Appraisal policy: expectedMeasurements (PCR0 at least), allowDebug, maxAgeMs. */
  readonly policy: Policy;
}

export interface FetchWeightSharesOptions {
  readonly address: string;
  readonly identity: TlsIdentity;
  readonly sessionId: string;
  /** This node's index and the party count of the session. */
  readonly partyIndex: number;
  readonly parties: number;
  /** The model config this node runs (the enclave's must be identical). */
  readonly config: ModelConfig;
  readonly trust: EnclaveTrust;
  readonly now?: () => Date;
  readonly timeoutMs?: number;
}

export interface FetchedWeightShares {
  /** This party's additive shares (Z_2^64), in foldedShapes order. */
  readonly shares: RingTensor[];
  readonly modelSha256: string;
  /** The verified evidence (measurements, module id, insecureDev flag, …). */
  readonly evidence: VerificationResult;
  readonly bytesReceived: number;
}

/** JSON with sorted keys, so configs compare by content. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null)
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export async function fetchWeightShares(o: FetchWeightSharesOptions): Promise<FetchedWeightShares> {
  if (o.trust.roots.length === 0) throw new EnclaveRefused('root-not-pinned', 'no attestation root is pinned for the enclave');
  if (!o.trust.policy.expectedMeasurements?.PCR0) throw new EnclaveRefused('policy-measurement', 'no expected PCR0 for the enclave');
  let peerCert: Uint8Array | undefined;
  const creds = grpc.credentials.createSsl(Buffer.from(o.identity.ca), Buffer.from(o.identity.key), Buffer.from(o.identity.cert), {
    checkServerIdentity: (host: string, cert: PeerCertificate) => {
      peerCert = new Uint8Array(cert.raw);
      return checkServerIdentity(host, cert);
    },
  });
  const client = new EnclaveServiceClient(o.address, creds, CHANNEL_OPTIONS);
  const nonce = randomBytes(NONCE_BYTES);
  const shapes = foldedShapes(o.config).map((s) => s.shape);
  const total = shapes.reduce((s, sh) => s + sizeOf(sh), 0);
  const deadline = new Date(Date.now() + (o.timeoutMs ?? 120_000));
  const call = client.weightShares({ sessionId: o.sessionId, nonce }, { deadline });
  let evidence: VerificationResult | undefined;
  let modelSha256 = '';
  let message: PartyMessage | undefined;
  const words: Buffer[] = [];
  let bytesReceived = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const refuse = (e: EnclaveRefused): void => {
        call.removeAllListeners('data');
        call.cancel();
        reject(e);
      };
      call.on('data', (chunk: WeightSharesChunk) => {
        try {
          bytesReceived += (chunk.words?.length ?? 0) + (chunk.seed?.length ?? 0);
          if (!evidence) {
            if (!chunk.evidence) throw new EnclaveRefused('evidence', 'the first message is not attestation evidence');
            evidence = checkEvidence(o, chunk.evidence, peerCert, nonce, shapes);
            modelSha256 = chunk.evidence.modelSha256;
          } else if (chunk.seed !== undefined) {
            if (o.partyIndex === o.parties - 1 || message) throw new EnclaveRefused('share', 'unexpected seed');
            if (chunk.seed.length !== 16) throw new EnclaveRefused('share', `seed of ${chunk.seed.length} bytes`);
            message = { kind: 'seed', seed: new Uint8Array(chunk.seed) };
          } else if (chunk.words !== undefined) {
            if (o.partyIndex !== o.parties - 1) throw new EnclaveRefused('share', 'unexpected explicit words');
            words.push(chunk.words);
          } else throw new EnclaveRefused('share', 'empty message');
        } catch (e) {
          refuse(e instanceof EnclaveRefused ? e : new EnclaveRefused('share', (e as Error).message));
        }
      });
      call.on('error', (e: grpc.ServiceError) =>
        reject(new EnclaveRefused('unavailable', `${grpc.status[e.code] ?? e.code}: ${e.details ?? e.message}`)),
      );
      call.on('end', () => resolve());
    });
  } finally {
    client.close();
  }
  if (!evidence) throw new EnclaveRefused('evidence', 'the enclave sent no evidence');
  if (o.partyIndex === o.parties - 1) {
    const all = Buffer.concat(words);
    if (all.length !== total * 8) throw new EnclaveRefused('share', `received ${all.length} bytes of share, expected ${total * 8}`);
    const copy = new Uint8Array(all.length);
    copy.set(all);
    message = { kind: 'explicit', words: new BigUint64Array(copy.buffer) };
  }
  if (!message) throw new EnclaveRefused('share', 'the enclave sent no share');
  const shares = expandMessage(message, Z64, shapes, false).map((s) => s.share);
  return { shares, modelSha256, evidence, bytesReceived };
}

function checkEvidence(
  o: FetchWeightSharesOptions,
  ev: NonNullable<WeightSharesChunk['evidence']>,
  peerCert: Uint8Array | undefined,
  nonce: Uint8Array,
  shapes: readonly (readonly number[])[],
): VerificationResult {
  if (!peerCert) throw new EnclaveRefused('binding', 'the enclave TLS certificate was not seen');
  const result = verifyBoundTls({
    certificate: peerCert,
    document: new Uint8Array(ev.attestationDocument),
    now: (o.now ?? (() => new Date()))(),
    roots: o.trust.roots,
    policy: o.trust.policy,
    nonce,
  });
  if (!result.valid) throw new EnclaveRefused(failureCode(result) ?? 'evidence', result.reason);
  if (ev.partyIndex !== o.partyIndex || ev.parties !== o.parties)
    throw new EnclaveRefused(
      'config',
      `the enclave deals index ${ev.partyIndex} of ${ev.parties}; this node is ${o.partyIndex} of ${o.parties}`,
    );
  let theirs: unknown;
  try {
    theirs = JSON.parse(ev.modelConfigJson);
  } catch {
    throw new EnclaveRefused('config', 'model_config_json is not JSON');
  }
  if (canonical(theirs) !== canonical(o.config)) throw new EnclaveRefused('config', "the enclave's model config differs from this node's");
  if (ev.shapesJson !== JSON.stringify(shapes)) throw new EnclaveRefused('config', 'tensor shapes differ from the model config');
  return result;
}
