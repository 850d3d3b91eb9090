/**
 * One benchmark configuration through the real services: a fresh local deployment on free
 * loopback ports (triple service, coordinator, one node per party: separate OS processes, mTLS),
 * `sessions` concurrent sessions, each with a `promptTokens`-token prompt held by party A and
 * `decodeTokens` generated greedily. Returns the nodes' own measurements (SessionStats), the
 * wall-clock throughput and every process's peak RSS (VmHWM, Linux).
 * The model is a path or a random-model spec (gpt2-small-random): party A's node inputs the
 * weights (model_source "owner"), so no encrypted copy of a benchmark model is needed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { submitPrompt } from '../../services/client/submit.ts';
import type { SessionStats } from '../../services/gen/mpc_prompt/v1/coordinator.ts';
import { loadIdentity } from '../../services/pki.ts';
import { startLocalDeployment } from '../local-deployment.ts';
import { scratchOwnerDeployment } from '../scratch-deployment.ts';

export interface RunSpec {
  readonly model: string;
  readonly vocabSize: number;
  readonly parties: number;
  readonly security: 'semi-honest' | 'malicious';
  readonly promptTokens: number;
  readonly decodeTokens: number;
  readonly sessions: number;
  /** scheduler.prefill_chunk (most prompt rows per prefill pass). */
  readonly prefillChunk: number;
  /** scheduler.prefill_max_scores (most attention scores per head in one prefill pass). */
  readonly prefillMaxScores: number;
  /** Start-up limit (the owner node generates or loads the model). */
  readonly readyTimeoutMs?: number;
  /** Keep the services' logs here (created if missing); by default they go to a scratch directory deleted after a successful run. */
  readonly logDir?: string;
  readonly log?: (line: string) => void;
}

export interface RunResult {
  readonly stats: SessionStats[];
  /** Generated ids of each session. */
  readonly ids: number[][];
  /** Decode tokens per second over all sessions (wall clock from the first to the last decode step). */
  readonly tokensPerSecond: number;
  readonly wallMs: number;
  /** Peak resident set size per process (MB), by service name. */
  readonly peakRssMb: Record<string, number>;
  /** Largest RSS of each process sampled (every 250 ms) during the decode steps, in MB. */
  readonly decodeRssMb: Record<string, number>;
  /** CPU time (user + system) of each process per decode step, from the first to the last token. */
  readonly cpuMsPerToken: Record<string, number>;
}

/** CPU time (user + system) a process has used, in ms, or undefined if unavailable (/proc). */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on Linux for every architecture Node supports. */
const CLOCK_TICKS = 100;

/** A memory field of /proc/PID/status (VmRSS: current RSS, VmHWM: peak RSS) in MB, or -1 if unavailable. */
function statusMb(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) return -1;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : -1;
  } catch {
    return -1;
  }
}

/** Deterministic public prompt ids (benchmark input, not a secret). */
export function benchPrompt(length: number, vocab: number, salt = 0): number[] {
  return Array.from({ length }, (_, i) => (i * 7919 + salt * 104729 + 13) % vocab);
}

export async function runDeployment(spec: RunSpec): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-bench-'));
  const {
    config,
    configPath,
    partyIds: ids,
  } = await scratchOwnerDeployment(dir, {
    parties: spec.parties,
    model: spec.model,
    top: {
      security: { mode: spec.security },
      scheduler: {
        max_context: spec.promptTokens + spec.decodeTokens,
        prefill_chunk: spec.prefillChunk,
        prefill_max_scores: spec.prefillMaxScores,
      },
    },
    deployment: { max_concurrent_sessions: spec.sessions, session_timeout_s: 86_400 },
  });
  const t0 = performance.now();
  const logDir = spec.logDir ?? join(dir, 'logs');
  const deployment = await startLocalDeployment(config, configPath, logDir, spec.readyTimeoutMs ?? 600_000);
  spec.log?.(`deployment up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let failed = false;
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    const identities = await Promise.all(ids.map((id) => loadIdentity(config.deployment.pki_dir, `client-${id}`)));
    const firstDecode: number[] = [];
    let cpuAtFirst: Map<string, number | undefined> | undefined;
    // RSS while decoding (the whole-run peak VmHWM includes weight setup and prefill).
    const decodeRss: Record<string, number> = {};
    sampler = setInterval(() => {
      if (!cpuAtFirst) return;
      for (const [n, c] of deployment.children) decodeRss[n] = Math.max(decodeRss[n] ?? -1, statusMb(c.pid, 'VmRSS'));
    }, 250);
    const cpuNow = (): Map<string, number | undefined> => new Map([...deployment.children].map(([n, c]) => [n, cpuMs(c.pid)]));
    const lastDecode: number[] = [];
    const start = performance.now();
    const sessions = await Promise.all(
      Array.from({ length: spec.sessions }, (_, s) =>
        Promise.all(
          ids.map((id, i) =>
            submitPrompt({
              config,
              partyId: id,
              identity: identities[i],
              sessionName: `bench-${s}`,
              ids: i === 0 ? benchPrompt(spec.promptTokens, spec.vocabSize, s) : [],
              vocabSize: spec.vocabSize,
              maxNewTokens: spec.decodeTokens,
              onToken:
                i === 0
                  ? (_tok, index) => {
                      if (index === 0) firstDecode.push(performance.now());
                      if (index === 0 && s === 0) cpuAtFirst = cpuNow();
                      lastDecode.push(performance.now());
                      spec.log?.(`session ${s}: token ${index + 1}/${spec.decodeTokens}`);
                    }
                  : undefined,
            }),
          ),
        ),
      ),
    );
    const wallMs = performance.now() - start;
    const cpuAtEnd = cpuNow();
    const peak: Record<string, number> = {};
    for (const [name, child] of deployment.children) peak[name] = statusMb(child.pid, 'VmHWM');
    const steps = spec.sessions * (spec.decodeTokens - 1);
    const span = Math.max(...lastDecode) - Math.min(...firstDecode);
    return {
      stats: sessions.map((r) => r[0].stats as SessionStats),
      ids: sessions.map((r) => r[0].ids),
      tokensPerSecond: steps > 0 && span > 0 ? (steps * 1000) / span : 0,
      wallMs,
      peakRssMb: peak,
      decodeRssMb: decodeRss,
      cpuMsPerToken: Object.fromEntries(
        [...cpuAtEnd].flatMap(([n, end]) => {
          const begin = cpuAtFirst?.get(n);
          return end === undefined || begin === undefined || steps === 0 ? [] : [[n, Math.round((end - begin) / steps)]];
        }),
      ),
    };
  } catch (e) {
    failed = true;
    // A process that died says how (e.g. SIGKILL from the kernel's OOM killer leaves no log line).
    const tails = [...deployment.children]
      .map(([n, c]) => {
        const how = c.signalCode ? `killed by ${c.signalCode}` : c.exitCode !== null ? `exited with code ${c.exitCode}` : 'running';
        return `--- ${n} (${how}) ${n}.log ---\n${tail(join(logDir, `${n}.log`))}`;
      })
      .join('\n');
    throw new Error(`${(e as Error).message}\n(logs kept in ${logDir})\n${tails}`, { cause: e });
  } finally {
    clearInterval(sampler);
    await deployment.stop();
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-6).join('\n');
  } catch {
    return '(no log)';
  }
}
