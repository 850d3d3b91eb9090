#!/usr/bin/env node
/**
 * Compiles the optional native kernels (native/ring-kernels.c) into build/ring-kernels.node with
 * the system C compiler ($CC, default `cc`) against Node's own N-API headers, offline: no
 * node-gyp download. Run by `npm run build:native` and by `prepare`, so `npm ci` builds it.
 *
 * The addon is optional: without a compiler or headers this prints why and exits 0, and the
 * engine uses the WebAssembly kernels (src/kernels/kernels.ts). With MPC_PROMPT_REQUIRE_NATIVE=1
 * (CI) a failed build exits 1 instead.
 * Headers are looked for in $MPC_PROMPT_NODE_INCLUDE, <node prefix>/include/node and
 * /usr/include/node.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = 'native/ring-kernels.c';
const OUT = 'build/ring-kernels.node';
const required = process.env.MPC_PROMPT_REQUIRE_NATIVE === '1';

function skip(message) {
  // A stale addon from an older source must not be loaded instead of the wasm kernels.
  rmSync(join(root, OUT), { force: true });
  if (required) {
    console.error(`build-native: ${message} (MPC_PROMPT_REQUIRE_NATIVE=1)`);
    process.exit(1);
  }
  console.log(`build-native: skipped, ${message}; the engine will use the WebAssembly kernels`);
  process.exit(0);
}

if (process.platform === 'win32') skip('Windows builds are not supported');
const includes = [
  process.env.MPC_PROMPT_NODE_INCLUDE,
  join(dirname(dirname(process.execPath)), 'include', 'node'),
  '/usr/include/node',
].filter((dir) => dir && existsSync(join(dir, 'node_api.h')));
if (includes.length === 0) skip("Node's N-API headers (node_api.h) were not found; set MPC_PROMPT_NODE_INCLUDE");

const cc = process.env.CC || 'cc';
const args = ['-O3', '-std=c11', '-fPIC', '-shared', '-Wall', '-Wextra', `-I${includes[0]}`, SOURCE, '-o', OUT];
if (process.platform === 'darwin') args.unshift('-undefined', 'dynamic_lookup');
mkdirSync(join(root, 'build'), { recursive: true });
const started = Date.now();
const run = spawnSync(cc, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (run.error) skip(`cannot run the C compiler ${cc}: ${run.error.message}`);
if (run.status !== 0) skip(`${cc} failed to compile ${SOURCE} (exit ${run.status})`);

// Load it once here, so a broken build is reported now rather than as a silent fallback later.
const check = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(join(root, OUT))}).isa())`], { encoding: 'utf8' });
if (check.status !== 0) skip(`${OUT} does not load: ${check.stderr.trim().split('\n')[0]}`);
console.log(`build-native: ${OUT} (${Date.now() - started} ms; this CPU: ${check.stdout.trim()})`);
