/**
 * Chunked prefill: the prompt fed in blocks of rows (scheduler.prefill_chunk) attends across
 * blocks through the KV cache, so any block size generates what the plaintext model generates;
 * prompt rows are produced block by block from owners' ids or from clients' shares.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ValidationError } from '../base/errors.ts';
import { DEFAULT_CONFIG } from '../config/config.ts';
import { loadHfCheckpoint } from '../formats/hf-checkpoint.ts';
import type { PartyContext } from '../protocols/context.ts';
import { reveal } from '../protocols/reveal.ts';
import { referenceGenerate } from '../reference/generate.ts';
import * as T from '../ring/tensor.ts';
import { runMemorySession } from '../services/memory-session.ts';
import { makeDealer, runParties } from '../../test/helpers/parties.ts';
import { writeGpt2Fixture } from '../../test/fixtures/gpt2-fixture.ts';
import { prefillRows, promptFromOwners, promptFromShares, type PromptPart, type PromptRows } from './generate.ts';

const VOCAB = 11;

/** One-hot [ids.length, VOCAB] as plain bigints, row-major. */
function oneHot(ids: readonly number[]): bigint[] {
  const out = new Array<bigint>(ids.length * VOCAB).fill(0n);
  ids.forEach((id, t) => (out[t * VOCAB + id] = 1n));
  return out;
}

/**
 * Reads the whole prompt through `rows` in blocks of `chunk` rows; returns the revealed rows and
 * the rounds spent producing them (not revealing them).
 */
async function readInBlocks(ctx: PartyContext, rows: PromptRows, chunk: number): Promise<{ values: bigint[]; rounds: number }> {
  const values: bigint[] = [];
  let rounds = 0;
  for (let start = 0; start < rows.length; start += chunk) {
    const count = Math.min(chunk, rows.length - start);
    const before = ctx.channel.stats.rounds;
    const block = await rows.rows(start, count);
    rounds += ctx.channel.stats.rounds - before;
    assert.deepEqual(block.shape, [count, VOCAB]);
    values.push(...T.toBigInts((await reveal(ctx, [block]))[0]));
  }
  return { values, rounds };
}

/** For every block size in `chunks`: both parties read `makePrompt`'s rows in blocks, which equal the one-hot of `ids`, one input round per block. */
async function assertBlocksEqualPrompt(
  mode: 'semi-honest' | 'malicious',
  ids: readonly number[],
  chunks: readonly number[],
  makePrompt: (ctx: PartyContext) => PromptRows,
): Promise<void> {
  for (const chunk of chunks) {
    const { results } = await runParties(makeDealer(2, mode), async (ctx) => {
      const prompt = makePrompt(ctx);
      assert.equal(prompt.length, ids.length);
      return readInBlocks(ctx, prompt, chunk);
    });
    for (const r of results) {
      assert.deepEqual(r.values, oneHot(ids), `chunk ${chunk}`);
      assert.equal(r.rounds, Math.ceil(ids.length / chunk), `chunk ${chunk}: one input round per block`);
    }
  }
}

for (const mode of ['semi-honest', 'malicious'] as const) {
  test(`promptFromOwners: blocks of rows spanning parts of different owners equal the one-hot prompt (${mode})`, async () => {
    const parts: { owner: number; ids: number[] }[] = [
      { owner: 1, ids: [3, 0, 10] },
      { owner: 0, ids: [] },
      { owner: 0, ids: [7, 7, 2, 5] },
      { owner: 1, ids: [1] },
    ];
    await assertBlocksEqualPrompt(
      mode,
      parts.flatMap((p) => p.ids),
      [1, 2, 3, 8],
      (ctx) =>
        promptFromOwners(
          ctx,
          parts.map((p) => ({ owner: p.owner, length: p.ids.length, ids: p.owner === ctx.id ? p.ids : undefined })),
          VOCAB,
        ),
    );
  });
}

test('promptFromOwners: a bad token id or count is refused before any round, naming the part and position', async () => {
  await runParties(makeDealer(2, 'semi-honest'), async (ctx) => {
    const before = ctx.channel.stats.rounds;
    const parts = (ids: number[]): PromptPart[] => [
      { owner: 0, length: 2, ids: ctx.id === 0 ? [1, 2] : undefined },
      { owner: 0, length: ids.length, ids: ctx.id === 0 ? ids : undefined },
    ];
    if (ctx.id === 0) {
      assert.throws(
        () => promptFromOwners(ctx, parts([4, VOCAB]), VOCAB),
        (e: unknown) =>
          e instanceof ValidationError && /prompt\.parts\[1\]\.ids\[1\].*token id 11 is outside \[0, 11\)/.test(`${e.field}: ${e.message}`),
      );
      assert.throws(() => promptFromOwners(ctx, parts([1.5]), VOCAB), ValidationError);
      assert.throws(
        () => promptFromOwners(ctx, [{ owner: 0, length: 3, ids: [1] }], VOCAB),
        (e: unknown) => e instanceof ValidationError && /expected 3 token ids/.test(e.message),
      );
    }
    assert.throws(() => promptFromOwners(ctx, [{ owner: 1 - ctx.id, length: -1 }], VOCAB), ValidationError);
    assert.equal(ctx.channel.stats.rounds, before);
  });
});

/** Two additive shares in Z_16 (b = ⌈log2 11⌉ = 4) of each id, as prompt-shares.ts deals them. */
function idShares(ids: readonly number[], salt: number): [Uint32Array, Uint32Array] {
  const first = Uint32Array.from(ids, (_, t) => (7 * t + 3 * salt + 5) & 15);
  return [first, Uint32Array.from(ids, (id, t) => (id - first[t]) & 15)];
}

for (const mode of ['semi-honest', 'malicious'] as const) {
  test(`promptFromShares: clients' token-id shares of several parts, one-hot a block at a time, equal the prompt (${mode})`, async () => {
    const partIds = [[4, 4, 9], [0], [10, 3, 6, 1, 2]];
    const shares = partIds.map((ids, i) => idShares(ids, i));
    await assertBlocksEqualPrompt(mode, partIds.flat(), [1, 4, 9], (ctx) =>
      promptFromShares(
        ctx,
        shares.map((s) => s[ctx.id]),
        VOCAB,
      ),
    );
  });
}

test('promptFromShares: a share value not below 2^b is refused, naming the part and position', async () => {
  await runParties(makeDealer(2, 'semi-honest'), async (ctx) => {
    assert.throws(
      () => promptFromShares(ctx, [Uint32Array.from([1, 2]), Uint32Array.from([15, 16])], VOCAB),
      (e: unknown) =>
        e instanceof ValidationError && e.field === 'prompt.parts[1]' && /expected token-id shares below 2\^4, got 16 at 1/.test(e.message),
    );
  });
});

test('chunked prefill: every block size generates the plaintext greedy continuation (GPT-2 fixture, 2 parties)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-prefill-'));
  try {
    // Fixture seed 24 keeps the plaintext top-2 margin ≥ 0.29 along this greedy run (gpt2-fixture.test.ts).
    writeGpt2Fixture(dir, { seed: 24 });
    const model = loadHfCheckpoint(dir);
    const start = model.tokenizer!.encode('Hello world');
    const run = referenceGenerate(model, start, 16, { greedy: true });
    const prompt = [...start, ...run.slice(0, 9)]; // 11 tokens
    const expected = run.slice(9);
    // [11, 30]: passes of 5, 3, 2 and 1 rows as the context grows (prefillRows).
    for (const [prefillChunk, prefillMaxScores] of [
      [1, 16_384],
      [4, 16_384],
      [11, 16_384],
      [11, 30],
    ]) {
      const { ids, stats } = await runMemorySession(model, prompt, {
        parties: 2,
        mode: 'semi-honest',
        scaleBits: 16,
        maxContext: 64,
        prefillChunk,
        prefillMaxScores,
        maxNewTokens: expected.length,
        sampler: { kind: 'greedy' },
      });
      t.diagnostic(`prefill chunk ${prefillChunk}, max scores ${prefillMaxScores}: prefill ${stats.prefill_ms.toFixed(0)} ms`);
      assert.deepEqual(ids, expected, `prefill chunk ${prefillChunk}, max scores ${prefillMaxScores}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('secureGenerate: a prefill chunk or score bound that is not a positive integer is refused before any round', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-prefill-'));
  try {
    writeGpt2Fixture(dir, { seed: 24 });
    const model = loadHfCheckpoint(dir);
    const bad: [{ prefillChunk?: number; prefillMaxScores?: number }, string][] = [
      [{ prefillChunk: 0 }, 'scheduler.prefill_chunk'],
      [{ prefillChunk: 2.5 }, 'scheduler.prefill_chunk'],
      [{ prefillMaxScores: 0 }, 'scheduler.prefill_max_scores'],
      [{ prefillMaxScores: 2.5 }, 'scheduler.prefill_max_scores'],
    ];
    for (const [over, field] of bad) {
      await assert.rejects(
        runMemorySession(model, [1, 2], {
          parties: 2,
          mode: 'semi-honest',
          scaleBits: 16,
          maxContext: 64,
          ...over,
          maxNewTokens: 1,
          sampler: { kind: 'greedy' },
        }),
        (e: unknown) => e instanceof ValidationError && e.field === field,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The pass sizes of a prompt of `length` rows (prefillRows from the start to the end). */
function passes(length: number, chunk: number, maxScores: number): number[] {
  const out: number[] = [];
  for (let start = 0; start < length; start += out[out.length - 1]) out.push(prefillRows(start, length - start, chunk, maxScores));
  return out;
}

test('prefillRows: the largest pass within the chunk, the rows left and the score bound, at least one row', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 5000 }),
      fc.integer({ min: 1, max: 5000 }),
      fc.integer({ min: 1, max: 512 }),
      fc.integer({ min: 1, max: 1 << 22 }),
      (start, remaining, chunk, maxScores) => {
        const r = prefillRows(start, remaining, chunk, maxScores);
        const fits = (k: number): boolean => k * (start + k) <= maxScores;
        assert.ok(Number.isInteger(r) && r >= 1 && r <= Math.min(chunk, remaining));
        assert.ok(r === 1 || fits(r), `${r} rows at ${start} score ${r * (start + r)} > ${maxScores}`);
        assert.ok(r === Math.min(chunk, remaining) || !fits(r + 1), `${r + 1} rows would also fit`);
      },
    ),
    { numRuns: 2000 },
  );
});

test('prefillRows with the defaults: 64-row passes up to context 256, then smaller (16 rows near 1,018)', () => {
  const d = DEFAULT_CONFIG.scheduler;
  assert.deepEqual(passes(64, d.prefill_chunk, d.prefill_max_scores), [64]);
  assert.deepEqual(passes(256, d.prefill_chunk, d.prefill_max_scores), [64, 64, 64, 64]);
  const long = passes(1018, d.prefill_chunk, d.prefill_max_scores);
  assert.equal(
    long.reduce((a, b) => a + b, 0),
    1018,
  );
  assert.deepEqual(long.slice(0, 4), [64, 64, 64, 64]);
  assert.ok(
    long.every((r, i) => i === 0 || r <= long[i - 1]),
    'passes shrink as the context grows',
  );
  assert.equal(long.at(-2), 16);
  assert.deepEqual(passes(11, 11, 30), [5, 3, 2, 1]);
});
