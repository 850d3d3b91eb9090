/**
 * mpc-prompt up   [--config FILE]            start the local deployment and keep it running
 * mpc-prompt demo [--config FILE] [--a N --b N] [--security MODE]
 *   starts it, has party A's client submit "N+" and party B's client submit "M=" (each only
 *   knows its own number; the prompt is the parts in party order), streams the tokens the
 *   parties generate under MPC, checks the answer against the true sum and against the
 *   plaintext reference model, prints the stats and shuts everything down.
 * mpc-prompt submit --party ID [--config FILE] [--session NAME] [--max-new-tokens N] "text"
 */
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ValidationError } from '../base/errors.ts';
import { aint } from '../base/validate.ts';
import { validateConfig, type Config } from '../config/config.ts';
import { loadModel } from '../formats/load-model.ts';
import { referenceGenerate } from '../reference/generate.ts';
import { submitPrompt } from '../services/client/submit.ts';
import { loadIdentity } from '../services/pki.ts';
import { startLocalDeployment } from './local-deployment.ts';
import { loadDeploymentConfig } from './service-runtime.ts';

type Out = (line: string) => void;

export async function upCommand(argv: string[], out: Out): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, logs: { type: 'string', default: '.mpc-prompt/logs' } },
  });
  const config = loadDeploymentConfig(values.config);
  const d = await startLocalDeployment(config, values.config, values.logs as string);
  const dep = config.deployment;
  out(
    `up: coordinator ${dep.coordinator}, triple service ${dep.triples}, party nodes ${dep.parties.map((p) => `${p.id}@${p.data}`).join(', ')}` +
      (dep.model_source === 'enclave' ? `, enclave ${dep.enclave.address} (INSECURE dev attestation), KMS ${dep.enclave.kms}` : ''),
  );
  out(`logs in ${values.logs}; press Ctrl-C to stop`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await d.stop();
  out('stopped');
}

export async function submitCommand(argv: string[], out: Out): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      party: { type: 'string' },
      config: { type: 'string' },
      session: { type: 'string', default: 'default' },
      'max-new-tokens': { type: 'string', default: '16' },
      topk: { type: 'string', default: '0' },
      temperature: { type: 'string', default: '1' },
      seed: { type: 'string', default: '' },
      json: { type: 'boolean', default: false },
    },
  });
  const config = loadDeploymentConfig(values.config);
  const party = values.party;
  if (!party || !config.deployment.parties.some((p) => p.id === party))
    throw new ValidationError(`expected one of ${config.deployment.parties.map((p) => p.id).join(', ')}`, '--party');
  if (positionals.length !== 1) throw new ValidationError('expected exactly one prompt text argument', 'submit');
  const model = loadModel(config.deployment.model);
  if (!model.tokenizer) throw new ValidationError(`${config.deployment.model} has no tokenizer`, 'deployment.model');
  const ids = model.tokenizer.encode(positionals[0]);
  const result = await submitPrompt({
    config,
    partyId: party,
    identity: await loadIdentity(config.deployment.pki_dir, `client-${party}`),
    sessionName: values.session as string,
    ids,
    vocabSize: model.config.vocabSize,
    maxNewTokens: aint(Number(values['max-new-tokens']), '--max-new-tokens', 1, config.scheduler.max_context),
    sampling: {
      topK: aint(Number(values.topk), '--topk', 0, model.config.vocabSize),
      temperature: Number(values.temperature),
      seed: values.seed as string,
    },
    onToken: values.json ? undefined : (id) => process.stdout.write(model.tokenizer?.decode([id]) ?? `${id} `),
  });
  if (values.json)
    out(JSON.stringify({ session_id: result.sessionId, ids: result.ids, text: model.tokenizer.decode(result.ids), stats: result.stats }));
  else out('');
}

export async function demoCommand(argv: string[], out: Out): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      a: { type: 'string' },
      b: { type: 'string' },
      security: { type: 'string' },
      logs: { type: 'string' },
    },
  });
  let config = loadDeploymentConfig(values.config);
  let configPath = values.config;
  if (values.security) {
    config = validateConfig({ ...structuredClone(config), security: { mode: values.security } });
    configPath = writeTempConfig(config);
  }
  const [A, B] = config.deployment.parties;
  if (!A || !B) throw new ValidationError('the demo needs at least two parties', 'deployment.parties');
  const a = values.a === undefined ? randomInt(0, 100) : aint(Number(values.a), '--a', 0, 99);
  const b = values.b === undefined ? randomInt(0, 100) : aint(Number(values.b), '--b', 0, 99);
  const model = loadModel(config.deployment.model);
  const tok = model.tokenizer;
  if (!tok) throw new ValidationError(`${config.deployment.model} has no tokenizer`, 'deployment.model');
  const partA = `${a}+`;
  const partB = `${b}=`;
  const logs = values.logs ?? mkdtempSync(join(tmpdir(), 'mpc-prompt-demo-'));

  out(`MPC-Prompt demo — ${config.security.mode}, ${config.deployment.parties.length} party nodes, model ${config.deployment.model}`);
  out(`  party ${A.id} holds "${partA}"  party ${B.id} holds "${partB}"  (each shared and sealed to the nodes; nobody sees both)`);
  const t0 = performance.now();
  const deployment = await startLocalDeployment(config, configPath, logs);
  out(`  services up in ${((performance.now() - t0) / 1000).toFixed(1)} s (separate processes, mTLS on loopback; logs: ${logs})`);
  if (config.deployment.model_source === 'enclave')
    out(
      `  weights: the enclave service got the model key from the KMS by attestation and deals each node a share over attested mTLS (INSECURE dev attestation: local only)`,
    );
  try {
    const session = `demo-${randomUUID().slice(0, 8)}`;
    const common = { config, sessionName: session, vocabSize: model.config.vocabSize, maxNewTokens: 4 };
    let shown = '';
    const spinner = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let tick = 0;
    const tty = process.stdout.isTTY === true;
    const timer = setInterval(() => tty && process.stdout.write(`\r  generating ${spinner[tick++ % spinner.length]} ${shown}`), 120);
    if (!tty) out('  generating …');
    const t1 = performance.now();
    const [ra] = await Promise.all([
      submitPrompt({
        ...common,
        partyId: A.id,
        identity: await loadIdentity(config.deployment.pki_dir, `client-${A.id}`),
        ids: tok.encode(partA),
        onToken: (id) => (shown += printable(tok.decode([id]))),
      }),
      submitPrompt({
        ...common,
        partyId: B.id,
        identity: await loadIdentity(config.deployment.pki_dir, `client-${B.id}`),
        ids: tok.encode(partB),
      }),
    ]).finally(() => clearInterval(timer));
    const text = tok.decode(ra.ids);
    const answer = text.split('\n')[0];
    process.stdout.write(`${tty ? '\r' : ''}  the parties' model wrote: ${partA}${partB}${answer}${' '.repeat(12)}\n`);
    const s = ra.stats;
    if (s)
      out(
        `  ${s.tokens} tokens in ${((performance.now() - t1) / 1000).toFixed(1)} s; per token: ${s.msPerToken.toFixed(0)} ms, ${(s.bytesPerTokenPerParty / 1e6).toFixed(2)} MB sent per party, ${s.roundsPerToken.toFixed(0)} rounds`,
      );
    const eos = model.config.eosId === undefined ? undefined : [model.config.eosId];
    const plain = tok.decode(referenceGenerate(model, tok.encode(partA + partB), common.maxNewTokens, { greedy: true, stopIds: eos }));
    const sumOk = answer === String(a + b);
    const plainOk = plain === text;
    out(`  check: ${a} + ${b} = ${a + b} ${sumOk ? '✓' : `✗ (model wrote "${answer}")`}`);
    out(`  plaintext check: the float64 reference model writes "${printable(plain)}" ${plainOk ? '✓ (identical)' : '✗ (differs)'}`);
    if (!sumOk || !plainOk) throw new Error('the demo check failed');
  } finally {
    await deployment.stop();
    out('  shut down cleanly');
  }
}

function printable(s: string): string {
  return s.replace(/\n/g, '⏎');
}

function writeTempConfig(config: Config): string {
  const path = join(mkdtempSync(join(tmpdir(), 'mpc-prompt-config-')), 'config.yaml');
  writeFileSync(path, stringify(config));
  return path;
}
