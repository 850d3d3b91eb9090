import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../base/errors.ts';
import { DEFAULT_CHEBY_DEG } from '../approx/exp.ts';
import { DEFAULT_SCALE_BITS } from '../ring/fixed-point.ts';
import { DEFAULT_CONFIG, loadConfigFile, validateConfig } from './config.ts';

test('defaults validate and agree with the engine defaults', () => {
  assert.deepEqual(validateConfig({}), DEFAULT_CONFIG);
  assert.deepEqual(validateConfig(undefined), DEFAULT_CONFIG);
  assert.equal(DEFAULT_CONFIG.cheby.deg, DEFAULT_CHEBY_DEG);
  assert.equal(DEFAULT_CONFIG.fixed_point.scale_bits, DEFAULT_SCALE_BITS);
  assert.equal(DEFAULT_CONFIG.tls.enabled, true);
});

test('a YAML file overrides the seed tunables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  writeFileSync(
    join(dir, 'c.yaml'),
    'security: { mode: malicious }\nfixed_point: { scale_bits: 20 }\ncheby: { deg: 12 }\nscheduler: { max_context: 64, prefill_chunk: 16, prefill_max_scores: 4096 }\ntriple_pool: { min_size: 7 }\ntopk: 5\n' +
      'deployment:\n  parties: [{ id: X, data: "localhost:1" }, { id: Y, data: "localhost:2" }, { id: Z, data: "localhost:3" }]\n  model_owner: Y\n',
  );
  const c = loadConfigFile(join(dir, 'c.yaml'));
  assert.equal(c.security.mode, 'malicious');
  assert.equal(c.fixed_point.scale_bits, 20);
  assert.equal(c.cheby.deg, 12);
  assert.equal(c.scheduler.max_context, 64);
  assert.equal(c.scheduler.prefill_chunk, 16);
  assert.equal(c.scheduler.prefill_max_scores, 4096);
  assert.equal(c.triple_pool.min_size, 7);
  assert.equal(c.topk, 5);
  assert.deepEqual(
    c.deployment.parties.map((p) => p.id),
    ['X', 'Y', 'Z'],
  );
  assert.equal(c.deployment.model_owner, 'Y');
});

test('bad values are rejected with the field and what was expected', () => {
  const cases: [unknown, RegExp][] = [
    [{ fixed_point: { scale_bits: 30 } }, /fixed_point\.scale_bits: expected an integer in \[8, 24\], got number 30/],
    [{ fixed_point: { scale_bits: 7 } }, /fixed_point\.scale_bits/],
    [{ security: { mode: 'paranoid' } }, /security\.mode: expected one of "semi-honest", "malicious"/],
    [{ scheduler: { max_context: 0 } }, /scheduler\.max_context/],
    [{ scheduler: { prefill_chunk: 0 } }, /scheduler\.prefill_chunk: expected an integer in \[1, 1048576\], got number 0/],
    [{ scheduler: { prefill_chunk: 2.5 } }, /scheduler\.prefill_chunk/],
    [{ scheduler: { prefill_max_scores: 0 } }, /scheduler\.prefill_max_scores: expected an integer in \[1, 1073741824\], got number 0/],
    [{ tls: { enabled: 'yes' } }, /tls\.enabled: expected true or false/],
    [{ cheby: { degree: 3 } }, /cheby\.degree: unknown key/],
    [{ tsl: {} }, /tsl: unknown key/],
    [{ deployment: { coordinator: 'nohost' } }, /deployment\.coordinator: expected host:port/],
    [{ deployment: { parties: [{ id: 'A', data: 'localhost:1' }] } }, /at least 2 parties/],
    [
      {
        deployment: {
          parties: [
            { id: 'A', data: 'localhost:1' },
            { id: 'A', data: 'localhost:2' },
          ],
        },
      },
      /unique/,
    ],
    [{ deployment: { model_owner: 'Q' } }, /deployment\.model_owner: "Q" is not one of the parties/],
    [[1, 2], /must be a mapping/],
    [{ deployment: { model_source: 'disk' } }, /deployment\.model_source: expected one of "enclave", "owner"/],
    [{ deployment: { enclave: { pinned_roots: ['abc'] } } }, /deployment\.enclave\.pinned_roots\[0\]: expected 64 hex digits/],
    [{ deployment: { enclave: { pcr0: 'zz' } } }, /deployment\.enclave\.pcr0: expected 96 hex digits/],
    [{ deployment: { enclave: { pin_dev_root: 'yes' } } }, /deployment\.enclave\.pin_dev_root: expected true or false/],
    [{ deployment: { enclave: { kms: 'nohost' } } }, /deployment\.enclave\.kms: expected host:port/],
    [{ deployment: { enclave: { max_evidence_age_s: 0 } } }, /deployment\.enclave\.max_evidence_age_s/],
    [{ deployment: { enclave: { adress: 'localhost:1' } } }, /deployment\.enclave\.adress: unknown key/],
  ];
  for (const [raw, message] of cases)
    assert.throws(
      () => validateConfig(raw),
      (e: unknown) => e instanceof ValidationError && message.test(e.message),
    );
});

test('unreadable or invalid YAML files give precise errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  assert.throws(() => loadConfigFile(join(dir, 'missing.yaml')), /cannot read config file/);
  writeFileSync(join(dir, 'bad.yaml'), 'a: [1, 2');
  assert.throws(() => loadConfigFile(join(dir, 'bad.yaml')), /not valid YAML/);
});

test('deploy/local.yaml documents exactly the defaults', () => {
  assert.deepEqual(loadConfigFile(new URL('../../deploy/local.yaml', import.meta.url).pathname), DEFAULT_CONFIG);
});
