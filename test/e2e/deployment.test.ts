/**
 * End to end: the local deployment as real OS processes (triple service, coordinator, two party
 * nodes) on loopback with a dev PKI and mTLS, the small GPT-2 fixture as the model.
 * Checks the joint session against the plaintext reference, the refusals (each with a gRPC status
 * and no effect on a session running meanwhile), and the faults (a node killed mid-generation;
 * the triple service killed), with recovery after restarts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { startLocalDeployment, waitForNodes, type LocalDeployment } from '../../src/cli/local-deployment.ts';
import { loadConfigFile, type Config } from '../../src/config/config.ts';
import { loadModel } from '../../src/formats/load-model.ts';
import type { LoadedModel } from '../../src/formats/model-spec.ts';
import { referenceGenerate } from '../../src/reference/generate.ts';
import { submitPrompt, verifiedNodeKeys } from '../../src/services/client/submit.ts';
import {
  CoordinatorClient,
  type RegisterPartyRequest,
  type SubmitPromptRequest,
} from '../../src/services/gen/mpc_prompt/v1/coordinator.ts';
import { CHANNEL_OPTIONS, clientCredentials } from '../../src/services/grpc-common.ts';
import { initDevPki, loadIdentity, type TlsIdentity } from '../../src/services/pki.ts';
import { sealPromptPart } from '../../src/services/prompt-shares.ts';
import { writeGpt2Fixture } from '../fixtures/gpt2-fixture.ts';
import { freePort } from '../../src/net/free-port.ts';
import { testEnclaveSection } from '../helpers/enclave-config.ts';

const MAX_CONTEXT = 48;
let dir: string;
let config: Config;
let deployment: LocalDeployment;
let model: LoadedModel;
let ids: { A: number[]; B: number[] };
const identities: Record<string, TlsIdentity> = {};

function client(id: TlsIdentity | grpc.ChannelCredentials): CoordinatorClient {
  const creds = 'ca' in id ? clientCredentials(id) : id;
  return new CoordinatorClient(config.deployment.coordinator, creds, CHANNEL_OPTIONS);
}

function call<Res>(fn: (cb: (e: grpc.ServiceError | null, r: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => fn((e, r) => (e ? reject(e) : resolve(r))));
}

async function jointSession(name: string, maxNewTokens: number, onToken?: (id: number) => void) {
  const common = { config, sessionName: name, vocabSize: model.config.vocabSize, maxNewTokens };
  return Promise.all([
    submitPrompt({ ...common, partyId: 'A', identity: identities['client-A'], ids: ids.A, onToken }),
    submitPrompt({ ...common, partyId: 'B', identity: identities['client-B'], ids: ids.B }),
  ]);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-e2e-'));
  writeGpt2Fixture(join(dir, 'model'), { seed: 24 });
  const [c, t, a, b] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const raw = {
    scheduler: { max_context: MAX_CONTEXT },
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
      model_owner: 'A',
      model_source: 'enclave',
      enclave: await testEnclaveSection(dir),
      max_concurrent_sessions: 1,
    },
  };
  writeFileSync(join(dir, 'config.yaml'), stringify(raw));
  config = loadConfigFile(join(dir, 'config.yaml'));
  deployment = await startLocalDeployment(config, join(dir, 'config.yaml'), join(dir, 'logs'));
  model = loadModel(join(dir, 'model'));
  ids = { A: model.tokenizer!.encode('Hello'), B: model.tokenizer!.encode(' world') };
  for (const n of ['client-A', 'client-B']) identities[n] = await loadIdentity(config.deployment.pki_dir, n);
});

after(async () => {
  await deployment?.stop();
  if (process.env.MPC_PROMPT_KEEP_E2E) console.error(`e2e files kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

describe('local deployment (real processes, mTLS)', () => {
  test('two parties submit their parts; both clients receive the same tokens, equal to the plaintext reference', async () => {
    const expected = referenceGenerate(model, [...ids.A, ...ids.B], 6, { greedy: true });
    const [ra, rb] = await jointSession('joint-1', 6);
    assert.deepEqual(ra.ids, expected);
    assert.deepEqual(rb.ids, expected);
    assert.ok(ra.stats && ra.stats.tokens === 6 && ra.stats.roundsPerToken > 0);
  });

  test('with max_concurrent_sessions = 1, three sessions queue and all complete correctly', async () => {
    const expected = referenceGenerate(model, [...ids.A, ...ids.B], 2, { greedy: true });
    const states: string[] = [];
    const a = client(identities['client-A']);
    const poll = setInterval(() => {
      a.listSessions({}, (e, r) => {
        if (!e) states.push(...r.sessions.filter((x) => x.sessionName.startsWith('queue-')).map((x) => x.state));
      });
    }, 50);
    const runs = await Promise.all([0, 1, 2].map((i) => jointSession(`queue-${i}`, 2)));
    clearInterval(poll);
    a.close();
    for (const [ra, rb] of runs) {
      assert.deepEqual(ra.ids, expected);
      assert.deepEqual(rb.ids, expected);
    }
    assert.ok(states.includes('queued'), `a session should have waited in the queue (saw ${[...new Set(states)].join(', ')})`);
  });

  test('refusals carry a clear status and leave a running session unaffected', async () => {
    const running = jointSession('running-during-refusals', 4);
    const ca = identities['client-A'].ca;
    const codeOf = async (p: Promise<unknown>): Promise<{ code: number; details: string }> => {
      try {
        await p;
      } catch (e) {
        return { code: (e as grpc.ServiceError).code, details: (e as grpc.ServiceError).details };
      }
      assert.fail('expected a refusal');
    };
    // No client certificate: the TLS handshake is refused.
    const noCert = client(grpc.credentials.createSsl(Buffer.from(ca)));
    assert.equal((await codeOf(call((cb) => noCert.listSessions({}, cb)))).code, grpc.status.UNAVAILABLE);
    noCert.close();
    // A certificate from another CA.
    const otherPki = join(dir, 'other-pki');
    await initDevPki(otherPki, { names: ['client-A'] });
    const other = await loadIdentity(otherPki, 'client-A');
    const foreign = client({ ...other, ca });
    assert.equal((await codeOf(call((cb) => foreign.listSessions({}, cb)))).code, grpc.status.UNAVAILABLE);
    foreign.close();

    const a = client(identities['client-A']);
    const parties = await call<{ parties: RegisterPartyRequest[] }>((cb) => a.listParties({}, cb));
    const keys = verifiedNodeKeys(config, ca, parties.parties);
    const request = (over: Partial<SubmitPromptRequest>, prompt: number[] = ids.A): SubmitPromptRequest => ({
      sessionName: 'refusals',
      partyId: 'A',
      length: prompt.length,
      sealedShares: Object.fromEntries(
        [...sealPromptPart(prompt, model.config.vocabSize, 'refusals', 'A', keys)].map(([k, v]) => [k, Buffer.from(v)]),
      ),
      maxNewTokens: 4,
      sampling: { topK: 0, temperature: 1, seed: '' },
      ...over,
    });
    // A party submitting as someone else.
    const asB = await codeOf(call((cb) => a.submitPrompt(request({ partyId: 'B' }), cb)));
    assert.equal(asB.code, grpc.status.PERMISSION_DENIED);
    assert.match(asB.details, /client-A may not submit as party B/);
    // A prompt over scheduler.max_context.
    const long = await codeOf(call((cb) => a.submitPrompt(request({ length: MAX_CONTEXT + 1 }), cb)));
    assert.equal(long.code, grpc.status.INVALID_ARGUMENT);
    assert.match(long.details, /max_context/);
    // A valid 2-token part whose 48 new tokens would not fit in 48 positions.
    const tooMany = await codeOf(call((cb) => a.submitPrompt(request({ maxNewTokens: MAX_CONTEXT }, [ids.A[0], ids.A[0]]), cb)));
    assert.equal(tooMany.code, grpc.status.INVALID_ARGUMENT);
    assert.match(tooMany.details, /max_context/);
    // Malformed: a share for one node only; a share of the wrong size; a bad session name.
    const missing = await codeOf(call((cb) => a.submitPrompt(request({ sealedShares: { A: Buffer.alloc(10) } }), cb)));
    assert.equal(missing.code, grpc.status.INVALID_ARGUMENT);
    assert.match(missing.details, /sealed_shares/);
    const wrongSize = await codeOf(
      call((cb) => a.submitPrompt(request({ sealedShares: { A: Buffer.alloc(10), B: Buffer.alloc(10) } }), cb)),
    );
    assert.equal(wrongSize.code, grpc.status.INVALID_ARGUMENT);
    const badName = await codeOf(call((cb) => a.submitPrompt(request({ sessionName: 'x'.repeat(65) }), cb)));
    assert.equal(badName.code, grpc.status.INVALID_ARGUMENT);
    // Oversize: a share larger than the protocol's per-token size.
    const big = Buffer.alloc(4 << 20);
    const oversize = await codeOf(call((cb) => a.submitPrompt(request({ sealedShares: { A: big, B: big } }), cb)));
    assert.equal(oversize.code, grpc.status.INVALID_ARGUMENT);
    // Unknown session ids.
    assert.equal((await codeOf(call((cb) => a.getSession({ sessionId: 'no-such-session' }, cb)))).code, grpc.status.NOT_FOUND);
    assert.equal((await codeOf(call((cb) => a.cancelSession({ sessionId: 'no-such-session' }, cb)))).code, grpc.status.NOT_FOUND);
    a.close();

    const [ra] = await running;
    assert.deepEqual(ra.ids, referenceGenerate(model, [...ids.A, ...ids.B], 4, { greedy: true }));
  });

  test('killing a party node mid-generation ends the session with an error on every client within 10 s; after a restart a new session completes', async () => {
    let killedAt = 0;
    const session = jointSession('killed', MAX_CONTEXT - ids.A.length - ids.B.length, () => {
      if (killedAt === 0) {
        killedAt = Date.now();
        deployment.children.get('party-B')?.kill('SIGKILL');
      }
    });
    const results = await Promise.allSettled([session]);
    const elapsed = Date.now() - killedAt;
    assert.equal(results[0].status, 'rejected');
    assert.match(String((results[0] as PromiseRejectedResult).reason), /failed: .*(disconnected|peer)/);
    assert.ok(elapsed < 10_000, `error after ${elapsed} ms`);
    deployment.start('party-B');
    await waitForNodes(config, 30_000);
    const [ra] = await jointSession('after-restart', 3);
    assert.deepEqual(ra.ids, referenceGenerate(model, [...ids.A, ...ids.B], 3, { greedy: true }));
  });

  test('killing the triple service fails new sessions with a clear error; service resumes after a restart', async () => {
    const t = deployment.children.get('triples');
    t?.kill('SIGKILL');
    await new Promise((r) => t?.once('exit', r));
    await assert.rejects(jointSession('no-dealer', 3), /triple service unavailable/);
    deployment.start('triples');
    // The service resumes once the restarted process listens: retry (each try fails fast) until then.
    const deadline = Date.now() + 60_000;
    let attempt = 0;
    let ra: Awaited<ReturnType<typeof jointSession>>[number];
    for (;;) {
      try {
        [ra] = await jointSession(`dealer-back-${attempt++}`, 3);
        break;
      } catch (e) {
        if (Date.now() > deadline || !/triple service unavailable/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    assert.deepEqual(ra.ids, referenceGenerate(model, [...ids.A, ...ids.B], 3, { greedy: true }));
  });
});
