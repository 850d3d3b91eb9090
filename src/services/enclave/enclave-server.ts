/**
 * The enclave service (proto/mpc_prompt/v1/enclave.proto): the one process that holds the
 * plaintext model (model-release.ts) and deals each party node its additive share of the folded
 * weights for a session (weight-dealing.ts), over mutually authenticated TLS.
 *
 * Per request:
 *  1. authorization: the caller's certificate CN must be `party-<id>` for a party of the
 *     deployment; its party index is its position in the deployment's party list (so a party can
 *     only ever receive its own index's share; the server never trusts an index from the caller);
 *  2. evidence: a fresh attestation document with user_data = SHA-256(DER SPKI of this server's
 *     TLS certificate) and nonce = the caller's 32-byte nonce; sent first, with the model config,
 *     the payload SHA-256, the caller's index, the party count and the tensor shapes;
 *  3. the share: a 16-byte seed (index < n−1) or the explicit words of the last share in chunks of
 *     `chunkBytes` (respecting stream back-pressure).
 * Logged: caller identity, session id, index, bytes — never seeds, words or the enclave secret.
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes, X509Certificate } from 'node:crypto';
import { ValidationError } from '../../base/errors.ts';
import { foldedShapes } from '../../model/fold-weights.ts';
import { EnclaveServiceService, type WeightSharesChunk, type WeightSharesRequest } from '../gen/mpc_prompt/v1/enclave.ts';
import { bindServer, callerIdentity, CHANNEL_OPTIONS, serverCredentials, ServiceError, toStatus } from '../grpc-common.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { TlsIdentity } from '../pki.ts';
import { SESSION_ID_RE } from '../triples/triple-server.ts';
import type { ReleasedModel } from './model-release.ts';
import { weightShareMessage } from './weight-dealing.ts';

export const NONCE_BYTES = 32;

export interface EnclaveServiceOptions {
  /** "host:port" to listen on (port 0 picks a free one). */
  readonly address: string;
  /** The enclave's TLS identity; its certificate's SPKI is what the evidence binds. */
  readonly identity: TlsIdentity;
  /** Party ids in deployment order (index = position). */
  readonly parties: readonly string[];
  readonly model: ReleasedModel;
  /** Produces a document with user_data = SHA-256(tlsSpkiDer) and the given nonce. */
  readonly attest: (a: { tlsSpkiDer: Uint8Array; nonce: Uint8Array }) => Promise<Uint8Array>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Words per message for the explicit share (default 4 MiB of payload). */
  readonly chunkBytes?: number;
}

export interface EnclaveService {
  readonly port: number;
  close(): Promise<void>;
}

export async function startEnclaveService(o: EnclaveServiceOptions): Promise<EnclaveService> {
  const secret = new Uint8Array(randomBytes(32));
  const tlsSpkiDer = new Uint8Array(new X509Certificate(o.identity.cert).publicKey.export({ format: 'der', type: 'spki' }));
  const n = o.parties.length;
  const configJson = JSON.stringify(o.model.config);
  const shapesJson = JSON.stringify(foldedShapes(o.model.config).map((s) => s.shape));
  const chunkBytes = o.chunkBytes ?? 4 << 20;
  const log = o.logger.child({ service: 'enclave' });

  const weightShares = (call: grpc.ServerWritableStream<WeightSharesRequest, WeightSharesChunk>): void => {
    void (async () => {
      const cn = callerIdentity(call);
      const id = /^party-(.+)$/.exec(cn)?.[1];
      const index = id === undefined ? -1 : o.parties.indexOf(id);
      if (index < 0) throw new ServiceError(grpc.status.PERMISSION_DENIED, `${cn} is not a party node of this deployment`);
      const { sessionId, nonce } = call.request;
      if (!SESSION_ID_RE.test(sessionId)) throw new ValidationError('expected 1–128 characters of [A-Za-z0-9._:-]', 'session_id');
      if (nonce.length !== NONCE_BYTES) throw new ValidationError(`expected ${NONCE_BYTES} bytes, got ${nonce.length}`, 'nonce');
      const document = await o.attest({ tlsSpkiDer, nonce: new Uint8Array(nonce) });
      await write(call, {
        evidence: {
          attestationDocument: Buffer.from(document),
          modelConfigJson: configJson,
          modelSha256: o.model.sha256,
          partyIndex: index,
          parties: n,
          shapesJson,
        },
      });
      const msg = weightShareMessage(secret, sessionId, index, n, o.model.weights);
      let bytes = 0;
      if (msg.kind === 'seed') {
        await write(call, { seed: Buffer.from(msg.seed) });
        bytes = msg.seed.length;
      } else {
        const all = Buffer.from(msg.words.buffer, msg.words.byteOffset, msg.words.byteLength);
        for (let off = 0; off < all.length; off += chunkBytes) await write(call, { words: all.subarray(off, off + chunkBytes) });
        bytes = all.length;
      }
      call.end();
      log.log('info', 'weight shares dealt', { caller: cn, session: sessionId, index, bytes });
      o.metrics.inc('mpc_enclave_shares_total', 'Weight shares dealt to party nodes');
      o.metrics.inc('mpc_enclave_share_bytes_total', 'Bytes of weight shares sent', bytes);
    })().catch((e: unknown) => {
      const s = toStatus(e);
      log.log('warn', 'weight share request refused', { error: s.details });
      call.emit('error', s);
    });
  };

  const server = new grpc.Server(CHANNEL_OPTIONS);
  server.addService(EnclaveServiceService, { weightShares });
  const port = await bindServer(server, o.address, serverCredentials(o.identity));
  log.log('info', 'enclave service listening', { port, model_sha256: o.model.sha256, parties: n });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        secret.fill(0);
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}

function write(call: grpc.ServerWritableStream<WeightSharesRequest, WeightSharesChunk>, chunk: WeightSharesChunk): Promise<void> {
  if (call.cancelled) return Promise.reject(new ServiceError(grpc.status.CANCELLED, 'the caller went away'));
  return call.write(chunk) ? Promise.resolve() : new Promise((resolve) => call.once('drain', () => resolve()));
}
