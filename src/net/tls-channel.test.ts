import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runChannelConformance } from '../../test/conformance/channel.case.ts';
import { ProtocolAbort } from '../base/errors.ts';
import { initDevPki, loadIdentity, type TlsIdentity } from '../services/pki.ts';
import { connectTlsNetwork, TlsListener, type TlsChannel, type TlsNetworkOptions } from './tls-channel.ts';

const NAMES = ['party-A', 'party-B', 'party-C'];
const dir = await mkdtemp(join(tmpdir(), 'tls-channel-test-'));
const otherDir = await mkdtemp(join(tmpdir(), 'tls-channel-other-ca-'));
await initDevPki(dir, { names: NAMES });
await initDevPki(otherDir, { names: NAMES });
const creds = await Promise.all(NAMES.map((name) => loadIdentity(dir, name)));
const foreign = await Promise.all(NAMES.map((name) => loadIdentity(otherDir, name)));
after(() => Promise.all([rm(dir, { recursive: true, force: true }), rm(otherDir, { recursive: true, force: true })]));

type PartyOverrides = Partial<Omit<TlsNetworkOptions, 'id' | 'n' | 'addresses'>>;

/** Opens listeners for parties 0..n-2 and connects all n parties (per-party option overrides). */
async function network(n: number, over: (i: number) => PartyOverrides = () => ({})) {
  const tlsOf = (i: number): TlsIdentity => over(i).tls ?? creds[i];
  const listeners = await Promise.all(Array.from({ length: n - 1 }, (_, i) => TlsListener.listen({ tls: tlsOf(i) })));
  const addresses = Array.from({ length: n }, (_, i) => ({ host: '127.0.0.1', port: listeners[i]?.port ?? 0 }));
  const connect = (sessionId?: string) =>
    Array.from({ length: n }, (_, id) =>
      connectTlsNetwork({
        id,
        n,
        addresses,
        identities: NAMES.slice(0, n),
        tls: creds[id],
        listener: listeners[id],
        sessionId,
        ...over(id),
      }),
    );
  const closeListeners = () => listeners.forEach((l) => l.close());
  return { listeners, connect, closeListeners };
}

async function connected(n: number, over?: (i: number) => PartyOverrides) {
  const net = await network(n, over);
  const channels = await Promise.all(net.connect());
  const dispose = async () => {
    channels.forEach((c) => c.close());
    net.closeListeners();
  };
  return { channels, dispose };
}

runChannelConformance({ name: 'TlsChannel', create: connected });

test('several sessions share the listeners without mixing their frames', async () => {
  const net = await network(3);
  const sessions = await Promise.all(['s1', 's2'].map((s) => Promise.all(net.connect(s))));
  try {
    const got = await Promise.all(sessions.flatMap((chs, s) => chs.map((ch) => ch.exchange(Uint8Array.of(s, ch.id)))));
    got.forEach((msgs, k) => msgs.forEach((m, j) => assert.deepEqual([...m], [Math.floor(k / 3), j])));
  } finally {
    sessions.flat().forEach((c) => c.close());
    net.closeListeners();
  }
});

test('a peer whose certificate is from a different CA is refused', async () => {
  const net = await network(2, (i) =>
    i === 1 ? { tls: { ...foreign[1], ca: creds[1].ca }, connectTimeoutMs: 5000 } : { connectTimeoutMs: 400 },
  );
  const t0 = performance.now();
  const [p0, p1] = net.connect();
  const dialer = assert.rejects(p1, /party 1 → party 0 .*certificate was rejected/).then(() => performance.now() - t0);
  await Promise.all([dialer, assert.rejects(p0, /did not connect in time/)]);
  assert.ok((await dialer) < 1000, 'the dialer fails at once, without retrying');
  net.closeListeners();
  // ... and a listener with a foreign certificate is refused by the dialer.
  const net2 = await network(2, (i) => (i === 0 ? { tls: { ...foreign[0], ca: creds[0].ca }, connectTimeoutMs: 400 } : {}));
  const [q0, q1] = net2.connect();
  await Promise.all([assert.rejects(q1, /party 1 → party 0 .*certificate/), assert.rejects(q0, /did not connect in time/)]);
  net2.closeListeners();
});

test("a peer presenting party B's certificate while claiming to be party A is refused", async () => {
  // party 0 is C, party 1 should be A but presents B's (valid, same-CA) certificate.
  const identities = ['party-C', 'party-A'];
  const net = await network(2, (i) => ({ identities, tls: i === 0 ? creds[2] : creds[1], connectTimeoutMs: 400 }));
  const [p0, p1] = net.connect();
  await Promise.all([
    assert.rejects(p1, /party 1 → party 0 .*: refused the connection: certificate CN party-B is not the identity of party 1/),
    assert.rejects(p0, /did not connect in time/),
  ]);
  net.closeListeners();
  // A listener presenting the wrong identity is refused by the dialer.
  const net2 = await network(2, (i) => ({ identities, tls: i === 0 ? creds[1] : creds[0], connectTimeoutMs: 400 }));
  const [q0, q1] = net2.connect();
  await Promise.all([assert.rejects(q1, /CN party-B is not party-C/), assert.rejects(q0, /did not connect in time/)]);
  net2.closeListeners();
});

test('a dead peer fails pending and future receives with ProtocolAbort within 1 s', async () => {
  const { channels, dispose } = await connected(2);
  try {
    const [a, b] = channels as TlsChannel[];
    const pending = a.receive(1);
    const t0 = performance.now();
    b.socketTo(0).destroy(); // the connection dies without a goodbye
    await assert.rejects(pending, (e: Error) => e instanceof ProtocolAbort && /^peer 1 disconnected$/.test(e.message));
    assert.ok(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms`);
    await assert.rejects(a.receive(1), /peer 1 disconnected/);
    assert.throws(() => a.send(1, Uint8Array.of(1)), /peer 1 disconnected/);
  } finally {
    await dispose();
  }
});

test('a lost connection aborts the whole session at every party', async () => {
  const { channels, dispose } = await connected(3);
  try {
    const [a, b, c] = channels as TlsChannel[];
    const pending = [a.receive(2), b.receive(2), c.receive(0), c.receive(1)];
    const t0 = performance.now();
    b.socketTo(0).destroy();
    await Promise.all(pending.map((p) => assert.rejects(p, (e: Error) => e instanceof ProtocolAbort && /disconnected/.test(e.message))));
    assert.ok(performance.now() - t0 < 1000, `took ${performance.now() - t0} ms`);
  } finally {
    await dispose();
  }
});

test('close() is a normal end: queued frames arrive, then receives from that party fail; others go on', async () => {
  const { channels, dispose } = await connected(3);
  try {
    const [a, b, c] = channels;
    a.send(1, Uint8Array.of(7));
    a.close();
    assert.deepEqual([...(await b.receive(0))], [7]);
    await assert.rejects(b.receive(0), /peer 0 closed the channel$/);
    b.send(2, Uint8Array.of(5));
    assert.deepEqual([...(await c.receive(1))], [5]);
  } finally {
    await dispose();
  }
});

test('oversize frames are rejected on send and on receive', async () => {
  const { channels, dispose } = await connected(2, (i) => ({ maxFrameBytes: i === 0 ? 1024 : 4096 }));
  try {
    const [a, b] = channels;
    assert.throws(() => a.send(1, new Uint8Array(1025)), ProtocolAbort);
    a.send(1, new Uint8Array(1024));
    assert.equal((await b.receive(0)).length, 1024);
    b.send(0, new Uint8Array(2048));
    await assert.rejects(a.receive(1), (e: Error) => e instanceof ProtocolAbort && /frame of 2048 bytes \(max 1024\)/.test(e.message));
    await assert.rejects(b.receive(0), ProtocolAbort, 'the sender learns the session is aborted');
  } finally {
    await dispose();
  }
});

test('dialers retry until a late peer starts listening; large frames round-trip intact', async () => {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const addresses = [
    { host: '127.0.0.1', port },
    { host: '127.0.0.1', port: 0 },
  ];
  const base = { n: 2, addresses, identities: NAMES.slice(0, 2), retryDelayMs: 50, connectTimeoutMs: 5000 };
  const late = connectTlsNetwork({ ...base, id: 1, tls: creds[1] });
  await sleep(300);
  const [b, a] = await Promise.all([late, connectTlsNetwork({ ...base, id: 0, tls: creds[0] })]);
  try {
    const big = new Uint8Array(3 << 20).map((_, i) => i * 7);
    a.send(1, big);
    assert.deepEqual(await b.receive(0), big);
  } finally {
    a.close();
    b.close();
  }
});
