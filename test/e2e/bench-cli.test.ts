/**
 * `mpc-prompt bench` end to end on a tiny random GPT-2 (the real services as processes): the JSON
 * has every reported figure, the chart is written, and bad flags are usage errors. The figures
 * of record (GPT-2-small) come from running the command itself, not from this test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/mpc-prompt.js', import.meta.url));

test('mpc-prompt bench --json on a tiny model: every figure present, chart written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-bench-test-'));
  try {
    const out = join(dir, 'r.json');
    const chart = join(dir, 'c.svg');
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'bench',
        '--json',
        '--model',
        'gpt2-random:1x32x2x64x128',
        '--contexts',
        '4',
        '--decode-tokens',
        '3',
        '--prefill-chunk',
        '3',
        '--out',
        out,
        '--chart',
        chart,
        '--logs',
        join(dir, 'logs'),
      ],
      { encoding: 'utf8', timeout: 180_000, env: { ...process.env, MPC_PROMPT_NODE_FLAGS: '--trace-gc' } },
    );
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      runs: Record<string, unknown>[];
      machine: { cores: number };
      model: { parameters: number };
      crypten_baseline: object;
    };
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), j);
    assert.ok(j.machine.cores >= 1 && j.model.parameters > 0 && j.crypten_baseline);
    const run = j.runs[0] as Record<string, number | boolean | object>;
    for (const k of [
      'decode_ms_per_token',
      'bytes_per_token_per_party',
      'rounds_per_token',
      'prefill_ms',
      'plaintext_ms_per_token',
      'ratio_to_plaintext',
      'tokens_per_second',
    ])
      assert.ok(typeof run[k] === 'number' && (run[k] as number) > 0, `${k} = ${String(run[k])}`);
    assert.equal((run.decode_ms_samples as number[]).length, 2);
    assert.equal(run.prefill_chunk, 3); // the 4-token prompt in passes of 3 and 1 rows
    assert.equal(run.prefill_max_scores, 16_384); // the default bound (not reached by 4 rows)
    // Equality is reported, not asserted: a random tiny model may have near-ties a fixed-point
    // run can flip. But the first token that differs must be one where the plaintext top-2
    // margin is at most 0.05 (the fidelity criterion; later steps see different contexts).
    const ids = run.ids as number[];
    const refIds = run.reference_ids as number[];
    const margins = run.reference_top2_margins as number[];
    assert.ok(ids.length === 3 && refIds.length === 3 && margins.length === 3 && margins.every((m) => m >= 0));
    assert.equal(
      run.tokens_equal_reference,
      ids.every((id, i) => id === refIds[i]),
    );
    const firstDiff = ids.findIndex((id, i) => id !== refIds[i]);
    if (firstDiff >= 0) assert.ok(margins[firstDiff] <= 0.05, `token ${firstDiff} differs at a plaintext margin of ${margins[firstDiff]}`);
    const rss = run.peak_rss_mb as Record<string, number>;
    assert.ok(rss['party-A'] > 0 && rss['party-B'] > 0 && rss.triples > 0);
    // CPU per decode step of every process (from /proc; 10 ms ticks, so ≥ 0).
    const cpu = run.cpu_ms_per_token as Record<string, number>;
    for (const name of ['party-A', 'party-B', 'triples', 'coordinator']) assert.ok(cpu[name] >= 0, `cpu_ms_per_token.${name}`);
    const phases = run.phases as { name: string; ms: number; rounds: number }[];
    for (const name of ['norm', 'attention.softmax', 'mlp.activation', 'lm-head', 'sampling'])
      assert.ok(
        phases.some((p) => p.name === name),
        name,
      );
    const svg = readFileSync(chart, 'utf8');
    assert.match(svg, /^<svg[^>]+xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /attention\.softmax/);
    // --logs keeps each run's service logs; MPC_PROMPT_NODE_FLAGS reached the services.
    for (const name of ['party-A', 'party-B', 'triples'])
      assert.match(readFileSync(join(dir, 'logs', '2p-semi-honest-ctx4-s1', `${name}.log`), 'utf8'), /ms: (Scavenge|Mark-Compact)/, name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mpc-prompt bench: bad flags are usage errors (exit 2)', () => {
  for (const args of [
    ['--security', 'paranoid'],
    ['--contexts', '64,'],
    ['--decode-tokens', '1'],
    ['--prefill-max-scores', '0'],
    ['--model', 'gpt2-random:1x3x2x4x5'],
  ]) {
    const r = spawnSync(process.execPath, [BIN, 'bench', ...args], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error: /);
  }
});
