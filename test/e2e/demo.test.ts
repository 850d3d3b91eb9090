/**
 * `mpc-prompt demo` as a user runs it (a separate process that starts the services as separate
 * processes), on free loopback ports: it must finish well under 2 minutes, exit 0, and print
 * both checks as passed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../../src/net/free-port.ts';
import { testEnclaveSection } from '../helpers/enclave-config.ts';

const BIN = fileURLToPath(new URL('../../bin/mpc-prompt.js', import.meta.url));

test('mpc-prompt demo: weights from the enclave, the parties jointly compute a + b on the embedded model, checks pass, clean shutdown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-prompt-demo-test-'));
  try {
    const [c, tr, a, b] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const config = {
      deployment: {
        pki_dir: join(dir, 'pki'),
        coordinator: `localhost:${c}`,
        triples: `localhost:${tr}`,
        coordinator_metrics: '',
        triples_metrics: '',
        parties: [
          { id: 'A', data: `localhost:${a}`, metrics: '' },
          { id: 'B', data: `localhost:${b}`, metrics: '' },
        ],
        enclave: await testEnclaveSection(dir),
      },
    };
    writeFileSync(join(dir, 'config.yaml'), stringify(config));
    const start = Date.now();
    const r = spawnSync(
      process.execPath,
      [BIN, 'demo', '--config', join(dir, 'config.yaml'), '--a', '47', '--b', '68', '--logs', join(dir, 'logs')],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    const seconds = (Date.now() - start) / 1000;
    t.diagnostic(`demo took ${seconds.toFixed(1)} s`);
    assert.equal(r.status, 0, `demo exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /the parties' model wrote: 47\+68=115/);
    assert.match(r.stdout, /check: 47 \+ 68 = 115 ✓/);
    assert.match(r.stdout, /plaintext check: .* ✓ \(identical\)/);
    assert.match(r.stdout, /shut down cleanly/);
    assert.match(r.stdout, /weights: the enclave service got the model key from the KMS by attestation/);
    assert.ok(seconds < 120);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
