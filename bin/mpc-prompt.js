#!/usr/bin/env -S node --initial-old-space-size=1024 --max-semi-space-size=32
// The heap flags above are SERVICE_NODE_FLAGS (src/cli/local-deployment.ts: why); keep them equal.
// Entry point of the `mpc-prompt` command: runs the TypeScript sources through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
