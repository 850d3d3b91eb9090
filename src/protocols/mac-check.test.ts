import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MacCheckError, SacrificeError } from '../base/errors.ts';
import { randomRingTensor, Prg, randomSeed } from '../crypto/prg.ts';
import { Z128 } from '../ring/ring.ts';
import { makeDealer, runParties } from '../../test/helpers/parties.ts';
import { TamperingChannel } from '../../test/helpers/tampering-channel.ts';
import { mul, matmul } from './beaver.ts';
import { fixedMatmul, prepareFixed } from './fixed-operand.ts';
import { MAC_CHECK_BATCH_ELEMENTS, macCheck, macCheckBytes, macCheckRounds } from './mac-check.ts';
import { reveal } from './reveal.ts';
import type { PartyContext } from './context.ts';
import { measure } from '../../test/helpers/parties.ts';

const TRIALS = 1000;

/** 1000 errors: 2^(64−j) for j = 1..64 (2^63 … 1), then uniformly random non-zero low-64-bit errors. */
function errors(): bigint[] {
  const prg = new Prg(randomSeed());
  const out: bigint[] = [];
  for (let j = 1; j <= 64; j++) out.push(1n << BigInt(64 - j));
  while (out.length < TRIALS) {
    const e = prg.words(1)[0] | (prg.words(1)[0] << 64n);
    if (e & 0xffffffffffffffffn) out.push(e);
  }
  return out;
}

describe('malicious mode: MAC check', () => {
  test(`a party adding an error to its share of an opened value is caught in ${TRIALS}/${TRIALS} trials`, async () => {
    let caught = 0;
    const errs = errors();
    for (let trial = 0; trial < TRIALS; trial++) {
      const n = trial % 2 === 0 ? 2 : 3;
      const cheater = trial % n;
      const dealer = makeDealer(n, 'malicious');
      const xs = dealer.shareForTest(randomRingTensor(Z128, [4]));
      const tamper: TamperingChannel[] = [];
      try {
        await runParties(
          dealer,
          async (ctx) => {
            if (ctx.id === cheater) tamper[ctx.id].arm(errs[trial]);
            await reveal(ctx, [xs[ctx.id]]);
          },
          { wrapChannel: (id, ch) => (tamper[id] = new TamperingChannel(ch)) },
        );
      } catch (e) {
        assert.ok(e instanceof MacCheckError, `trial ${trial}: expected MacCheckError, got ${String(e)}`);
        caught++;
      }
    }
    assert.equal(caught, TRIALS);
  });

  test('the log stays bounded: 2^20 opened elements start a check inside open, which catches tampering there', async () => {
    const { open } = await import('./open.ts');
    const size = MAC_CHECK_BATCH_ELEMENTS + 3;
    for (const cheat of [false, true]) {
      const dealer = makeDealer(2, 'malicious');
      const small = dealer.shareForTest(randomRingTensor(Z128, [size - MAC_CHECK_BATCH_ELEMENTS]));
      const big = dealer.shareForTest(randomRingTensor(Z128, [MAC_CHECK_BATCH_ELEMENTS]));
      const tamper: TamperingChannel[] = [];
      const run = runParties(
        dealer,
        async (ctx) => {
          await open(ctx, [small[ctx.id]]);
          assert.equal(ctx.checks.pendingElements, 3);
          if (cheat && ctx.id === 1) tamper[1].arm(1n);
          const rounds = ctx.channel.stats.rounds;
          await open(ctx, [big[ctx.id]]);
          // One round for the opening, then the check: 2 coin rounds + 2 commit/open rounds.
          assert.equal(ctx.channel.stats.rounds - rounds, 1 + macCheckRounds(false));
          assert.equal(ctx.checks.opened.length, 0);
          assert.equal(ctx.checks.pendingElements, 0);
        },
        { wrapChannel: (id, ch) => (tamper[id] = new TamperingChannel(ch)) },
      );
      if (cheat) await assert.rejects(run, MacCheckError);
      else await run;
    }
  });

  test('an honest run passes, and the check costs the documented rounds and bytes', async () => {
    for (const n of [2, 3]) {
      const dealer = makeDealer(n, 'malicious');
      const xs = dealer.shareForTest(randomRingTensor(Z128, [5]));
      const ys = dealer.shareForTest(randomRingTensor(Z128, [5]));
      const { results } = await runParties(dealer, async (ctx: PartyContext) => {
        await mul(ctx, xs[ctx.id], ys[ctx.id]);
        const zeros = ctx.checks.zeros.reduce((s, z) => s + z.shape.reduce((a, b) => a * b, 1), 0);
        const m = await measure(ctx, () => macCheck(ctx));
        return { cost: m.cost, zeros };
      });
      for (const r of results) {
        assert.equal(r.cost.rounds, macCheckRounds(true));
        assert.equal(r.cost.bytesSent, macCheckBytes({ n }, r.zeros));
      }
    }
  });
});

describe('malicious mode: triple sacrifice', () => {
  test(`a dealer corrupting one triple in a batch is caught in ${TRIALS}/${TRIALS} trials`, async () => {
    let caught = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const n = trial % 2 === 0 ? 2 : 3;
      // Alternate which of the two triples (the used one or the check one) is corrupted.
      const target = trial % 4 < 2 ? 0 : 1;
      let seen = 0;
      const dealer = makeDealer(n, 'malicious', { dealer: { corrupt: ({ kind }) => kind === 'triple' && seen++ === target } });
      const xs = dealer.shareForTest(randomRingTensor(Z128, [32]));
      const ys = dealer.shareForTest(randomRingTensor(Z128, [32]));
      try {
        await runParties(dealer, async (ctx) => {
          const z = await mul(ctx, xs[ctx.id], ys[ctx.id]);
          await reveal(ctx, [z]);
        });
      } catch (e) {
        assert.ok(e instanceof SacrificeError, `trial ${trial}: expected SacrificeError, got ${String(e)}`);
        caught++;
      }
    }
    assert.equal(caught, TRIALS);
  });

  test('corrupted matrix and fixed-operand triples are caught too', async () => {
    for (const kind of ['matrix', 'fixedTriple']) {
      for (let trial = 0; trial < 50; trial++) {
        const dealer = makeDealer(2, 'malicious', { dealer: { corrupt: (r) => r.kind === kind && trial % 2 === 0 } });
        const x = dealer.shareForTest(randomRingTensor(Z128, [2, 3]));
        const w = dealer.shareForTest(randomRingTensor(Z128, [3, 4]));
        const run = runParties(dealer, async (ctx) => {
          const z =
            kind === 'matrix'
              ? await matmul(ctx, x[ctx.id], w[ctx.id])
              : await fixedMatmul(ctx, x[ctx.id], (await prepareFixed(ctx, [{ id: 'w', w: w[ctx.id] }]))[0]);
          await reveal(ctx, [z]);
        });
        if (trial % 2 === 0) await assert.rejects(run, SacrificeError, `${kind} trial ${trial}`);
        else await run;
      }
    }
  });
});
