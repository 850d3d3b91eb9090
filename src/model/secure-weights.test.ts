import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomGpt2 } from '../formats/random-gpt2.ts';
import { encode } from '../ring/fixed-point.ts';
import { Z64 } from '../ring/ring.ts';
import * as T from '../ring/tensor.ts';
import type { RingTensor } from '../ring/tensor.ts';
import type { SecretTensor } from '../sharing/secret-tensor.ts';
import { makeDealer, runParties } from '../../test/helpers/parties.ts';
import { foldAll, foldedShapes, foldWeights } from './fold-weights.ts';
import { loadSecureModel, loadSecureModelFromShares, releaseSecureModel, weightBlocks, type SecureModel } from './secure-weights.ts';

const SPEC = 'gpt2-random:2x16x2x24x40';

test('weight blocks cover every tensor once, in order, matrices by whole rows, groups within the limit', () => {
  const { config } = randomGpt2(SPEC);
  const specs = foldedShapes(config);
  for (const limit of [1, 7, 100, 1000, 1 << 22]) {
    const groups = weightBlocks(specs, limit);
    const flat = groups.flat();
    let next = { index: 0, row: 0 };
    for (const b of flat) {
      const spec = specs[b.index];
      if (b.index !== next.index) {
        const done = specs[next.index];
        assert.equal(next.row, done.kind === 'matrix' ? done.shape[0] : 1, `limit ${limit}: ${done.name} incomplete`);
        assert.equal(b.index, next.index + 1);
        next = { index: b.index, row: 0 };
      }
      assert.equal(b.start, next.row, `limit ${limit}: ${spec.name} rows contiguous`);
      assert.deepEqual(b.shape, spec.kind === 'matrix' ? [b.end - b.start, spec.shape[1]] : spec.shape);
      next.row = b.end;
    }
    const last = specs[specs.length - 1];
    assert.equal(next.index, specs.length - 1);
    assert.equal(next.row, last.kind === 'matrix' ? last.shape[0] : 1);
    for (const g of groups) {
      const size = g.reduce((s, b) => s + T.sizeOf(b.shape), 0);
      // Only a single row wider than the limit may exceed it.
      assert.ok(size <= limit || (g.length === 1 && g[0].end - g[0].start === 1), `limit ${limit}: group of ${size}`);
    }
  }
});

/** Every matrix as D + Σ B_i and every bias as Σ shares, from all parties' models. */
function reconstruct(models: SecureModel[]): Map<string, RingTensor> {
  const sum = (xs: RingTensor[]): RingTensor => xs.reduce((a, b) => T.add(a, b));
  const shares = (pick: (m: SecureModel) => SecretTensor): RingTensor => sum(models.map((m) => pick(m).share));
  const out = new Map<string, RingTensor>();
  const operand = (name: string, pick: (m: SecureModel) => { opened: RingTensor; mask: SecretTensor }): void => {
    out.set(
      name,
      T.add(
        pick(models[0]).opened,
        shares((m) => pick(m).mask),
      ),
    );
  };
  operand('embedding', (m) => m.embedding);
  operand('positions', (m) => m.positions!);
  models[0].layers.forEach((_, l) => {
    for (const [key, name, bias] of [
      ['wqkv', 'wqkv', 'bqkv'],
      ['wo', 'wo', 'bo'],
      ['up', 'wfc', 'bfc'],
      ['down', 'wproj', 'bproj'],
    ] as const) {
      operand(`layers.${l}.${name}`, (m) => m.layers[l][key].w);
      out.set(
        `layers.${l}.${bias}`,
        shares((m) => m.layers[l][key].bias!),
      );
    }
  });
  operand('lmHead', (m) => m.lmHead.w);
  out.set(
    'lmHeadBias',
    shares((m) => m.lmHead.bias!),
  );
  return out;
}

for (const [parties, mode] of [
  [2, 'semi-honest'],
  [3, 'malicious'],
] as const) {
  test(`${parties} parties, ${mode}: weights brought in row blocks of 100 elements reconstruct to the encoded folded weights, from the owner and from shares`, async () => {
    const model = randomGpt2(SPEC);
    const specs = foldedShapes(model.config);
    const folded = foldWeights(model.config, model.weights);
    for (const source of ['owner', 'shares'] as const) {
      const { results, contexts } = await runParties(makeDealer(parties, mode), async (ctx) => {
        const want = specs.map((s, i) => encode(Z64, s.shape, foldAll(folded[i], s), ctx.scaleBits));
        // Shares of the encoded weights: party 0 holds them all, the others zero.
        const shares = want.map((w) => (ctx.id === 0 ? w : T.zeros(Z64, w.shape)));
        const o = { pin: true, blockElements: 100 };
        return source === 'owner'
          ? loadSecureModel(ctx, model.config, 0, ctx.id === 0 ? folded : undefined, o)
          : loadSecureModelFromShares(ctx, model.config, shares, o);
      });
      const ring = contexts[0].ring;
      const got = reconstruct(results);
      // Shares arrive in Z_2^64 and are lifted, so only the low 64 bits are defined there.
      const low = (t: RingTensor): BigUint64Array => (source === 'owner' ? t.data : t.data.filter((_, i) => i % ring.limbs === 0));
      specs.forEach((s, i) => {
        const want = encode(ring, s.shape, foldAll(folded[i], s), contexts[0].scaleBits);
        const have = got.get(s.name);
        assert.ok(have, s.name);
        assert.deepEqual(low(have), low(want), `${source}: ${s.name}`);
      });
      results.forEach(releaseSecureModel);
    }
  });
}

test('a bad block size is refused before anything is sent', async () => {
  const model = randomGpt2(SPEC);
  const folded = foldWeights(model.config, model.weights);
  await runParties(makeDealer(2, 'semi-honest'), async (ctx) => {
    await assert.rejects(
      loadSecureModel(ctx, model.config, 0, ctx.id === 0 ? folded : undefined, { blockElements: 0 }),
      /blockElements: expected an integer ≥ 1, got 0/,
    );
    assert.equal(ctx.channel.stats.rounds, 0);
  });
});
