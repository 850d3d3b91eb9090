#!/usr/bin/env node
// Runs the test suite with Node's built-in runner (TypeScript via tsx, no build step).
//   node scripts/run-tests.mjs            default suite: every *.test.ts under src/, test/, models/, training/ except test/slow/
//   node scripts/run-tests.mjs --slow     only test/slow/ (long-running suites)
//   node scripts/run-tests.mjs FILE...    just those files
// Node 20's --test does not expand globs, so the files are listed here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const slow = args.includes('--slow');
const explicit = args.filter((a) => !a.startsWith('--'));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const isSlow = (f) => relative(root, f).split(sep).slice(0, 2).join('/') === 'test/slow';
const files =
  explicit.length > 0
    ? explicit
    : ['src', 'test', 'models', 'training']
        .flatMap((d) => walk(join(root, d)))
        .filter((f) => isSlow(f) === slow)
        .sort();
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
