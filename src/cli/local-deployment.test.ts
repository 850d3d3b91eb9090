/**
 * The service processes' V8 heap flags are declared twice — SERVICE_NODE_FLAGS (the local
 * deployment passes them to every child) and bin/mpc-prompt.js's shebang (services started by
 * hand with `npx mpc-prompt …`) — because a shebang cannot import: they must stay equal. The
 * triple service's niceness comes from MPC_PROMPT_TRIPLES_NICE (default 10).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SERVICE_NODE_FLAGS, triplesNice } from './local-deployment.ts';

test('bin/mpc-prompt.js runs node with exactly SERVICE_NODE_FLAGS', () => {
  const first = readFileSync(new URL('../../bin/mpc-prompt.js', import.meta.url), 'utf8').split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S node ${SERVICE_NODE_FLAGS.join(' ')}`);
  for (const f of SERVICE_NODE_FLAGS) assert.match(f, /^--[a-z-]+=\d+$/);
});

test('the triple service runs at nice 10 unless MPC_PROMPT_TRIPLES_NICE says otherwise; bad values are refused', () => {
  assert.equal(triplesNice({}), 10);
  assert.equal(triplesNice({ MPC_PROMPT_TRIPLES_NICE: '' }), 10);
  assert.equal(triplesNice({ MPC_PROMPT_TRIPLES_NICE: '0' }), 0);
  assert.equal(triplesNice({ MPC_PROMPT_TRIPLES_NICE: '19' }), 19);
  for (const bad of ['-1', '20', '2.5', 'low'])
    assert.throws(() => triplesNice({ MPC_PROMPT_TRIPLES_NICE: bad }), /MPC_PROMPT_TRIPLES_NICE.*expected an integer in \[0, 19\]/);
});
