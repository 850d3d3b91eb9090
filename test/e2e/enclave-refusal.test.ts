/**
 * The local deployment (real processes: KMS, enclave, triple service, coordinator, two nodes)
 * where the party nodes do not trust the enclave's (INSECURE dev) attestation root — as a
 * production configuration pinning only the AWS Nitro root would not. The KMS still releases the
 * model key (its policy pins the dev root), so the enclave runs and serves; the nodes must refuse
 * its weight shares, and the session must end with that reason and no token.
 * (Binding, nonce, PCR0 and caller refusals over real gRPC: src/services/enclave/enclave.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { AWS_NITRO_ROOT_G1_SHA256 } from '../../src/attestation/nitro/verify.ts';
import { startLocalDeployment } from '../../src/cli/local-deployment.ts';
import { loadConfigFile } from '../../src/config/config.ts';
import { loadModelPublic } from '../../src/formats/load-model.ts';
import { freePort } from '../../src/net/free-port.ts';
import { submitPrompt } from '../../src/services/client/submit.ts';
import { loadIdentity } from '../../src/services/pki.ts';
import { writeGpt2Fixture } from '../fixtures/gpt2-fixture.ts';
import { testEnclaveSection } from '../helpers/enclave-config.ts';

test('party nodes refuse weight shares from an enclave whose attestation root they do not pin; no token is emitted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-enclave-refusal-'));
  writeGpt2Fixture(join(dir, 'model'), { seed: 24 });
  const [c, t, a, b] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const raw = {
    deployment: {
      pki_dir: join(dir, 'pki'),
      coordinator: `localhost:${c}`,
      triples: `localhost:${t}`,
      coordinator_metrics: '',
      triples_metrics: '',
      parties: [
        { id: 'A', data: `localhost:${a}`, metrics: '' },
        { id: 'B', data: `localhost:${b}`, metrics: '' },
      ],
      model: join(dir, 'model'),
      enclave: await testEnclaveSection(dir, { pin_dev_root: false, pinned_roots: [AWS_NITRO_ROOT_G1_SHA256] }),
    },
  };
  writeFileSync(join(dir, 'config.yaml'), stringify(raw));
  const config = loadConfigFile(join(dir, 'config.yaml'));
  const deployment = await startLocalDeployment(config, join(dir, 'config.yaml'), join(dir, 'logs'));
  try {
    const tokens: number[] = [];
    const common = { config, sessionName: 'refused', vocabSize: loadModelPublic(join(dir, 'model')).config.vocabSize, maxNewTokens: 2 };
    const results = await Promise.allSettled([
      submitPrompt({
        ...common,
        partyId: 'A',
        identity: await loadIdentity(config.deployment.pki_dir, 'client-A'),
        ids: [1, 2],
        onToken: (i) => tokens.push(i),
      }),
      submitPrompt({ ...common, partyId: 'B', identity: await loadIdentity(config.deployment.pki_dir, 'client-B'), ids: [3] }),
    ]);
    for (const r of results) {
      assert.equal(r.status, 'rejected', 'the session must fail');
      assert.match(String((r as PromiseRejectedResult).reason?.message ?? r), /enclave refused \(root-not-pinned\)/);
    }
    assert.deepEqual(tokens, [], 'no token may be emitted');
    // The nodes log asynchronously: wait until both have logged the failed session.
    const logs = (): string[] => ['A', 'B'].map((p) => readFileSync(join(dir, 'logs', `party-${p}.log`), 'utf8'));
    for (let i = 0; i < 100 && !logs().every((l) => /session failed/.test(l)); i++) await new Promise((r) => setTimeout(r, 100));
    const [la, lb] = logs();
    for (const log of [la, lb]) {
      assert.match(log, /session failed/);
      assert.doesNotMatch(log, /enclave evidence verified/, 'no node accepted the evidence');
    }
    // Each node refuses on its own, unless the coordinator stopped the session first.
    assert.ok(
      [la, lb].some((l) => /session failed.*enclave refused \(root-not-pinned\)/.test(l)),
      `${la}\n${lb}`,
    );
  } finally {
    await deployment.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
