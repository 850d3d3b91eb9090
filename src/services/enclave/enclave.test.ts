/**
 * The enclave path end to end over real gRPC/mTLS on loopback (KMS in process): attested key
 * release → in-memory decryption → dealing → verified fetch; and every refusal a party node must
 * make: unpinned root, wrong PCR0, evidence bound to another TLS key, stale nonce, a non-party
 * caller, and the KMS's refusal to release the key to a wrongly measured enclave.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeGpt2Fixture } from '../../../test/fixtures/gpt2-fixture.ts';
import { createDevNitroProvider, type DevNitroProvider } from '../../attestation/nitro/dev-provider.ts';
import { loadDevAttestationRoot } from '../../attestation/nitro/dev-root.ts';
import { DEV_PCR0 } from '../../config/config.ts';
import { loadModel } from '../../formats/load-model.ts';
import { encryptModel } from '../../kms/envelope.ts';
import { AwsKmsAdapter, createKmsHttpsServer, mtlsTransport } from '../../kms/aws.ts';
import { KeyReleaseDenied, LocalKms } from '../../kms/kms.ts';
import { foldedShapes, foldAll, foldWeights } from '../../model/fold-weights.ts';
import { encode } from '../../ring/fixed-point.ts';
import { Z64 } from '../../ring/ring.ts';
import { add } from '../../ring/tensor.ts';
import { jsonLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { initDevPki, loadIdentity, type TlsIdentity } from '../pki.ts';
import { EnclaveRefused, fetchWeightShares, type EnclaveTrust } from './enclave-client.ts';
import { startEnclaveService, type EnclaveService } from './enclave-server.ts';
import { releaseModel, type ReleasedModel } from './model-release.ts';

const quiet = { warn: () => {} };
const silent = jsonLogger({ service: 'test' }, () => {});
const PARTIES = ['A', 'B', 'C'];

let dir: string;
let provider: DevNitroProvider;
let rootSha: string;
let released: ReleasedModel;
let modelDir: string;
let ids: Record<string, TlsIdentity>;
const services: EnclaveService[] = [];

const trust = (over: Partial<EnclaveTrust> = {}): EnclaveTrust => ({
  roots: [rootSha],
  policy: { expectedMeasurements: { PCR0: DEV_PCR0 }, maxAgeMs: 60_000 },
  ...over,
});

async function serve(attest?: (a: { tlsSpkiDer: Uint8Array; nonce: Uint8Array }) => Promise<Uint8Array>): Promise<string> {
  const s = await startEnclaveService({
    address: '127.0.0.1:0',
    identity: ids.enclave,
    parties: PARTIES,
    model: released,
    attest: attest ?? ((a) => provider.attest({ now: new Date(), ...a })),
    logger: silent,
    metrics: new Metrics(),
    chunkBytes: 4096,
  });
  services.push(s);
  return `localhost:${s.port}`;
}

const fetchAs = (party: string, address: string, sessionId = 's1', t: EnclaveTrust = trust()) =>
  fetchWeightShares({
    address,
    identity: ids[`party-${party}`] ?? ids[party],
    sessionId,
    partyIndex: PARTIES.indexOf(party),
    parties: PARTIES.length,
    config: released.config,
    trust: t,
  });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mpc-enclave-'));
  const names = ['enclave', 'client-A', ...PARTIES.map((p) => `party-${p}`)];
  await initDevPki(join(dir, 'pki'), { names });
  ids = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await loadIdentity(join(dir, 'pki'), n)] as const)));
  const root = loadDevAttestationRoot(join(dir, 'pki'));
  rootSha = root.sha256;
  provider = await createDevNitroProvider({ now: new Date(), root, ...quiet });
  assert.equal(Buffer.from(provider.pcrs.get(0) as Uint8Array).toString('hex'), DEV_PCR0, 'config DEV_PCR0 is the dev PCR0');
  modelDir = join(dir, 'model');
  writeGpt2Fixture(modelDir, { seed: 24 });
  const kms = new LocalKms();
  kms.createKey('k', { roots: [rootSha], policy: { expectedMeasurements: { PCR0: DEV_PCR0 } } });
  const encrypted = await encryptModel(modelDir, kms, 'k');
  released = await releaseModel({ kms, encrypted, scaleBits: 16, attest: (publicKey) => provider.attest({ now: new Date(), publicKey }) });
});

after(async () => {
  await Promise.all(services.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('enclave service', () => {
  test('the shares of all parties add up to the folded, encoded plaintext weights; sessions differ', async () => {
    const address = await serve();
    const got = await Promise.all(PARTIES.map((p) => fetchAs(p, address)));
    assert.ok(got.every((g) => g.evidence.valid && g.evidence.details?.insecureDev === true));
    const plain = loadModel(modelDir);
    const specs = foldedShapes(plain.config);
    const want = foldWeights(plain.config, plain.weights).map((fold, i) => encode(Z64, specs[i].shape, foldAll(fold, specs[i]), 16));
    want.forEach((w, i) => {
      const sum = got.map((g) => g.shares[i]).reduce((a, b) => add(a, b));
      assert.deepEqual(sum.data, w.data, `tensor ${specs[i].name}`);
    });
    assert.equal(got[0].bytesReceived, 16, 'party 0 receives a seed');
    assert.equal(got[2].bytesReceived, 8 * want.reduce((s, w) => s + w.data.length, 0), 'the last party receives the explicit share');
    const again = await fetchAs('A', address, 's2');
    assert.notDeepEqual(again.shares[0].data, got[0].shares[0].data, 'a new session gets fresh shares');
  });

  const refusal = async (code: string, run: () => Promise<unknown>, match: RegExp) =>
    assert.rejects(run, (e: unknown) => e instanceof EnclaveRefused && e.code === code && match.test(e.message));

  test('a node refuses an enclave whose root is not pinned', async () => {
    const address = await serve();
    await refusal('root-not-pinned', () => fetchAs('A', address, 's1', trust({ roots: ['00'.repeat(32)] })), /root/);
    await refusal('root-not-pinned', () => fetchAs('A', address, 's1', trust({ roots: [] })), /no attestation root/);
  });

  test('a node refuses an enclave with an unexpected PCR0', async () => {
    const address = await serve();
    const t = trust({ policy: { expectedMeasurements: { PCR0: 'ab'.repeat(48) } } });
    await refusal('policy-measurement', () => fetchAs('B', address, 's1', t), /PCR0/);
  });

  test('a node refuses evidence bound to another TLS key (relayed from a different server)', async () => {
    const otherSpki = new Uint8Array(new X509Certificate(ids['party-C'].cert).publicKey.export({ format: 'der', type: 'spki' }));
    const address = await serve((a) => provider.attest({ now: new Date(), nonce: a.nonce, tlsSpkiDer: otherSpki }));
    await refusal('binding', () => fetchAs('A', address), /user_data/);
  });

  test('a node refuses replayed evidence (nonce of another request)', async () => {
    const stale = new Uint8Array(32).fill(7);
    const address = await serve((a) => provider.attest({ now: new Date(), tlsSpkiDer: a.tlsSpkiDer, nonce: stale }));
    await refusal('policy-nonce', () => fetchAs('A', address), /nonce/);
  });

  test('a node refuses evidence signed by an unpinned (fresh) dev root even with the right PCR0', async () => {
    const rogue = await createDevNitroProvider({ now: new Date(), ...quiet });
    const address = await serve((a) => rogue.attest({ now: new Date(), ...a }));
    await refusal('root-not-pinned', () => fetchAs('A', address), /root/);
  });

  test('only party certificates of the deployment get shares', async () => {
    const address = await serve();
    await assert.rejects(
      fetchWeightShares({
        address,
        identity: ids['client-A'],
        sessionId: 's1',
        partyIndex: 0,
        parties: 3,
        config: released.config,
        trust: trust(),
      }),
      (e: unknown) => e instanceof EnclaveRefused && e.code === 'unavailable' && /PERMISSION_DENIED.*client-A/.test(e.message),
    );
  });

  test('the local KMS service (AWS JSON over mTLS) serves the enclave certificate only', async () => {
    const creds = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
    const kms = new LocalKms();
    kms.createKey('k', { roots: [rootSha], policy: { expectedMeasurements: { PCR0: DEV_PCR0 } } });
    const server = createKmsHttpsServer(kms, {
      region: 'local',
      credentials: creds,
      tls: ids['party-C'],
      allowClient: (cn) => cn === 'enclave',
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `https://localhost:${(server.address() as AddressInfo).port}`;
    try {
      const as = (name: string) =>
        new AwsKmsAdapter({ endpoint, region: 'local', credentials: creds, transport: mtlsTransport(ids[name]) });
      const dk = await as('enclave').generateDataKey('k');
      assert.equal(dk.plaintext.length, 32);
      await assert.rejects(
        as('party-A').generateDataKey('k'),
        (e: unknown) => e instanceof KeyReleaseDenied && e.code === 'client-identity',
      );
    } finally {
      server.close();
    }
  });

  test('the KMS does not release the model key to an enclave with another PCR0', async () => {
    const kms = new LocalKms();
    kms.createKey('k', { roots: [rootSha], policy: { expectedMeasurements: { PCR0: DEV_PCR0 } } });
    const encrypted = await encryptModel(modelDir, kms, 'k');
    const pcrs = new Map([...provider.pcrs].map(([i, v]) => [i, i === 0 ? new Uint8Array(48).fill(1) : v]));
    const root = loadDevAttestationRoot(join(dir, 'pki'));
    const modified = await createDevNitroProvider({ now: new Date(), root, pcrs, ...quiet });
    await assert.rejects(
      releaseModel({ kms, encrypted, scaleBits: 16, attest: (publicKey) => modified.attest({ now: new Date(), publicKey }) }),
      (e: unknown) => e instanceof KeyReleaseDenied && e.code === 'policy-measurement',
    );
  });
});
