/**
 * Latency and throughput of the mTLS party-to-party channel (src/net/tls-channel.ts) on loopback.
 *
 *   node --import tsx bench/transport.ts [--json] [--one-process]
 *
 * Two parties with dev-PKI certificates (P-256, TLS 1.3). By default party 1 runs in a child
 * process (child_process.fork), as in a deployment; --one-process runs both in this event loop.
 *   rtt        ping-pong: party 0 sends 16 bytes, party 1 echoes them; median/p10/p90 of 1000
 *   exchange   both parties call exchange(16 bytes) (one MPC round); median/p10/p90 of 1000
 *   throughput party 0 sends 64 frames of 1 MiB, party 1 acknowledges the last; MB/s = 10^6 B/s,
 *              median of 5 repetitions
 *   cpu        party 0's CPU time (user + system, process.cpuUsage) per exchange of 1 KiB, 16 KiB,
 *              64 KiB and 256 KiB, 500 exchanges each: what one MPC round costs a party in CPU
 *              besides its computation
 * Warm-up: 200 round trips and one throughput repetition, not counted.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Channel } from '../src/net/channel.ts';
import { connectTlsNetwork, TlsListener, type TlsNetworkOptions } from '../src/net/tls-channel.ts';
import { initDevPki, loadIdentity } from '../src/services/pki.ts';

const ROUNDS = 1000;
const WARMUP = 200;
const FRAME = 1 << 20;
const FRAMES = 64;
const REPS = 5;
const CPU_SIZES = [1 << 10, 1 << 14, 1 << 16, 1 << 18];
const CPU_ROUNDS = 500;
const IDENTITIES = ['party-A', 'party-B'];

const now = (): number => Number(process.hrtime.bigint()) / 1e3; // µs

function summary(samples: number[]) {
  const s = [...samples].sort((x, y) => x - y);
  const at = (q: number): number => Number(s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(1));
  return { median_us: at(0.5), p10_us: at(0.1), p90_us: at(0.9), n: s.length };
}

/** Party 0: drives every phase and takes the timings. */
async function leader(ch: Channel) {
  const msg = new Uint8Array(16).fill(7);
  const rtt: number[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const t = now();
    ch.send(1, msg);
    await ch.receive(1);
    if (i >= WARMUP) rtt.push(now() - t);
  }
  const exchange: number[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const t = now();
    await ch.exchange(msg);
    if (i >= WARMUP) exchange.push(now() - t);
  }
  const frame = new Uint8Array(FRAME).fill(1);
  const rates: number[] = [];
  for (let r = 0; r < REPS + 1; r++) {
    const t = now();
    for (let k = 0; k < FRAMES; k++) ch.send(1, frame);
    await ch.receive(1);
    if (r > 0) rates.push((FRAME * FRAMES) / (now() - t)); // bytes/µs = MB/s
  }
  rates.sort((x, y) => x - y);
  const cpu: Record<string, number> = {};
  for (const size of CPU_SIZES) {
    const m = new Uint8Array(size).fill(3);
    for (let i = 0; i < WARMUP; i++) await ch.exchange(m);
    const before = process.cpuUsage();
    for (let i = 0; i < CPU_ROUNDS; i++) await ch.exchange(m);
    const used = process.cpuUsage(before);
    cpu[`${size / 1024}KiB`] = Number(((used.user + used.system) / CPU_ROUNDS).toFixed(1));
  }
  return {
    rtt_16B: summary(rtt),
    exchange_16B: summary(exchange),
    throughput_1MiB_frames: {
      MBps: Math.round(rates[Math.floor(rates.length / 2)]),
      min_MBps: Math.round(rates[0]),
      frames: FRAMES,
      reps: REPS,
    },
    cpu_us_per_exchange: cpu,
  };
}

/** Party 1: mirrors the leader's phases. */
async function follower(ch: Channel): Promise<void> {
  for (let i = 0; i < WARMUP + ROUNDS; i++) ch.send(0, await ch.receive(0));
  const msg = new Uint8Array(16).fill(9);
  for (let i = 0; i < WARMUP + ROUNDS; i++) await ch.exchange(msg);
  for (let r = 0; r < REPS + 1; r++) {
    for (let k = 0; k < FRAMES; k++) await ch.receive(0);
    ch.send(0, Uint8Array.of(1));
  }
  for (const size of CPU_SIZES) {
    const m = new Uint8Array(size).fill(4);
    for (let i = 0; i < WARMUP + CPU_ROUNDS; i++) await ch.exchange(m);
  }
}

function options(dir: string, id: number, port: number): Promise<TlsNetworkOptions> {
  return loadIdentity(dir, IDENTITIES[id]).then((tls) => ({
    id,
    n: 2,
    sessionId: 'bench',
    addresses: [
      { host: '127.0.0.1', port },
      { host: '127.0.0.1', port: 0 },
    ],
    identities: IDENTITIES,
    tls,
  }));
}

/** Child process (party 1): argv = --child DIR PORT. */
async function child(dir: string, port: number): Promise<void> {
  const ch = await connectTlsNetwork(await options(dir, 1, port));
  await follower(ch);
  ch.close();
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const oneProcess = process.argv.includes('--one-process');
  const dir = await mkdtemp(join(os.tmpdir(), 'bench-transport-'));
  try {
    await initDevPki(dir, { names: IDENTITIES });
    const o0 = await options(dir, 0, 0);
    const listener = await TlsListener.listen({ tls: o0.tls });
    const port = listener.port;
    let other: Promise<void>;
    if (oneProcess) {
      other = options(dir, 1, port).then(connectTlsNetwork).then(follower);
    } else {
      const proc = fork(fileURLToPath(import.meta.url), ['--child', dir, String(port)], { execArgv: ['--import', 'tsx'] });
      other = new Promise((resolve, reject) =>
        proc.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`party 1 exited with ${code}`)))),
      );
    }
    const ch = await connectTlsNetwork({ ...o0, addresses: [{ host: '127.0.0.1', port }, o0.addresses[1]], listener });
    const result = await leader(ch);
    await other;
    ch.close();
    listener.close();
    const report = {
      transport: 'mTLS (node:tls, TLS 1.3, P-256), u32-length frames, TCP_NODELAY, loopback',
      processes: oneProcess ? 1 : 2,
      ...result,
      node: process.version,
      cpus: os.cpus().length,
      loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    };
    if (json) console.log(JSON.stringify(report, null, 2));
    else {
      const { rtt_16B: r, exchange_16B: e, throughput_1MiB_frames: t } = result;
      console.log(`processes ${report.processes}`);
      console.log(`rtt 16 B        median ${r.median_us} µs (p10 ${r.p10_us}, p90 ${r.p90_us})`);
      console.log(`exchange 16 B   median ${e.median_us} µs (p10 ${e.p10_us}, p90 ${e.p90_us})`);
      console.log(`1 MiB frames    ${t.MBps} MB/s (min ${t.min_MBps})`);
      console.log(`CPU per exchange (party 0, µs): ${JSON.stringify(result.cpu_us_per_exchange)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const i = process.argv.indexOf('--child');
await (i >= 0 ? child(process.argv[i + 1], Number(process.argv[i + 2])) : main());
