/**
 * The service processes' V8 heap flags are declared twice — SERVICE_NODE_FLAGS (the local
 * deployment passes them to every child) and bin/mpc-prompt.js's shebang (services started by
 * hand with `npx mpc-prompt …`) — because a shebang cannot import: they must stay equal.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SERVICE_NODE_FLAGS } from './local-deployment.ts';

test('bin/mpc-prompt.js runs node with exactly SERVICE_NODE_FLAGS', () => {
  const first = readFileSync(new URL('../../bin/mpc-prompt.js', import.meta.url), 'utf8').split('\n')[0];
  assert.equal(first, `#!/usr/bin/env -S node ${SERVICE_NODE_FLAGS.join(' ')}`);
  for (const f of SERVICE_NODE_FLAGS) assert.match(f, /^--[a-z-]+=\d+$/);
});
