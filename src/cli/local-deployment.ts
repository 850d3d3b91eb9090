/**
 * Starts the local deployment as separate OS processes on loopback — triple service,
 * coordinator, one node per party, and (model_source "enclave") the local KMS and the enclave
 * service — with a dev PKI (created if missing) and mTLS everywhere. In enclave mode the model
 * owner's one-time steps run first (enclave-setup.ts: KMS key with its release policy, encrypted
 * model). Service logs go to <logDir>/<service>.log. Ready when every party node has registered
 * and the enclave accepts connections (it listens only after the KMS released the model key).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDevAttestationRoot } from '../attestation/nitro/dev-root.ts';
import { ValidationError } from '../base/errors.ts';
import type { Config } from '../config/config.ts';
import { CoordinatorClient, type RegisterPartyRequest } from '../services/gen/mpc_prompt/v1/coordinator.ts';
import { CHANNEL_OPTIONS, clientCredentials, splitAddress } from '../services/grpc-common.ts';
import { initDevPki, loadIdentity } from '../services/pki.ts';
import { prepareLocalEnclaveModel } from './enclave-setup.ts';
import { deploymentNames } from './service-commands.ts';

const BIN = fileURLToPath(new URL('../../bin/mpc-prompt.js', import.meta.url));

export interface LocalDeployment {
  readonly children: Map<string, ChildProcess>;
  /** Restarts one service (e.g. after a fault test killed it). */
  start(name: string): ChildProcess;
  stop(): Promise<void>;
}

export async function startLocalDeployment(
  config: Config,
  configPath: string | undefined,
  logDir: string,
  readyTimeoutMs = 90_000,
): Promise<LocalDeployment> {
  const dep = config.deployment;
  const nice = triplesNice();
  const names = deploymentNames(dep.parties.map((p) => p.id));
  if (!names.every((n) => existsSync(join(dep.pki_dir, `${n}.crt`)))) await initDevPki(dep.pki_dir, { names });
  await ensureDevAttestationRoot(dep.pki_dir);
  const enclave = dep.model_source === 'enclave';
  if (enclave) await prepareLocalEnclaveModel(config);
  mkdirSync(logDir, { recursive: true });
  const env = { ...process.env, ...(configPath ? { MPC_PROMPT_CONFIG: configPath } : {}) };
  const commands = new Map<string, string[]>([
    ...(enclave ? [['kms', ['kms']] as [string, string[]], ['enclave', ['enclave']] as [string, string[]]] : []),
    ['triples', ['triples']],
    ['coordinator', ['coordinator']],
    ...dep.parties.map((p) => [`party-${p.id}`, ['party', '--id', p.id]] as [string, string[]]),
  ]);
  const children = new Map<string, ChildProcess>();
  const start = (name: string): ChildProcess => {
    const log = openSync(join(logDir, `${name}.log`), 'a');
    const child = spawn(process.execPath, [...childExecArgv(), BIN, ...(commands.get(name) as string[])], {
      env,
      stdio: ['ignore', log, log],
    });
    children.set(name, child);
    if (name === 'triples' && child.pid !== undefined && nice > 0) setPriority(child.pid, nice);
    return child;
  };
  for (const name of commands.keys()) start(name);

  const stop = async (): Promise<void> => {
    await Promise.all(
      [...children.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  };

  try {
    await waitForNodes(config, readyTimeoutMs, children);
    // The nodes register before the triple service need be up (it starts at a lower priority).
    await waitForListener(dep.triples, readyTimeoutMs, children);
    if (enclave) await waitForListener(dep.enclave.address, readyTimeoutMs, children);
  } catch (e) {
    await stop();
    const tails = [...commands.keys()].map((n) => `--- ${n}.log ---\n${tail(join(logDir, `${n}.log`))}`).join('\n');
    throw new Error(`${(e as Error).message}\n${tails}`);
  }
  return { children, start, stop };
}

/**
 * CPU niceness of the local deployment's triple service (`MPC_PROMPT_TRIPLES_NICE`, default 10;
 * 0 = the parties' priority). Everything shares one machine here, and the triple service's work
 * is preprocessing, requested ahead of the steps that use it (pools refilled at half): at a
 * lower priority it runs in the gaps where a party waits for a round trip instead of taking a
 * core from a party mid-step, which makes the other party wait. When a party does wait for a
 * refill, the triple service is the runnable process and gets the core anyway.
 */
export function triplesNice(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MPC_PROMPT_TRIPLES_NICE;
  if (raw === undefined || raw === '') return 10;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0 || v > 19)
    throw new ValidationError(`expected an integer in [0, 19], got ${JSON.stringify(raw)}`, 'MPC_PROMPT_TRIPLES_NICE');
  return v;
}

/**
 * V8 heap flags every service process runs with (also in bin/mpc-prompt.js's shebang, so that
 * `npx mpc-prompt party …` started by hand gets them; a test keeps the two equal). Why: a decode
 * step allocates hundreds of MB of short-lived typed arrays per process, and with V8's default
 * heap sizing (an old-generation limit a few MB above a ≈ 17 MB live heap) that started a full
 * mark-compact every ≈ 130 ms — ≈ 17 per GPT-2-small step in each process, each with a pause, a
 * concurrent marking thread competing for the 2 cores, and array-buffer sweeping; about 30 % of
 * every process's decode CPU. A 1 GiB initial old generation (a limit, not a reservation) and
 * 32 MiB semi-spaces bring that down to ≈ 1 mark-compact per step: GPT-2-small decode went from
 * 1.55 to 1.11 s per token, CPU per step from 1.11 / 1.01 / 0.69 s (party A / B / triple
 * service) to 0.73 / 0.83 / 0.46 s, peak RSS of party A 3,686 → 3,720 MiB (README,
 * performance, lever 13). The live heap stays small: the cost is garbage that lives longer.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=1024', '--max-semi-space-size=32'];

/**
 * Node.js flags of the service processes: {@link SERVICE_NODE_FLAGS}, then the extra flags in
 * MPC_PROMPT_NODE_FLAGS (space-separated; later flags win), e.g. "--cpu-prof --cpu-prof-dir=DIR"
 * to profile every service or "--trace-gc" (with `bench --logs DIR`) — flags that NODE_OPTIONS
 * does not allow.
 */
function childExecArgv(): string[] {
  return [...SERVICE_NODE_FLAGS, ...(process.env.MPC_PROMPT_NODE_FLAGS ?? '').split(' ').filter((f) => f.length > 0)];
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-8).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls until host:port accepts TCP connections (the enclave binds only once it holds the model). */
async function waitForListener(address: string, timeoutMs: number, children: Map<string, ChildProcess>): Promise<void> {
  const { host, port } = splitAddress(address);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const [name, c] of children) if (c.exitCode !== null) throw new Error(`${name} exited with code ${c.exitCode} during start-up`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${address} did not accept connections within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Polls the coordinator until every configured node has registered. */
export async function waitForNodes(config: Config, timeoutMs: number, children?: Map<string, ChildProcess>): Promise<void> {
  const dep = config.deployment;
  const id = await loadIdentity(dep.pki_dir, `client-${dep.parties[0].id}`);
  const client = new CoordinatorClient(dep.coordinator, clientCredentials(id), CHANNEL_OPTIONS);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      for (const [name, c] of children ?? [])
        if (c.exitCode !== null) throw new Error(`${name} exited with code ${c.exitCode} during start-up`);
      const parties = await new Promise<RegisterPartyRequest[]>((resolve) => client.listParties({}, (e, r) => resolve(e ? [] : r.parties)));
      if (dep.parties.every((p) => parties.some((r) => r.partyId === p.id))) return;
      if (Date.now() > deadline) throw new Error(`the local deployment did not become ready within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    client.close();
  }
}
