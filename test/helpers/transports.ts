/** Runs `mpc-prompt generate` over both transports and `reference`, and compares the ids. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireTestdata } from './testdata.ts';

const BIN = fileURLToPath(new URL('../../bin/mpc-prompt.js', import.meta.url));

function run(args: string[]): { ids: number[]; stats?: Record<string, number> } {
  const r = spawnSync(process.execPath, [BIN, ...args, '--json'], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `mpc-prompt ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

export function compareTransports(t: TestContext, tokens: number): void {
  const paths = requireTestdata(t, 'llama2c/stories260K.bin');
  if (!paths) return;
  const common = ['--model', paths[0], '--prompt-ids', '1', '--max-new-tokens', String(tokens), '--greedy'];
  const grpc = run(['generate', ...common]);
  const memory = run(['generate', ...common, '--transport', 'memory']);
  const reference = run(['reference', ...common]);
  t.diagnostic(`grpc: ${JSON.stringify(grpc.stats)}`);
  assert.equal(grpc.ids.length, tokens);
  assert.deepEqual(grpc.ids, memory.ids);
  assert.deepEqual(grpc.ids, reference.ids);
}
