import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertOneHotDigits, runTripleSourceConformance } from '../../test/conformance/triple-source.case.ts';
import * as T from '../ring/tensor.ts';
import { macKey, reconstruct } from '../sharing/additive.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { InsecureLocalDealer } from './insecure-local-dealer.ts';
import { PooledTripleSource } from './pooled-source.ts';

// Batches of 8 (packed masks go straight through) and of 128 (packed masks pooled in words).
for (const batchSize of [8, 128])
  runTripleSourceConformance({
    name: `PooledTripleSource over InsecureLocalDealer (batches of ${batchSize})`,
    create: async (n, mode) => {
      const dealer = new InsecureLocalDealer(n, mode);
      return {
        sources: Array.from({ length: n }, (_, i) => new PooledTripleSource(dealer.forParty(i), { batchSize })),
        dispose: async () => {},
      };
    },
    desyncUndetectable: 'pooled material is sliced locally; the dealer sees only batch requests (see pooled-source.ts)',
  });

test('packed comparison masks are pooled in whole words across batch boundaries', async () => {
  const dealer = new InsecureLocalDealer(2, 'semi-honest');
  const views = [0, 1].map((i) => dealer.forParty(i));
  const pooled = views.map((v) => new PooledTripleSource(v, { batchSize: 128 }));
  // 64 + 64 + 128 + 64 elements of a 128-element pool: the third take spans two batches.
  for (const size of [10, 64, 100, 33]) {
    const m = await Promise.all(pooled.map((p) => p.compareXorMasks(size, 12)));
    const words = Math.ceil(size / 64);
    const r = T.toBigInts(value(m.map((x) => x.r))).map((v) => BigInt.asUintN(64, v));
    assert.equal(r.length, size);
    assert.equal(m[0].oneHot.shape[1], words);
    assertOneHotDigits(
      r,
      m.map((x) => x.oneHot),
      12,
    );
  }
  assert.equal(views[0].stats.requests, 3, 'three batches of 128 for 320 elements (the last one fetched ahead)');
});

const value = (parts: SecretTensor[]): T.RingTensor => reconstruct(parts.map((p) => p.share));

for (const mode of ['semi-honest', 'malicious'] as const)
  test(`pooled material stays consistent across batch boundaries and prefetches ahead (${mode})`, async () => {
    const dealer = new InsecureLocalDealer(2, mode);
    const views = [0, 1].map((i) => dealer.forParty(i));
    const pooled = views.map((v) => new PooledTripleSource(v, { batchSize: 8 }));
    const alpha = mode === 'malicious' ? macKey((await Promise.all(pooled.map((p) => p.macKeyShare()))) as bigint[]) : undefined;
    for (const size of [5, 5, 5, 7, 1, 8]) {
      const tr = await Promise.all(pooled.map((p) => p.triples(size)));
      assert.deepEqual(tr[0].a.shape, [size]);
      assert.deepEqual(value(tr.map((t) => t.c)).data, T.mul(value(tr.map((t) => t.a)), value(tr.map((t) => t.b))).data);
      if (alpha !== undefined)
        assert.deepEqual(
          T.toBigInts(reconstruct(tr.map((t) => t.c.mac as T.RingTensor))),
          T.toBigInts(T.mulScalar(value(tr.map((t) => t.c)), alpha)),
        );
    }
    // 31 elements in batches of 8 with a refill below half a batch: 4 requests plus one prefetched.
    assert.equal(views[0].stats.requests, 5);
    for (const size of [3, 7, 6]) {
      const cm = await Promise.all(pooled.map((p) => p.compareMasks(size, 10)));
      assert.deepEqual(cm[0].bits?.shape, [10, size]);
      const r = T.toBigInts(value(cm.map((m) => m.r))).map((v) => BigInt.asUintN(64, v));
      const bits = T.toBigInts(value(cm.map((m) => m.bits as SecretTensor))).map((v) => BigInt.asUintN(64, v));
      const high = T.toBigInts(value(cm.map((m) => m.rHigh))).map((v) => BigInt.asUintN(64, v));
      r.forEach((rv, i) => {
        assert.equal(high[i], (rv & ((1n << 63n) - 1n)) >> 10n);
        for (let j = 0; j < 10; j++) assert.equal(bits[j * size + i], (rv >> BigInt(j)) & 1n, `bit ${j} of element ${i}`);
      });
    }
    // Larger than a batch: straight through.
    const before = views[0].stats.requests;
    const big = await Promise.all(pooled.map((p) => p.randoms(100)));
    assert.deepEqual(big[0].shape, [100]);
    assert.equal(views[0].stats.requests, before + 1);
  });

test('a weight mask dealt in row pieces (fixedMaskRows) is one fixed operand whose triples stay pooled', async () => {
  const dealer = new InsecureLocalDealer(2, 'semi-honest');
  const views = [0, 1].map((i) => dealer.forParty(i));
  const pooled = views.map((v) => new PooledTripleSource(v, { fixedBatchUses: 3 }));
  const pieces = [];
  for (const [start, rows] of [
    [0, 2],
    [2, 1],
    [3, 2],
  ])
    pieces.push(value(await Promise.all(pooled.map((p) => p.fixedMaskRows('w.y', start, rows, 3)))));
  const b = T.reshape(T.concatFlat(pieces[0].ring, pieces), [5, 3]);
  const before = views[0].stats.requests;
  for (let use = 0; use < 3; use++) {
    const t = await Promise.all(pooled.map((p) => p.fixedTriple('w.y', 2)));
    assert.deepEqual(value(t.map((x) => x.c)).data, T.matmul(value(t.map((x) => x.a)), b).data, `use ${use}`);
  }
  // 3 uses of 2 rows from one batch of 6 rows, and the next batch fetched ahead: 2 requests, not 3.
  assert.equal(views[0].stats.requests - before, 2);
});

test('fixed-operand triples of weights are pooled by rows; an append switches the operand to on-demand triples', async () => {
  const dealer = new InsecureLocalDealer(2, 'semi-honest');
  const views = [0, 1].map((i) => dealer.forParty(i));
  const pooled = views.map((v) => new PooledTripleSource(v, { fixedBatchUses: 3 }));
  const b = value(await Promise.all(pooled.map((p) => p.fixedMask('w.x', 4, 5))));
  const before = views[0].stats.requests;
  for (let use = 0; use < 5; use++) {
    for (const transposed of [false, true]) {
      const t = await Promise.all(pooled.map((p) => p.fixedTriple('w.x', 2, transposed)));
      assert.deepEqual(t[0].a.shape, transposed ? [2, 5] : [2, 4]);
      const want = T.matmul(value(t.map((x) => x.a)), transposed ? T.transpose(b) : b);
      assert.deepEqual(value(t.map((x) => x.c)).data, want.data, `use ${use}, transposed ${transposed}`);
    }
  }
  // Per orientation: 5 uses of 2 rows from batches of 6 rows: 3 requests (the third fetched ahead).
  assert.equal(views[0].stats.requests - before, 6);
  const extra = value(await Promise.all(pooled.map((p) => p.fixedAppend('w.x', 1, 5))));
  const grown = T.reshape(T.concatFlat(b.ring, [b, extra]), [5, 5]);
  const t = await Promise.all(pooled.map((p) => p.fixedTriple('w.x', 2)));
  assert.deepEqual(value(t.map((x) => x.c)).data, T.matmul(value(t.map((x) => x.a)), grown).data, 'after the append: A·B of the grown B');
  // Five rows exceed the pooled size: straight through.
  const big = await Promise.all(pooled.map((p) => p.fixedTriple('w.x', 5)));
  assert.deepEqual(big[0].a.shape, [5, 5]);
});
