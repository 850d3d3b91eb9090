/**
 * The `mpc-prompt attest verify` contract: JSON with valid/reason/measurements/reportData, exit
 * code 0 (valid), 1 (rejected), 2 (bad usage). Verifier behaviour itself is tested under
 * src/attestation/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireTestdata } from '../helpers/testdata.ts';

const BIN = fileURLToPath(new URL('../../bin/mpc-prompt.js', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'attest', 'verify', ...args], { encoding: 'utf8', timeout: 60_000 });

test('attest verify --format nitro: valid at its time, rejected after, usage errors', (t) => {
  const paths = requireTestdata(t, 'attestation/nitro/nitro-attest_attestation.cose');
  if (!paths) return;
  const ok = run(['--format', 'nitro', paths[0], '--now', '2025-01-06T16:07:05.472Z', '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  const r = JSON.parse(ok.stdout);
  assert.equal(r.valid, true);
  assert.equal(r.reason, 'ok');
  assert.match(r.measurements.PCR0, /^8bb159f2/);
  assert.equal(typeof r.reportData, 'string');

  const late = run(['--format', 'nitro', paths[0], '--now', '2035-01-01T00:00:00Z', '--json']);
  assert.equal(late.status, 1);
  const l = JSON.parse(late.stdout);
  assert.equal(l.valid, false);
  assert.match(l.reason, /expired/);

  assert.equal(run(['--format', 'sgx', paths[0], '--now', '2025-01-06T16:07:05.472Z']).status, 2);
  assert.equal(run(['--format', 'nitro', paths[0]]).status, 2);
  assert.equal(run(['--format', 'sev-snp', paths[0], '--now', '2025-01-06T16:07:05.472Z']).status, 2, 'sev-snp needs --chain');
});
