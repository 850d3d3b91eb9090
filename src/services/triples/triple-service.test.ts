import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { runTripleSourceConformance } from '../../../test/conformance/triple-source.case.ts';
import { DesyncError, ProtocolAbort, ValidationError } from '../../base/errors.ts';
import { randomRingTensor } from '../../crypto/prg.ts';
import { createMemoryNetwork } from '../../net/memory-channel.ts';
import type { SecurityMode } from '../../preprocessing/dealer-session.ts';
import { formatMaterialKey, parseMaterialKey } from '../../preprocessing/material-request.ts';
import { mul } from '../../protocols/beaver.ts';
import { createPartyContext } from '../../protocols/context.ts';
import { input } from '../../protocols/input.ts';
import { reveal } from '../../protocols/reveal.ts';
import { Z128, Z64 } from '../../ring/ring.ts';
import * as T from '../../ring/tensor.ts';
import { reconstruct } from '../../sharing/additive.ts';
import type { SecretTensor } from '../../sharing/secret-tensor.ts';
import { initDevPki, loadIdentity, type TlsIdentity } from '../pki.ts';
import { connectTripleService, TripleServiceError, type TripleServiceSource } from './triple-client.ts';
import { startTripleService, type TripleService, type TripleServiceOptions } from './triple-server.ts';

const PARTIES = ['party-0', 'party-1', 'party-2'];
let dir: string;
let otherDir: string;
let serviceId: TlsIdentity;
let partyIds: TlsIdentity[];
let sessionCounter = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'triples-test-'));
  otherDir = await mkdtemp(join(tmpdir(), 'triples-other-ca-'));
  await initDevPki(dir, { names: ['triples', ...PARTIES, 'client-A'] });
  await initDevPki(otherDir, { names: ['party-0'] });
  serviceId = await loadIdentity(dir, 'triples');
  partyIds = await Promise.all(PARTIES.map((p) => loadIdentity(dir, p)));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(otherDir, { recursive: true, force: true });
});

const startService = (o: Partial<TripleServiceOptions> = {}): Promise<TripleService> =>
  startTripleService({ identity: serviceId, host: '127.0.0.1', port: 0, poolMinSize: 64, maxSessions: 8, sessionIdleMs: 60_000, ...o });

function connectParties(port: number, n: number, mode: SecurityMode, sessionId = `s${++sessionCounter}`): Promise<TripleServiceSource[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      connectTripleService({ address: `127.0.0.1:${port}`, identity: partyIds[i], sessionId, partyIndex: i, parties: n, mode }),
    ),
  );
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const value = (parts: SecretTensor[]): T.RingTensor => reconstruct(parts.map((p) => p.share));

runTripleSourceConformance({
  name: 'TripleService (gRPC, mTLS)',
  create: async (n, mode) => {
    const service = await startService();
    const sources = await connectParties(service.port, n, mode);
    return {
      sources,
      dispose: async () => {
        for (const s of sources) s.close();
        await service.close();
      },
    };
  },
});

describe('material keys', () => {
  test('canonical keys round-trip', () => {
    for (const key of [
      'triple:1024',
      'triple:0',
      'matrix:2x3x4',
      'fixedMask:w.lmHead:64x512',
      'fixedAppend:kv.0.k0:1x8',
      'fixedTriple:w.lmHead:1:N',
      'fixedTriple:kv.0.v1:3:T',
      'square:16',
      'trunc:128:16',
      'compare:128:40',
      'compareXor:128:40',
      'compareRelu:128:40',
      'compareReluPair:128:40',
      'compareXor:128:40:12',
      'compareRelu:12228:40:12',
      'compareReluPair:3:20:19',
      'rowTriple:12x65:P',
      'rowTriple:1x768:S',
      'chebMasks:64:16',
      'chebTrunc:64:16:18',
      'random:4',
      'input:0:12',
      'oneHot:64:16',
      'truncSquare:12:31',
      'truncRow:12x1024:37',
    ])
      assert.equal(formatMaterialKey(parseMaterialKey(key)), key);
  });

  test('untrusted keys are refused with a precise ValidationError', () => {
    const bad: [string, RegExp][] = [
      ['', /empty material key/],
      ['triple', /expected triple:<size>/],
      ['triple:-1', /size must be a decimal integer/],
      ['triple:01', /without sign or leading zeros/],
      ['triple:1e3', /decimal integer/],
      ['triple:4:5', /expected triple:<size>/],
      ['matrix:2x3', /expected mxkxn/],
      ['rowTriple:2x3:Q', /expected P \(products\) or S \(with squares\)/],
      ['rowTriple:2:S', /expected rowsxlen/],
      ['fixedMask:bad id:2x2', /fixed operand id/],
      ['fixedMask::2x2', /fixed operand id/],
      ['fixedTriple:w:2:X', /orientation must be N or T/],
      ['trunc:4:64', /shift must be an integer in \[0, 63\]/],
      ['input:64:4', /owner must be a party index below 64/],
      ['chebTrunc:4:16', /expected chebTrunc:<size>:<degree>:<shift>/],
      ['compareRelu:4:40:0', /low must be at least 1 when given/],
      ['compareRelu:4:40:40', /low must be an integer in \[0, 39\] \(below bits\)/],
      ['compareXor:4:40:12:1', /expected compareXor:<size>:<bits> or compareXor:<size>:<bits>:<low>/],
      ['compare:4:40:12', /expected compare:<size>:<bits>/],
      ['chebTrunc:4:16:0', /shift must be an integer in \[1, 31\]/],
      ['chebTrunc:4:16:32', /shift must be an integer in \[1, 31\]/],
      ['chebTrunc:4:1:18', /degree must be an integer in \[2, 64\]/],
      ['triple:33554432', /exceeds the limit of 33554432|above the limit/],
      ['matrix:4096x4096x4096', /deals 50331648 elements, above the limit/],
      ['truncSquare:4:64', /shift must be an integer in \[0, 63\]/],
      ['truncSquare:4', /expected truncSquare:<size>:<shift>/],
      ['truncSquare:8388608:1', /deals 41943040 elements, above the limit/],
      ['truncRow:4x4:63', /shift must be an integer in \[1, 62\]/],
      ['truncRow:4x4:0', /shift must be an integer in \[1, 62\]/],
      ['truncRow:4:16', /expected rowsxlen/],
      ['truncRow:8192x1024:16', /deals 41951232 elements, above the limit/],
      ['oneHot:4:0', /bits must be an integer in \[1, 20\]/],
      ['oneHot:4:21', /bits must be an integer in \[1, 20\]/],
      ['oneHot:4', /expected oneHot:<rows>:<bits>/],
      ['oneHot:1024:16', /deals 67109888 elements, above the limit/],
      ['beaver:4', /unknown kind "beaver"/],
      [`triple:${'9'.repeat(600)}`, /at most 512/],
    ];
    for (const [key, re] of bad) {
      assert.throws(
        () => parseMaterialKey(key),
        (e: unknown) => e instanceof ValidationError && re.test(e.message),
        key,
      );
    }
    assert.throws(
      () => parseMaterialKey('triple:100', { maxElements: 299, maxParties: 2, maxOperandElements: 299 }),
      /deals 300 elements, above the limit of 299/,
    );
  });
});

describe('triple service', () => {
  test('authorization: only party certificates from the CA get material, one party index per certificate', async () => {
    const service = await startService();
    const address = `127.0.0.1:${service.port}`;
    try {
      const base = { address, sessionId: 'auth', parties: 2, mode: 'semi-honest' as const };
      // A client certificate that is not a party node.
      await assert.rejects(
        connectTripleService({ ...base, identity: await loadIdentity(dir, 'client-A'), partyIndex: 0 }),
        (e: unknown) =>
          e instanceof TripleServiceError && e.code === grpc.status.PERMISSION_DENIED && /client-A is not a party node/.test(e.message),
      );
      // A party certificate from another CA: the TLS handshake fails (whether or not the client
      // trusts the service's CA).
      const foreign = await loadIdentity(otherDir, 'party-0');
      for (const identity of [foreign, { ...foreign, ca: serviceId.ca }]) {
        await assert.rejects(
          connectTripleService({ ...base, identity, partyIndex: 0 }),
          (e: unknown) => e instanceof TripleServiceError && e instanceof ProtocolAbort && e.code === grpc.status.UNAVAILABLE,
        );
      }
      assert.equal(service.stats().sessions, 0);

      const p0 = await connectTripleService({ ...base, identity: partyIds[0], partyIndex: 0 });
      // Disagreeing session parameters, a taken index, and a second index for the same certificate.
      await assert.rejects(
        connectTripleService({ ...base, identity: partyIds[1], partyIndex: 1, mode: 'malicious' }),
        (e: unknown) =>
          e instanceof TripleServiceError && e.code === grpc.status.INVALID_ARGUMENT && /2 parties in semi-honest mode/.test(e.message),
      );
      await assert.rejects(
        connectTripleService({ ...base, identity: partyIds[1], partyIndex: 0 }),
        (e: unknown) => e instanceof TripleServiceError && e.code === grpc.status.ALREADY_EXISTS,
      );
      await assert.rejects(
        connectTripleService({ ...base, identity: partyIds[0], partyIndex: 1 }),
        (e: unknown) =>
          e instanceof TripleServiceError && e.code === grpc.status.PERMISSION_DENIED && /already holds party 0/.test(e.message),
      );
      await assert.rejects(
        connectTripleService({ ...base, identity: partyIds[1], partyIndex: 1, sessionId: 'bad session id' }),
        (e: unknown) => e instanceof TripleServiceError && e.code === grpc.status.INVALID_ARGUMENT,
      );
      const p1 = await connectTripleService({ ...base, identity: partyIds[1], partyIndex: 1 });
      const [t0, t1] = await Promise.all([p0.triples(3), p1.triples(3)]);
      assert.deepEqual(value([t0.c, t1.c]).data, T.mul(value([t0.a, t1.a]), value([t0.b, t1.b])).data);
      p0.close();
      p1.close();
    } finally {
      await service.close();
    }
  });

  test('the client refuses a service whose certificate is not the triple service', async () => {
    // A party certificate from the same CA, posing as the dealer.
    const impostor = await startTripleService({ identity: partyIds[2], port: 0 });
    try {
      await assert.rejects(
        connectTripleService({
          address: `127.0.0.1:${impostor.port}`,
          identity: partyIds[0],
          sessionId: 'x',
          partyIndex: 0,
          parties: 2,
          mode: 'semi-honest',
        }),
        (e: unknown) => e instanceof TripleServiceError && e.code === grpc.status.UNAVAILABLE,
      );
      assert.equal(impostor.stats().sessions, 0);
    } finally {
      await impostor.close();
    }
  });

  test('a bad key or a desync discards the session: every party fails', async () => {
    const service = await startService();
    try {
      const [p0, p1] = await connectParties(service.port, 2, 'semi-honest');
      await assert.rejects(
        p0.fixedMask('bad id', 2, 2),
        (e: unknown) => e instanceof TripleServiceError && /fixed operand id/.test(e.message) && /invalid-request/.test(e.message),
      );
      await until('session discarded', () => service.stats().sessions === 0);
      assert.equal(service.stats().discarded, 1);
      await assert.rejects(p1.triples(2), (e: unknown) => e instanceof ProtocolAbort && /discarded/.test(e.message));
      await assert.rejects(p0.triples(2), ProtocolAbort);

      const [q0, q1] = await connectParties(service.port, 2, 'semi-honest');
      await q0.squares(4);
      await assert.rejects(q1.triples(4), DesyncError);
      await assert.rejects(q0.squares(4), (e: unknown) => e instanceof ProtocolAbort && /discarded/.test(e.message));
      assert.equal(service.stats().discarded, 2);
    } finally {
      await service.close();
    }
  });

  test('keys requested together travel as batches, are served in order and stay correct', async () => {
    const service = await startService();
    try {
      const sources = await connectParties(service.port, 2, 'semi-honest');
      const before = service.stats();
      // 40 requests issued before any is awaited, of mixed kinds and sizes.
      const got = await Promise.all(
        sources.map((s) => Promise.all(Array.from({ length: 20 }, (_, i) => Promise.all([s.triples(i + 1), s.squares(2 * i + 1)])))),
      );
      for (let i = 0; i < 20; i++) {
        const tr = got.map((g) => g[i][0]);
        assert.deepEqual(value(tr.map((t) => t.c)).data, T.mul(value(tr.map((t) => t.a)), value(tr.map((t) => t.b))).data);
        const sq = got.map((g) => g[i][1]);
        const a = value(sq.map((q) => q.a));
        assert.deepEqual(a.shape, [2 * i + 1]);
        assert.deepEqual(value(sq.map((q) => q.aa)).data, T.mul(a, a).data);
      }
      const after = service.stats();
      assert.equal(after.requests - before.requests, 80);
      assert.ok(after.batches - before.batches <= 4, `40 keys per party in at most 2 batches each, got ${after.batches - before.batches}`);
      // Replies above 4 KiB, batched and single: the last party's words still arrive 8-byte
      // aligned (material-response-codec.ts), so none of them was copied on receipt.
      const big = await Promise.all(sources.map((s) => Promise.all([s.triples(3000), s.squares(5000), s.triples(20_000)])));
      for (const k of [0, 2] as const) {
        const tr = big.map((g) => g[k]);
        assert.deepEqual(value(tr.map((t) => t.c)).data, T.mul(value(tr.map((t) => t.a)), value(tr.map((t) => t.b))).data);
      }
      const a = value(big.map((g) => g[1].a));
      assert.deepEqual(value(big.map((g) => g[1].aa)).data, T.mul(a, a).data);
      assert.ok(sources[1].stats.bytesReceived > 8 * 3 * 23_000, 'the last party received explicit words');
      assert.equal(sources[1].misalignedBytes, 0);
      for (const s of sources) s.close();
    } finally {
      await service.close();
    }
  });

  test('requests above the message limit are refused before anything is generated', async () => {
    const service = await startService({ maxMessageBytes: 1 << 20 });
    try {
      const [p0, p1] = await connectParties(service.port, 2, 'malicious');
      // (1 MiB − 64 KiB) / 32 bytes per malicious element = 30720 elements per request.
      const [a] = await Promise.all([p0.triples(10_240), p1.triples(10_240)]);
      assert.equal(a.a.shape[0], 10_240);
      await assert.rejects(p0.triples(10_241), /deals 30723 elements, above the limit of 30720 per request/);
    } finally {
      await service.close();
    }
  });

  test('sessions are dropped when every party disconnects, or after sessionIdleMs', async () => {
    const service = await startService({ sessionIdleMs: 150 });
    try {
      const first = await connectParties(service.port, 2, 'semi-honest');
      assert.equal(service.stats().sessions, 1);
      first[0].close();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(service.stats().sessions, 1, 'one party left: the session stays');
      first[1].close();
      await until('session dropped', () => service.stats().sessions === 0);
      assert.equal(service.stats().discarded, 0);

      const idle = await connectParties(service.port, 2, 'semi-honest');
      await until('idle session discarded', () => service.stats().sessions === 0, 3000);
      await assert.rejects(idle[0].triples(1), (e: unknown) => e instanceof ProtocolAbort && /no requests for/.test(e.message));
      await assert.rejects(idle[1].triples(1), ProtocolAbort);
    } finally {
      await service.close();
    }
  });

  test('pools: pregenerated triples and masks are served correctly and refilled above min_size', async () => {
    const min = 256;
    const service = await startService({ poolMinSize: min });
    try {
      const sources = await connectParties(service.port, 2, 'malicious');
      const pools = () => Object.values(service.stats().pools)[0];
      await until('initial fill', () => (pools().triple?.level ?? 0) >= min && (pools().mask?.level ?? 0) >= min);
      const before = pools();
      const tr = await Promise.all(sources.map((s) => s.triples(400)));
      assert.deepEqual(value(tr.map((t) => t.c)).data, T.mul(value(tr.map((t) => t.a)), value(tr.map((t) => t.b))).data);
      const cm = await Promise.all(sources.map((s) => s.compareMasks(300, 12)));
      const r = value(cm.map((m) => m.r));
      const high = value(cm.map((m) => m.rHigh));
      for (let i = 0; i < 300; i++) {
        const low = r.data[2 * i];
        assert.equal(high.data[2 * i], (low & ((1n << 63n) - 1n)) >> 12n);
      }
      const used = pools();
      assert.equal(used.triple?.hits, (before.triple?.hits ?? 0) + 1);
      assert.equal(used.mask?.hits, (before.mask?.hits ?? 0) + 1);
      await until('refill', () => (pools().triple?.level ?? 0) >= min && (pools().mask?.level ?? 0) >= min);
      const refilled = pools();
      assert.ok((refilled.triple?.chunks ?? 0) > (before.triple?.chunks ?? 0), 'triple pool refilled in the background');
      assert.ok((refilled.mask?.chunks ?? 0) > (before.mask?.chunks ?? 0), 'mask pool refilled in the background');
      // A request larger than the pool is generated on demand.
      const big = await Promise.all(sources.map((s) => s.triples(5000)));
      assert.deepEqual(value(big.map((t) => t.c)).data, T.mul(value(big.map((t) => t.a)), value(big.map((t) => t.b))).data);
      assert.ok((pools().triple?.misses ?? 0) >= 1);
      for (const s of sources) s.close();
    } finally {
      await service.close();
    }
  });

  test('large fixed masks and elementwise requests are split over several requests and reassembled consistently', async () => {
    const service = await startService();
    try {
      const sessionId = `chunks-${++sessionCounter}`;
      const sources = await Promise.all(
        [0, 1].map((i) =>
          connectTripleService({
            address: `127.0.0.1:${service.port}`,
            identity: partyIds[i],
            sessionId,
            partyIndex: i,
            parties: 2,
            mode: 'semi-honest',
            chunkElements: 16,
          }),
        ),
      );
      const b = await Promise.all(sources.map((s) => s.fixedMask('w.big', 10, 7)));
      assert.equal(sources[0].stats.requests, 5, 'a [10,7] mask at 16 elements per request: 1 fixedMask + 4 fixedAppend of 2 rows');
      assert.deepEqual(b[0].shape, [10, 7]);
      const ft = await Promise.all(sources.map((s) => s.fixedTriple('w.big', 3)));
      assert.deepEqual(value(ft.map((t) => t.c)).data, T.matmul(value(ft.map((t) => t.a)), value(b)).data, 'C = A·B over the whole mask');
      const im = await Promise.all(sources.map((s) => s.inputMask(0, 40)));
      assert.deepEqual(im[0].clear?.data, value(im.map((m) => m.mask)).data, "the owner's clear mask matches the shares");
      assert.equal(im[1].clear, undefined);
      const r = await Promise.all(sources.map((s) => s.randoms(40)));
      assert.deepEqual(r[0].shape, [40]);
      assert.equal(sources[0].stats.requests, 5 + 1 + 5 + 3);
      const tr = await Promise.all(sources.map((s) => s.triples(40)));
      assert.deepEqual(value(tr.map((t) => t.c)).data, T.mul(value(tr.map((t) => t.a)), value(tr.map((t) => t.b))).data);
      const cm = await Promise.all(sources.map((s) => s.compareMasks(10, 4)));
      assert.deepEqual(cm[0].bits?.shape, [4, 10]);
      const rv = value(cm.map((m) => m.r));
      const bits = value(cm.map((m) => m.bits as SecretTensor));
      for (let i = 0; i < 10; i++) for (let j = 0; j < 4; j++) assert.equal(bits.data[j * 10 + i], (rv.data[i] >> BigInt(j)) & 1n);
      assert.equal(sources[0].stats.requests, 14 + 8 + 5, 'triples: 5 per request (3 tensors); compare masks: 2 per request (3 + 4 rows)');
      // Requests by rows (row triples, one-hot rows) split into pieces of whole rows and rejoined.
      const before = sources[0].stats.requests;
      const rt = await Promise.all(sources.map((s) => s.rowTriple(5, 3, true)));
      const [ra, rb] = [value(rt.map((t) => t.a)), value(rt.map((t) => t.b))];
      assert.deepEqual([ra.shape, rb.shape], [[5, 3], [5]]);
      for (let i = 0; i < 15; i++) {
        assert.equal(value(rt.map((t) => t.ab)).data[i], BigInt.asUintN(64, ra.data[i] * rb.data[Math.floor(i / 3)]));
        assert.equal(value(rt.map((t) => t.aa as SecretTensor)).data[i], BigInt.asUintN(64, ra.data[i] * ra.data[i]));
      }
      const oh = await Promise.all(sources.map((s) => s.oneHotMasks(3, 3)));
      const [ohR, ohE] = [value(oh.map((m) => m.r)), value(oh.map((m) => m.oneHot))];
      assert.deepEqual(ohE.shape, [3, 8]);
      for (let t = 0; t < 3; t++) for (let j = 0; j < 8; j++) assert.equal(ohE.data[t * 8 + j], BigInt(j) === ohR.data[t] ? 1n : 0n);
      assert.equal(sources[0].stats.requests - before, 5 + 3, 'one row per request: 10 and 9 elements per row at 16 per request');
      // Weight operands ("w.*") are pinned in the service's kernel memory; growth unpins them.
      const wb = value(await Promise.all(sources.map((s) => s.fixedMask('w.pinned', 2, 3))));
      for (let i = 0; i < 2; i++) {
        const t = await Promise.all(sources.map((s) => s.fixedTriple('w.pinned', 2)));
        assert.deepEqual(value(t.map((x) => x.c)).data, T.matmul(value(t.map((x) => x.a)), wb).data, 'pinned A·B');
      }
      const extra = value(await Promise.all(sources.map((s) => s.fixedAppend('w.pinned', 1, 3))));
      const grown = T.reshape(T.concatFlat(wb.ring, [wb, extra]), [3, 3]);
      const t2 = await Promise.all(sources.map((s) => s.fixedTriple('w.pinned', 2)));
      assert.deepEqual(value(t2.map((x) => x.c)).data, T.matmul(value(t2.map((x) => x.a)), grown).data, 'after growth');
      for (const s of sources) s.close();
    } finally {
      await service.close();
    }
  });

  test('receive window: bad values are refused before connecting; the smallest window delivers MB-sized material intact', async () => {
    const service = await startService();
    try {
      const base = { address: `127.0.0.1:${service.port}`, parties: 2, mode: 'semi-honest' as const };
      for (const bad of [0, 65_534, 2 ** 31, 1.5, Number.NaN]) {
        await assert.rejects(
          connectTripleService({ ...base, identity: partyIds[0], partyIndex: 0, sessionId: 'window-bad', receiveWindowBytes: bad }),
          (e: unknown) =>
            e instanceof ValidationError && e.field === 'receiveWindowBytes' && /integer in \[65535, 2147483647\]/.test(e.message),
        );
      }
      assert.equal(service.stats().sessions, 0, 'nothing was opened');
      // Party 1, which receives the explicit words (party 0 a seed), at HTTP/2's smallest window; every
      // other test uses the default. 2^19-element triples are 4 MiB per tensor.
      const sessionId = `window-${++sessionCounter}`;
      const sources = await Promise.all(
        [undefined, 65_535].map((receiveWindowBytes, i) =>
          connectTripleService({ ...base, identity: partyIds[i], partyIndex: i, sessionId, receiveWindowBytes }),
        ),
      );
      const size = 1 << 19;
      const t = await Promise.all(sources.map((s) => s.triples(size)));
      assert.deepEqual(value(t.map((x) => x.c)).data, T.mul(value(t.map((x) => x.a)), value(t.map((x) => x.b))).data);
      assert.ok(sources[1].stats.bytesReceived >= 3 * size * 8, 'party 1 received the explicit words');
      for (const s of sources) s.close();
    } finally {
      await service.close();
    }
  });

  test('a dead service fails pending and later requests with ProtocolAbort, quickly', async () => {
    const child = await spawnService();
    try {
      const [p0] = await connectParties(child.port, 2, 'semi-honest');
      await p0.triples(4);
      child.process.kill('SIGSTOP'); // the dealer hangs: the next request stays pending
      const pending = p0.triples(4);
      let settled = false;
      pending.catch(() => {}).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(settled, false, 'the request is pending while the service is stopped');
      const t0 = Date.now();
      child.process.kill('SIGKILL');
      await assert.rejects(pending, (e: unknown) => e instanceof ProtocolAbort && /triple service unavailable/.test(e.message));
      assert.ok(Date.now() - t0 < 2000, `rejected after ${Date.now() - t0} ms`);
      const t1 = Date.now();
      await assert.rejects(p0.randoms(2), (e: unknown) => e instanceof ProtocolAbort && /triple service unavailable/.test(e.message));
      assert.ok(Date.now() - t1 < 100);
      assert.ok(p0.failure instanceof ProtocolAbort);
    } finally {
      child.process.kill('SIGKILL');
    }

    // In-process shutdown: open sessions end, clients fail.
    const service = await startService();
    const [q0, q1] = await connectParties(service.port, 2, 'malicious');
    await Promise.all([q0.squares(2), q1.squares(2)]);
    await service.close();
    await assert.rejects(q0.squares(2), ProtocolAbort);
    await assert.rejects(q1.squares(2), ProtocolAbort);
    await assert.rejects(
      connectParties(service.port, 2, 'semi-honest'),
      (e: unknown) => e instanceof TripleServiceError && /triple service unavailable/.test(e.message),
    );
  });

  for (const mode of ['semi-honest', 'malicious'] as const) {
    test(`end to end: 2 parties multiply and reveal with material from the service (${mode})`, async () => {
      const service = await startService();
      try {
        const ring = mode === 'malicious' ? Z128 : Z64;
        const x = randomRingTensor(ring, [2, 5]);
        const y = randomRingTensor(ring, [2, 5]);
        const material = await connectParties(service.port, 2, mode);
        const channels = createMemoryNetwork(2);
        const results = await Promise.all(
          channels.map(async (channel, id) => {
            const ctx = await createPartyContext({ id, n: 2, mode, channel, material: material[id], scaleBits: 16 });
            const [xs, ys] = await input(ctx, [
              { owner: 0, shape: [2, 5], value: id === 0 ? x : undefined },
              { owner: 1, shape: [2, 5], value: id === 1 ? y : undefined },
            ]);
            const [z] = await reveal(ctx, [await mul(ctx, xs, ys)]);
            return z;
          }),
        );
        const expected = T.toBigInts(T.mul(x, y)).map((v) => BigInt.asUintN(64, v));
        for (const z of results) assert.deepEqual(T.toBigInts(z), expected);
        assert.ok(material[0].stats.requests >= 3);
        assert.equal(material[0].stats.bytesReceived > 0, true);
        for (const m of material) m.close();
      } finally {
        await service.close();
      }
    });
  }
});

/** Runs the service in a child process (so the test can kill it), on an ephemeral port. */
async function spawnService(): Promise<{ process: ChildProcess; port: number }> {
  const serverUrl = new URL('./triple-server.ts', import.meta.url).href;
  const pkiUrl = new URL('../pki.ts', import.meta.url).href;
  const script = `
    const { startTripleService } = await import(${JSON.stringify(serverUrl)});
    const { loadIdentity } = await import(${JSON.stringify(pkiUrl)});
    const s = await startTripleService({ identity: await loadIdentity(${JSON.stringify(dir)}, 'triples'), port: 0, poolMinSize: 16 });
    console.log(JSON.stringify({ port: s.port }));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
  });
  const stdout = child.stdout;
  if (!stdout) throw new Error('no stdout');
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`service exited with ${code}`)));
  });
  return { process: child, port: (JSON.parse(line) as { port: number }).port };
}
