/**
 * A party's client: secret-shares its prompt part, seals each share to the receiving node (after
 * checking, against the CA, that the node's sealing key is signed by that node's certificate), so
 * the coordinator routes only ciphertext; then streams the revealed tokens.
 */
import { verify, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ValidationError } from '../../base/errors.ts';
import type { Config } from '../../config/config.ts';
import { CoordinatorClient, type RegisterPartyRequest, type SessionStats, type TokenEvent } from '../gen/mpc_prompt/v1/coordinator.ts';
import { clientCredentials, promptChannelOptions } from '../grpc-common.ts';
import type { TlsIdentity } from '../pki.ts';
import { sealingKeyMessage, sealPromptPart } from '../prompt-shares.ts';

export interface SubmitOptions {
  readonly config: Config;
  readonly partyId: string;
  /** The "client-<partyId>" identity. */
  readonly identity: TlsIdentity;
  readonly sessionName: string;
  readonly ids: readonly number[];
  readonly vocabSize: number;
  readonly maxNewTokens: number;
  readonly sampling?: { topK: number; temperature: number; seed: string };
  readonly onToken?: (id: number, index: number) => void;
  /** How long to wait for the party nodes to register (default 30 s). */
  readonly waitForNodesMs?: number;
  readonly coordinator?: string;
}

export interface SubmitResult {
  readonly sessionId: string;
  readonly ids: number[];
  readonly stats: SessionStats | undefined;
}

/** Verifies every configured node's sealing key; returns node id → key in deployment order. */
export function verifiedNodeKeys(config: Config, ca: string, registrations: readonly RegisterPartyRequest[]): Map<string, Uint8Array> {
  const caCert = new X509Certificate(ca);
  const keys = new Map<string, Uint8Array>();
  for (const { id } of config.deployment.parties) {
    const r = registrations.find((x) => x.partyId === id);
    if (!r) throw new ValidationError(`party node ${id} has not registered with the coordinator`);
    const cert = new X509Certificate(r.certificatePem);
    const cnOk = cert.subject.split('\n').includes(`CN=party-${id}`);
    if (!cnOk || !cert.checkIssued(caCert) || !cert.verify(caCert.publicKey))
      throw new ValidationError(`party node ${id}: its certificate is not a CA-issued "party-${id}" certificate`);
    if (!verify('sha256', sealingKeyMessage(id, r.sealingPublicKey), cert.publicKey, r.sealingKeySignature))
      throw new ValidationError(`party node ${id}: sealing key signature does not verify`);
    keys.set(id, new Uint8Array(r.sealingPublicKey));
  }
  return keys;
}

export async function submitPrompt(o: SubmitOptions): Promise<SubmitResult> {
  const client = new CoordinatorClient(
    o.coordinator ?? o.config.deployment.coordinator,
    clientCredentials(o.identity),
    promptChannelOptions(o.config.deployment.parties.length, o.ids.length),
  );
  try {
    const deadline = Date.now() + (o.waitForNodesMs ?? 30_000);
    let keys: Map<string, Uint8Array> | undefined;
    for (;;) {
      try {
        const list = await new Promise<RegisterPartyRequest[]>((resolve, reject) =>
          client.listParties({}, (e, r) => (e ? reject(e) : resolve(r.parties))),
        );
        keys = verifiedNodeKeys(o.config, o.identity.ca, list);
        break;
      } catch (e) {
        const retriable =
          e instanceof ValidationError ? /has not registered/.test(e.message) : (e as grpc.ServiceError).code === grpc.status.UNAVAILABLE;
        if (!retriable || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    const sealed = sealPromptPart(o.ids, o.vocabSize, o.sessionName, o.partyId, keys);
    const { sessionId } = await new Promise<{ sessionId: string }>((resolve, reject) =>
      client.submitPrompt(
        {
          sessionName: o.sessionName,
          partyId: o.partyId,
          length: o.ids.length,
          sealedShares: Object.fromEntries([...sealed].map(([k, v]) => [k, Buffer.from(v)])),
          maxNewTokens: o.maxNewTokens,
          sampling: o.sampling ?? { topK: 0, temperature: 1, seed: '' },
        },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    const ids: number[] = [];
    const stats = await new Promise<SessionStats | undefined>((resolve, reject) => {
      const stream = client.tokenOutput({ sessionId });
      stream.on('data', (e: TokenEvent) => {
        if (e.token) {
          ids.push(e.token.tokenId);
          o.onToken?.(e.token.tokenId, e.token.index);
        } else if (e.done) resolve(e.done);
        else if (e.error !== undefined) reject(new Error(`session ${sessionId} failed: ${e.error}`));
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(undefined));
    });
    return { sessionId, ids, stats };
  } finally {
    client.close();
  }
}
