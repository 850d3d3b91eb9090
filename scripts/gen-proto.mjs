#!/usr/bin/env node
// Generates TypeScript for proto/ into src/services/gen/ (gitignored) with buf + ts-proto, offline.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(new URL('../src/services/gen', import.meta.url), { recursive: true, force: true });
const r = spawnSync('buf', ['generate'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${root}node_modules/.bin:${process.env.PATH}` },
});
if (r.status !== 0) {
  console.error('gen-proto: buf generate failed (is @bufbuild/buf installed? run npm ci)');
  process.exit(1);
}
