import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Z128, Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import { encode, decode } from '../ring/fixed-point.ts';
import { randomRingTensor } from '../crypto/prg.ts';
import { makeDealer, measure, MODES, PARTY_COUNTS, runParties } from '../../test/helpers/parties.ts';
import { matmul, matmulBytes, mul, mulBytes, square, squareBytes } from './beaver.ts';
import {
  beginFixed,
  finishFixed,
  fixedMatmul,
  fixedMatmulBytes,
  fixedSetupBytes,
  openFixedRows,
  pinFixed,
  prepareFixed,
  releaseFixed,
  requestFixedRows,
} from './fixed-operand.ts';
import * as L from '../sharing/linear.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { PooledTripleSource } from '../preprocessing/pooled-source.ts';
import { reveal } from './reveal.ts';
import { truncate } from './truncate.ts';

/** Low 64 bits of every element (what reveal returns and what plaintext Z_2^64 arithmetic gives). */
function low64(t: T.RingTensor): bigint[] {
  return Array.from({ length: T.sizeOf(t.shape) }, (_, i) => t.data[i * t.ring.limbs]);
}

for (const mode of MODES) {
  for (const n of PARTY_COUNTS) {
    describe(`Beaver products, ${n} parties, ${mode}`, () => {
      const ring = mode === 'malicious' ? Z128 : Z64;

      test('mul and square equal the plaintext ring products (exact) at the documented cost', async () => {
        const dealer = makeDealer(n, mode);
        const x = randomRingTensor(ring, [37]);
        const y = randomRingTensor(ring, [37]);
        const xs = dealer.shareForTest(x);
        const ys = dealer.shareForTest(y);
        const { results } = await runParties(dealer, async (ctx) => {
          const m = await measure(ctx, () => mul(ctx, xs[ctx.id], ys[ctx.id]));
          const s = await measure(ctx, () => square(ctx, xs[ctx.id]));
          const [prod, sq] = await reveal(ctx, [m.value, s.value]);
          return { prod, sq, mulCost: m.cost, sqCost: s.cost };
        });
        const x64 = low64(x);
        const y64 = low64(y);
        for (const r of results) {
          assert.deepEqual(
            low64(r.prod),
            x64.map((v, i) => BigInt.asUintN(64, v * y64[i])),
          );
          assert.deepEqual(
            low64(r.sq),
            x64.map((v) => BigInt.asUintN(64, v * v)),
          );
          assert.equal(r.mulCost.rounds, 1);
          assert.equal(r.mulCost.bytesSent, mulBytes({ n, ring, mode }, 37));
          assert.equal(r.sqCost.rounds, 1);
          assert.equal(r.sqCost.bytesSent, squareBytes({ n, ring, mode }, 37));
        }
      });

      test('matmul equals the plaintext product at the documented cost', async () => {
        const dealer = makeDealer(n, mode);
        const x = randomRingTensor(ring, [3, 5]);
        const y = randomRingTensor(ring, [5, 4]);
        const [xs, ys] = [dealer.shareForTest(x), dealer.shareForTest(y)];
        const { results } = await runParties(dealer, async (ctx) => {
          const m = await measure(ctx, () => matmul(ctx, xs[ctx.id], ys[ctx.id]));
          return { z: (await reveal(ctx, [m.value]))[0], cost: m.cost };
        });
        const expected = low64(T.matmul(x, y));
        for (const r of results) {
          assert.deepEqual(low64(r.z), expected);
          assert.deepEqual(r.z.shape, [3, 4]);
          assert.equal(r.cost.rounds, 1);
          assert.equal(r.cost.bytesSent, matmulBytes({ n, ring, mode }, 3, 5, 4));
        }
      });

      test('fixed-operand matmul: W opened once, reused over 12 products (pinned and not), all exact', async () => {
        const dealer = makeDealer(n, mode);
        const w = randomRingTensor(ring, [6, 4]);
        const xsPlain = Array.from({ length: 12 }, (_, i) => randomRingTensor(ring, [1 + (i % 3), 6]));
        const ws = dealer.shareForTest(w);
        const xs = xsPlain.map((x) => dealer.shareForTest(x));
        const { results } = await runParties(dealer, async (ctx) => {
          const setup = await measure(ctx, () => prepareFixed(ctx, [{ id: 'w', w: ws[ctx.id] }]));
          // Every other product with D and B resident in the kernels' memory (semi-honest only).
          const pinned = pinFixed(ctx, setup.value[0]);
          assert.equal(pinned.pins !== undefined, mode === 'semi-honest');
          const outs = [];
          for (const [i, x] of xs.entries()) {
            const m = await measure(ctx, () => fixedMatmul(ctx, x[ctx.id], i % 2 ? pinned : setup.value[0]));
            outs.push({ z: m.value, cost: m.cost });
          }
          releaseFixed(pinned);
          releaseFixed(pinned);
          const revealed = await reveal(
            ctx,
            outs.map((o) => o.z),
          );
          return { setupCost: setup.cost, outs: outs.map((o, i) => ({ z: revealed[i], cost: o.cost })) };
        });
        for (const r of results) {
          assert.equal(r.setupCost.rounds, 1);
          assert.equal(r.setupCost.bytesSent, fixedSetupBytes({ n, ring }, 6, 4));
          r.outs.forEach((o, i) => {
            assert.deepEqual(low64(o.z), low64(T.matmul(xsPlain[i], w)), `product ${i}`);
            assert.equal(o.cost.rounds, 1);
            assert.equal(o.cost.bytesSent, fixedMatmulBytes({ n, ring, mode }, xsPlain[i].shape[0], 6));
          });
        }
      });

      test('fixed-operand matmul with resident pins and pooled triples (A·D per batch): exact; D and B read back', async () => {
        const dealer = makeDealer(n, mode);
        const w = randomRingTensor(ring, [6, 10]);
        const xsPlain = Array.from({ length: 9 }, (_, i) => randomRingTensor(ring, [1 + (i % 2), 6]));
        const ws = dealer.shareForTest(w);
        const xs = xsPlain.map((x) => dealer.shareForTest(x));
        const { results } = await runParties(
          dealer,
          async (ctx) => {
            const [plain] = await prepareFixed(ctx, [{ id: 'w.x', w: ws[ctx.id] }]);
            const resident = pinFixed(ctx, plain, { resident: true });
            // The plain tensors come back out of the kernels' memory unchanged.
            assert.deepEqual(resident.opened.data, plain.opened.data);
            assert.deepEqual(resident.mask.share.data, plain.mask.share.data);
            const outs = [];
            for (const x of xs) outs.push(await fixedMatmul(ctx, x[ctx.id], resident));
            releaseFixed(resident);
            return reveal(ctx, outs);
          },
          { wrapMaterial: (_id, source) => new PooledTripleSource(source, { fixedBatchUses: 4 }) },
        );
        results[0].forEach((z, i) => assert.deepEqual(low64(z), low64(T.matmul(xsPlain[i], w)), `product ${i}`));
      });

      test('fixed operand opened in row blocks with its mask dealt in pieces of other sizes: same operand as prepareFixed; blocks out of order refused', async () => {
        const dealer = makeDealer(n, mode);
        const w = randomRingTensor(ring, [7, 4]);
        const ws = dealer.shareForTest(w);
        const x = randomRingTensor(ring, [2, 7]);
        const xs = dealer.shareForTest(x);
        const rowsOf = (t: SecretTensor, s: number, e: number): SecretTensor => L.reshapeS(L.sliceS(t, s * 4, e * 4), [e - s, 4]);
        const { results } = await runParties(dealer, async (ctx) => {
          const outs = [];
          // Blocks of 2 rows against pieces of 3 (a block spans two pieces) and of 1 (a block takes two), plain and resident.
          for (const [pieceRows, resident] of [
            [3, false],
            [1, true],
            [5, true],
          ] as const) {
            const p = beginFixed(ctx, `w.p${pieceRows}`, 7, 4, { pieceRows, resident });
            requestFixedRows(p, 2);
            const before = { ...ctx.channel.stats };
            await assert.rejects(
              openFixedRows(ctx, [{ operand: p, start: 2, w: rowsOf(ws[ctx.id], 2, 4) }]),
              new RegExp(`fixed operand w\\.p${pieceRows} \\[7,4\\]: block of shape \\[2,4\\] at row 2, expected rows from 0 of width 4`),
            );
            assert.equal(ctx.channel.stats.rounds, before.rounds, 'a refused block costs no round');
            for (let start = 0; start < 7; start += 2) {
              const end = Math.min(7, start + 2);
              await openFixedRows(ctx, [{ operand: p, start, w: rowsOf(ws[ctx.id], start, end) }]);
            }
            const op = finishFixed(ctx, p);
            assert.equal(op.pins !== undefined, resident && mode === 'semi-honest');
            outs.push(await fixedMatmul(ctx, xs[ctx.id], op));
            releaseFixed(op);
          }
          return reveal(ctx, outs);
        });
        results[0].forEach((z, i) => assert.deepEqual(low64(z), low64(T.matmul(x, w)), `case ${i}`));
      });

      test('fixed-point multiply (mul + truncate) is within 1 LSB = 2^-16 of the exact product (property)', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.double({ min: -1000, max: 1000, noNaN: true }), { minLength: 1, maxLength: 16 }),
            fc.array(fc.double({ min: -1000, max: 1000, noNaN: true }), { minLength: 16, maxLength: 16 }),
            async (xv, yvAll) => {
              const yv = yvAll.slice(0, xv.length);
              const dealer = makeDealer(n, mode);
              const x = encode(ring, [xv.length], xv, 16);
              const y = encode(ring, [yv.length], yv, 16);
              const [xs, ys] = [dealer.shareForTest(x), dealer.shareForTest(y)];
              const { results } = await runParties(dealer, async (ctx) => {
                const z = await truncate(ctx, await mul(ctx, xs[ctx.id], ys[ctx.id]));
                return (await reveal(ctx, [z]))[0];
              });
              const X = low64(x).map((v) => BigInt.asIntN(64, v));
              const Y = low64(y).map((v) => BigInt.asIntN(64, v));
              const got = low64(results[0]).map((v) => BigInt.asIntN(64, v));
              got.forEach((g, i) => {
                const exact = X[i] * Y[i];
                const floor = exact >= 0n ? exact >> 16n : -((-exact + 65535n) >> 16n);
                assert.ok(g - floor === 0n || g - floor === 1n, `element ${i}: got ${g}, floor ${floor}`);
              });
              const real = decode(results[0], 16);
              real.forEach((r, i) =>
                assert.ok(Math.abs(r - xv[i] * yv[i]) <= 2 ** -16 * (1 + Math.abs(xv[i]) + Math.abs(yv[i])) + 2 ** -16),
              );
            },
          ),
          { numRuns: 15 },
        );
      });
    });
  }
}

for (const mode of MODES) {
  describe(`growing fixed operands and inputs, 2 parties, ${mode}`, () => {
    const ring = mode === 'malicious' ? Z128 : Z64;
    test('KV-cache style: append rows over 5 steps, X·Kᵀ and P·V batched in one round each, exact', async () => {
      const dealer = makeDealer(2, mode);
      const rowsPlain = Array.from({ length: 5 }, () => randomRingTensor(ring, [1, 4]));
      const qsPlain = Array.from({ length: 5 }, () => randomRingTensor(ring, [2, 4]));
      const rows = rowsPlain.map((r) => dealer.shareForTest(r));
      const qs = qsPlain.map((q) => dealer.shareForTest(q));
      const { input } = await import('./input.ts');
      const { appendFixed, fixedMatmulBatch, requestAppendMasks, requestFixedMaterial } = await import('./fixed-operand.ts');
      const { results } = await runParties(dealer, async (ctx) => {
        let op: Awaited<ReturnType<typeof appendFixed>>[number] | undefined;
        const outs = [];
        for (let s = 0; s < 5; s++) {
          // Odd steps: the append's masks requested ahead; even steps: the products' triples
          // requested right behind the append, as attention does.
          const masks = s % 2 === 1 ? requestAppendMasks(ctx, [{ id: 'k', rows: 1, n: 4 }]) : undefined;
          const appending = appendFixed(ctx, [{ id: 'k', operand: op, rows: rows[s][ctx.id] }], masks);
          const pre =
            s % 2 === 0
              ? requestFixedMaterial(ctx, [
                  { id: 'k', m: 2, transposed: true },
                  { id: 'k', m: 2 },
                ])
              : undefined;
          [op] = await appending;
          const pv = T.fromBigInts(
            ring,
            [2, s + 1],
            Array.from({ length: 2 * (s + 1) }, (_, i) => BigInt(i + s)),
          );
          const [p] = await input(ctx, [{ owner: 1, shape: [2, s + 1], value: ctx.id === 1 ? pv : undefined }]);
          const m = await measure(ctx, () =>
            fixedMatmulBatch(
              ctx,
              [
                { x: qs[s][ctx.id], w: op!, transposed: true },
                { x: p, w: op! },
              ],
              pre,
            ),
          );
          if (s === 4)
            await assert.rejects(
              fixedMatmulBatch(ctx, [{ x: p, w: op! }], requestFixedMaterial(ctx, [{ id: 'k', m: 1 }])),
              /requested ahead is for other products/,
            );
          if (s === 4)
            await assert.rejects(
              appendFixed(
                ctx,
                [{ id: 'k2', operand: undefined, rows: rows[s][ctx.id] }],
                requestAppendMasks(ctx, [{ id: 'k2', rows: 2, n: 4 }]),
              ),
              /masks requested ahead for k2 are \[2,4\], the rows \[1,4\]/,
            );
          assert.equal(m.cost.rounds, 1);
          outs.push({ scores: m.value[0], mixed: m.value[1], pv });
        }
        const revealed = await reveal(
          ctx,
          outs.flatMap((o) => [o.scores, o.mixed]),
        );
        return outs.map((o, i) => ({ scores: revealed[2 * i], mixed: revealed[2 * i + 1], pv: o.pv }));
      });
      for (let s = 0; s < 5; s++) {
        const k = T.reshape(T.concatFlat(ring, rowsPlain.slice(0, s + 1)), [s + 1, 4]);
        assert.deepEqual(low64(results[0][s].scores), low64(T.matmul(qsPlain[s], T.transpose(k))), `scores step ${s}`);
        assert.deepEqual(low64(results[0][s].mixed), low64(T.matmul(results[0][s].pv, k)), `mix step ${s}`);
      }
    });
  });
}
