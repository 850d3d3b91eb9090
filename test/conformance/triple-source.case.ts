/**
 * Conformance suite for TripleSource implementations: every kind of material reconstructs to the
 * right relation (c = a⊙b, C = A·B, fixed-operand C = A·B_id incl. growth and transposition,
 * aa = a², masked bits, input masks), MACs are consistent in malicious mode, and requests that
 * disagree between parties raise a DesyncError.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DesyncError } from '../../src/base/errors.ts';
import type { SecurityMode } from '../../src/preprocessing/insecure-local-dealer.ts';
import { chebyshevPlan, fusedChebyshevLayout, type FusedPart } from '../../src/preprocessing/chebyshev-plan.ts';
import { comparatorDigits } from '../../src/preprocessing/compare-digits.ts';
import { RELU_PARTS, TOP_PARTS, type ReluMasks, type ReluPairMasks, type TripleSource } from '../../src/preprocessing/material.ts';
import * as T from '../../src/ring/tensor.ts';
import { macKey, reconstruct } from '../../src/sharing/additive.ts';
import type { SecretTensor } from '../../src/sharing/secret-tensor.ts';

export interface TripleSourceFactory {
  readonly name: string;
  create(n: number, mode: SecurityMode): Promise<{ sources: TripleSource[]; dispose: () => Promise<void> }>;
  /**
   * Why this source cannot see a desync at the request that diverges (e.g. material served from
   * local pools); the DesyncError case is then skipped with this reason.
   */
  readonly desyncUndetectable?: string;
}

const value = (parts: SecretTensor[]): T.RingTensor => reconstruct(parts.map((p) => p.share));
const low = (t: T.RingTensor): bigint[] => T.toBigInts(t).map((v) => BigInt.asUintN(64, v));

async function alpha(sources: TripleSource[]): Promise<bigint | undefined> {
  const shares = await Promise.all(sources.map((s) => s.macKeyShare()));
  return shares[0] === undefined ? undefined : macKey(shares as bigint[]);
}

function assertMacs(parts: SecretTensor[], a: bigint | undefined): void {
  if (a === undefined) return assert.ok(parts.every((p) => p.mac === undefined));
  const m = reconstruct(parts.map((p) => p.mac as T.RingTensor));
  assert.deepEqual(T.toBigInts(m), T.toBigInts(T.mulScalar(value(parts), a)), 'MAC shares must sum to α·x');
}

export function runTripleSourceConformance(f: TripleSourceFactory): void {
  for (const mode of ['semi-honest', 'malicious'] as const) {
    for (const n of [2, 3]) {
      test(`${f.name}: material relations, ${n} parties, ${mode}`, async () => {
        const { sources, dispose } = await f.create(n, mode);
        try {
          const a = await alpha(sources);
          const all = <R>(fn: (s: TripleSource) => Promise<R>): Promise<R[]> => Promise.all(sources.map(fn));

          const tr = await all((s) => s.triples(9));
          assert.deepEqual(value(tr.map((t) => t.c)).data, T.mul(value(tr.map((t) => t.a)), value(tr.map((t) => t.b))).data);
          for (const k of ['a', 'b', 'c'] as const)
            assertMacs(
              tr.map((t) => t[k]),
              a,
            );

          const mt = await all((s) => s.matrixTriple(2, 3, 4));
          assert.deepEqual(value(mt.map((t) => t.c)).data, T.matmul(value(mt.map((t) => t.a)), value(mt.map((t) => t.b))).data);

          const b = value(await all((s) => s.fixedMask('w', 3, 2)));
          const ft = await all((s) => s.fixedTriple('w', 4));
          assert.deepEqual(value(ft.map((t) => t.c)).data, T.matmul(value(ft.map((t) => t.a)), b).data);

          // A mask dealt in row pieces is one operand: its triples use the pieces joined in order.
          const pieces: SecretTensor[][] = [];
          for (const [start, rows] of [
            [0, 2],
            [2, 1],
          ])
            pieces.push(await all((s) => s.fixedMaskRows('w.rows', start, rows, 4)));
          pieces.forEach((piece) => assertMacs(piece, a));
          const joined = T.reshape(T.concatFlat(b.ring, pieces.map(value)), [3, 4]);
          const fr = await all((s) => s.fixedTriple('w.rows', 2));
          assert.deepEqual(value(fr.map((t) => t.c)).data, T.matmul(value(fr.map((t) => t.a)), joined).data);
          await assert.rejects(
            all((s) => s.fixedMaskRows('w.bad', 0, 0, 4)),
            /fixedMaskRows w\.bad: expected start ≥ 0 and rows ≥ 1/,
          );

          const k1 = value(await all((s) => s.fixedAppend('kv', 2, 3)));
          const k2 = value(await all((s) => s.fixedAppend('kv', 1, 3)));
          const kAll = T.reshape(T.concatFlat(k1.ring, [k1, k2]), [3, 3]);
          const tt = await all((s) => s.fixedTriple('kv', 2, true));
          assert.deepEqual(value(tt.map((t) => t.c)).data, T.matmul(value(tt.map((t) => t.a)), T.transpose(kAll)).data);

          const sq = await all((s) => s.squares(5));
          const sa = value(sq.map((q) => q.a));
          assert.deepEqual(value(sq.map((q) => q.aa)).data, T.mul(sa, sa).data);

          const cm = await all((s) => s.compareMasks(6, 10));
          const r = low(value(cm.map((m) => m.r)));
          const msb = low(value(cm.map((m) => m.rMsb)));
          const high = low(value(cm.map((m) => m.rHigh)));
          const bits = low(value(cm.map((m) => m.bits as SecretTensor)));
          r.forEach((rv, i) => {
            assert.equal(msb[i], rv >> 63n);
            assert.equal(high[i], (rv & ((1n << 63n) - 1n)) >> 10n);
            for (let j = 0; j < 10; j++) assert.equal(bits[j * 6 + i], (rv >> BigInt(j)) & 1n);
          });
          assertMacs(
            cm.map((m) => m.rHigh),
            a,
          );

          if (mode === 'semi-honest') {
            // Row triples: ab = a ⊙ b per row, and aa = a ⊙ a with squares; twice, so a pooled
            // source serves the second from its pool (a batch's rows in order).
            for (const [rows, len, squares] of [
              [3, 5, true],
              [2, 5, true],
              [4, 3, false],
            ] as const) {
              const rt = await all((s) => s.rowTriple(rows, len, squares));
              const ra = value(rt.map((t) => t.a));
              const rb = value(rt.map((t) => t.b));
              assert.deepEqual(ra.shape, [rows, len]);
              assert.deepEqual(rb.shape, [rows]);
              const wide = T.matmul(T.reshape(rb, [rows, 1]), T.fill(rb.ring, [1, len], 1n));
              assert.deepEqual(low(value(rt.map((t) => t.ab))), low(T.mul(ra, wide)), 'row triple: ab = a ⊙ b per row');
              if (squares) assert.deepEqual(low(value(rt.map((t) => t.aa as SecretTensor))), low(T.mul(ra, ra)), 'row triple: aa = a ⊙ a');
              else assert.ok(rt.every((t) => t.aa === undefined));
              assert.ok(low(rb).some((v) => v !== 0n) && new Set(low(ra)).size > 1, 'row triples are random');
            }

            const bt = await all((s) => s.bitTriples(3));
            const xor = (k: 'a' | 'b' | 'c'): bigint[] => [0, 1, 2].map((w) => bt.reduce((acc, t) => acc ^ t[k].share.data[w], 0n));
            const [ba, bb, bc] = [xor('a'), xor('b'), xor('c')];
            assert.deepEqual(
              bc,
              ba.map((v, w) => v & bb[w]),
              'bit triples: c = a ∧ b on the XOR of the shares',
            );
            assert.ok(ba.some((v) => v !== 0n) && bb.some((v) => v !== 0n), 'bit triples are random');

            // Packed comparison masks: across a word boundary (70), then a size that starts mid-batch.
            // With the relu products (reluMasks): the same masks plus r·part for each part; with a
            // second top level (reluPairMasks): fresh bits s, a, b, ab = a·b besides. A fourth
            // entry (coarse comparisons): the digits leave out r's low `lowBits` bits.
            for (const [size, nb, kind, lowBits] of [
              [70, 40, 'xor', 0],
              [5, 40, 'xor', 0],
              [3, 7, 'xor', 0],
              [70, 40, 'relu', 0],
              [5, 12, 'relu', 0],
              [70, 40, 'pair', 0],
              [5, 12, 'pair', 0],
              [70, 40, 'relu', 12],
              [5, 40, 'relu', 12],
              [7, 20, 'xor', 19],
              [7, 20, 'pair', 3],
            ] as const) {
              const withProducts = kind !== 'xor';
              const xm = await all((s) =>
                kind === 'pair'
                  ? s.reluPairMasks(size, nb, lowBits)
                  : kind === 'relu'
                    ? s.reluMasks(size, nb, lowBits)
                    : s.compareXorMasks(size, nb, lowBits),
              );
              assert.ok(xm.every((m) => m.bits === nb && m.low === lowBits));
              const xr = low(value(xm.map((m) => m.r)));
              const xmsb = low(value(xm.map((m) => m.rMsb)));
              const xhigh = low(value(xm.map((m) => m.rHigh)));
              const xs = low(value(xm.map((m) => m.s)));
              const [ta, tb, tab] = [
                low(value(xm.map((m) => m.andA))),
                low(value(xm.map((m) => m.andB))),
                low(value(xm.map((m) => m.andAB))),
              ];
              assertOneHotDigits(
                xr,
                xm.map((m) => m.oneHot),
                nb,
                lowBits,
              );
              assert.equal(xr.length, size);
              xr.forEach((rv, i) => {
                assert.equal(xmsb[i], rv >> 63n);
                assert.equal(xhigh[i], (rv & ((1n << 63n) - 1n)) >> BigInt(nb));
                assert.ok(xs[i] === 0n || xs[i] === 1n, 's is a bit');
                assert.ok((ta[i] === 0n || ta[i] === 1n) && (tb[i] === 0n || tb[i] === 1n), 'a and b are bits');
                assert.equal(tab[i], ta[i] * tb[i], 'ab = a·b');
              });
              assert.ok(new Set(xs).size === 2 || size < 8, 's takes both values');
              if (withProducts) {
                const rm = xm as ReluMasks[];
                for (const part of RELU_PARTS) {
                  const factor = low(value(rm.map((m) => m[part])));
                  assert.deepEqual(
                    low(value(rm.map((m) => m.rTimes[part]))),
                    xr.map((rv, i) => BigInt.asUintN(64, rv * factor[i])),
                    `reluMasks: r·${part}`,
                  );
                }
              }
              if (kind === 'pair') {
                const pm = xm as ReluPairMasks[];
                const [ps, pa, pb, pab] = TOP_PARTS.map((p) => low(value(pm.map((m) => m.second[p]))));
                ps.forEach((sv, i) => {
                  assert.ok(
                    [sv, pa[i], pb[i]].every((v) => v === 0n || v === 1n),
                    'second s, a, b are bits',
                  );
                  assert.equal(pab[i], pa[i] * pb[i], 'second ab = a·b');
                });
                assert.ok(size < 8 || (new Set(ps).size === 2 && ps.some((v, i) => v !== xs[i])), 'the second s is fresh');
              }
            }

            // Chebyshev basis masks: one mask per factor of the plan, a_m·a_j per pair (incl. a
            // second request that starts mid-batch in pooled sources).
            for (const [size, degree] of [
              [6, 8],
              [5, 5],
            ]) {
              const plan = chebyshevPlan(degree);
              const cm = await all((s) => s.chebyshevMasks(size, degree));
              assert.equal(cm[0].masks.length, plan.factors.length);
              assert.equal(cm[0].products.length, plan.pairs.length);
              const maskOf = (j: number): T.RingTensor => value(cm.map((x) => x.masks[plan.factors.indexOf(j)]));
              plan.pairs.forEach(([m, j], i) =>
                assert.deepEqual(value(cm.map((x) => x.products[i])).data, T.mul(maskOf(m), maskOf(j)).data, `a_${m}·a_${j}`),
              );
              assert.notDeepEqual(maskOf(1).data, maskOf(2).data, 'masks are independent');
            }

            // Truncation masks with their square products (twice: a pooled source serves the
            // second from its pool).
            for (const [size, shift] of [
              [7, 28],
              [3, 31],
            ]) {
              const sm = await all((s) => s.truncSquareMasks(size, shift));
              const r = low(value(sm.map((m) => m.r)));
              const high = r.map((v) => (v & ((1n << 63n) - 1n)) >> BigInt(shift));
              assert.deepEqual(
                low(value(sm.map((m) => m.rMsb))),
                r.map((v) => v >> 63n),
              );
              assert.deepEqual(low(value(sm.map((m) => m.rHigh))), high);
              assert.deepEqual(
                low(value(sm.map((m) => m.highSquared))),
                high.map((h) => BigInt.asUintN(64, h * h)),
                'rHigh²',
              );
              assert.deepEqual(
                low(value(sm.map((m) => m.highMsb))),
                high.map((h, i) => h * (r[i] >> 63n)),
                'rHigh·rMsb',
              );
              assert.equal(sm[0].shift, shift);
            }

            // Truncation masks with row products (twice each: a pooled source serves from its pool).
            for (const [rows, len, shift] of [
              [3, 5, 37],
              [2, 5, 37],
              [1, 70, 16],
            ]) {
              const tm = await all((s) => s.truncRowMasks(rows, len, shift));
              const r = low(value(tm.map((m) => m.r)));
              const msb = r.map((v) => v >> 63n);
              const high = r.map((v) => (v & ((1n << 63n) - 1n)) >> BigInt(shift));
              const b = low(value(tm.map((m) => m.b)));
              assert.deepEqual(value(tm.map((m) => m.r)).shape, [rows, len]);
              assert.deepEqual(value(tm.map((m) => m.b)).shape, [rows]);
              assert.deepEqual(low(value(tm.map((m) => m.rMsb))), msb);
              assert.deepEqual(low(value(tm.map((m) => m.rHigh))), high);
              const perRow = (xs: bigint[]): bigint[] => xs.map((x, i) => BigInt.asUintN(64, x * b[Math.floor(i / len)]));
              assert.deepEqual(low(value(tm.map((m) => m.msbB))), perRow(msb), 'rMsb ⊙ b per row');
              assert.deepEqual(low(value(tm.map((m) => m.highB))), perRow(high), 'rHigh ⊙ b per row');
              assert.ok(b.some((v) => v !== 0n) && new Set(r).size > 1, 'masks are random');
              assert.equal(tm[0].shift, shift);
            }

            // Fused Chebyshev basis masks: a_1, a truncation mask per truncated T_k, and every
            // listed product of parts.
            for (const [size, degree, shift] of [
              [6, 8, 18],
              [5, 5, 18],
              [4, 9, 31],
            ]) {
              const layout = fusedChebyshevLayout(degree, shift);
              const fm = await all((s) => s.chebyshevTruncMasks(size, degree, shift));
              assert.equal(fm[0].trunc.length, layout.truncated.length);
              assert.deepEqual(
                fm[0].terms.map((t) => t.length),
                layout.terms.map((t) => t.length),
              );
              const partOf = ({ k, part }: FusedPart): T.RingTensor => {
                if (part === 'a') return value(fm.map((x) => x.a1));
                const i = layout.truncated.indexOf(k);
                return value(fm.map((x) => (part === 'msb' ? x.trunc[i].rMsb : x.trunc[i].rHigh)));
              };
              layout.truncated.forEach((k, i) => {
                const r = low(value(fm.map((x) => x.trunc[i].r)));
                assert.deepEqual(
                  low(partOf({ k, part: 'msb' })),
                  r.map((v) => v >> 63n),
                  `rMsb of T_${k}`,
                );
                assert.deepEqual(
                  low(partOf({ k, part: 'high' })),
                  r.map((v) => (v & ((1n << 63n) - 1n)) >> BigInt(shift)),
                  `rHigh of T_${k}`,
                );
              });
              layout.terms.forEach((list, i) =>
                list.forEach(([p, q], t) =>
                  assert.deepEqual(value(fm.map((x) => x.terms[i][t])).data, T.mul(partOf(p), partOf(q)).data, `term ${i}.${t}`),
                ),
              );
            }
          }

          const im = await all((s) => s.inputMask(1, 4));
          assert.deepEqual(T.toBigInts(value(im.map((m) => m.mask))), T.toBigInts(im[1].clear as T.RingTensor));
          assert.ok(
            im.every((m, i) => (i === 1) === (m.clear !== undefined)),
            'only the owner sees the clear mask',
          );
          // Random indices below 2^bits and their one-hot rows (protocols/index-one-hot.ts), in both modes.
          for (const [rows, bits] of [
            [5, 3],
            [2, 1],
          ]) {
            const oh = await all((s) => s.oneHotMasks(rows, bits));
            const r = low(value(oh.map((m) => m.r)));
            assert.ok(
              r.every((x) => x < 1n << BigInt(bits)),
              `indices below 2^${bits}: ${r.join(', ')}`,
            );
            const e = value(oh.map((m) => m.oneHot));
            assert.deepEqual(e.shape, [rows, 2 ** bits]);
            assert.deepEqual(
              low(e),
              r.flatMap((x) => Array.from({ length: 2 ** bits }, (_, j) => (BigInt(j) === x ? 1n : 0n))),
            );
            assertMacs(
              oh.map((m) => m.r),
              a,
            );
            assertMacs(
              oh.map((m) => m.oneHot),
              a,
            );
          }

          // Last: a refused request may end the session (the triple service discards it).
          if (mode === 'malicious')
            await assert.rejects(
              all((s) => s.bitTriples(1)),
              /semi-honest/,
            );
        } finally {
          await dispose();
        }
      });
    }
  }

  test(`${f.name}: packed comparison masks are refused in malicious mode`, async () => {
    const { sources, dispose } = await f.create(2, 'malicious');
    try {
      await assert.rejects(Promise.all(sources.map((s) => s.compareXorMasks(8, 10))), /semi-honest/);
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: comparison masks with relu products are refused in malicious mode`, async () => {
    const { sources, dispose } = await f.create(2, 'malicious');
    try {
      await assert.rejects(Promise.all(sources.map((s) => s.reluMasks(8, 10))), /semi-honest/);
      await assert.rejects(Promise.all(sources.map((s) => s.reluPairMasks(8, 10))), /semi-honest/);
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: row triples are refused in malicious mode`, async () => {
    const { sources, dispose } = await f.create(2, 'malicious');
    try {
      await assert.rejects(Promise.all(sources.map((s) => s.rowTriple(1, 8, true))), /semi-honest/);
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: Chebyshev basis masks are refused in malicious mode`, async () => {
    const { sources, dispose } = await f.create(2, 'malicious');
    try {
      await assert.rejects(Promise.all(sources.map((s) => s.chebyshevMasks(4, 8))), /semi-honest/);
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: truncation masks with square products are refused in malicious mode`, async () => {
    const { sources, dispose } = await f.create(2, 'malicious');
    try {
      await assert.rejects(Promise.all(sources.map((s) => s.truncSquareMasks(4, 28))), /square products .* semi-honest sessions only/);
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: truncation masks with row products are refused in malicious mode`, async () => {
    const { sources, dispose } = await f.create(2, 'malicious');
    try {
      await assert.rejects(Promise.all(sources.map((s) => s.truncRowMasks(2, 4, 28))), /row products .* semi-honest sessions only/);
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: fused Chebyshev basis masks are refused in malicious mode`, async () => {
    const { sources, dispose } = await f.create(2, 'malicious');
    try {
      await assert.rejects(Promise.all(sources.map((s) => s.chebyshevTruncMasks(4, 8, 18))), /semi-honest/);
    } finally {
      await dispose();
    }
  });

  test(`${f.name}: requests that disagree between parties raise DesyncError`, { skip: f.desyncUndetectable }, async () => {
    const { sources, dispose } = await f.create(2, 'semi-honest');
    try {
      await sources[0].triples(4);
      await assert.rejects(sources[1].triples(5), DesyncError);
    } finally {
      await dispose();
    }
  });
}

/**
 * Checks packed one-hot digit shares (XorMaskedBits.oneHot) against the mask values r (low 64
 * bits): the XOR of the parties' words has, for every element and digit of bits lowBits..bits−1,
 * exactly the row of the digit's value set.
 */
export function assertOneHotDigits(r: readonly bigint[], shares: readonly SecretTensor[], bits: number, lowBits = 0): void {
  const words = Math.ceil(r.length / 64);
  const digits = comparatorDigits(bits, lowBits);
  const rows = digits.reduce((s, w) => s + 2 ** w, 0);
  assert.equal(
    digits.reduce((s, w) => s + w, 0),
    bits - lowBits,
  );
  assert.deepEqual(shares[0].shape, [rows, words]);
  const packed = Array.from({ length: rows * words }, (_, w) => shares.reduce((acc, t) => acc ^ t.share.data[w], 0n));
  r.forEach((rv, i) => {
    let row = 0;
    let off = BigInt(lowBits);
    for (const w of digits) {
      const digit = Number((rv >> off) & ((1n << BigInt(w)) - 1n));
      for (let u = 0; u < 2 ** w; u++) {
        const bit = (packed[(row + u) * words + (i >> 6)] >> BigInt(i & 63)) & 1n;
        assert.equal(bit, u === digit ? 1n : 0n, `element ${i}, digit at bit ${off}, row ${u}`);
      }
      row += 2 ** w;
      off += BigInt(w);
    }
  });
}
