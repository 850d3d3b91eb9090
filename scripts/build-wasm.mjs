#!/usr/bin/env node
/**
 * Compiles the AssemblyScript kernels (src/kernels/assembly/kernels.ts) into build/kernels.wasm
 * with the locally installed compiler (devDependency `assemblyscript`), offline.
 * Run by `npm run build:wasm` and by `prepare`, so `npm ci` builds it. Exits 1 on failure.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = 'src/kernels/assembly/kernels.ts';
const OUT = 'build/kernels.wasm';
// stub runtime: no GC, no allocator (wasm-kernels.ts manages memory); SIMD for the i64x2/i32x4 ops.
const FLAGS = ['-O3', '--noAssert', '--runtime', 'stub', '--enable', 'simd'];

function fail(message) {
  console.error(`build-wasm: ${message}`);
  process.exit(1);
}

let asc;
try {
  asc = (await import('assemblyscript/asc')).default;
} catch (err) {
  fail(`cannot load the AssemblyScript compiler; run \`npm ci\` (devDependency "assemblyscript"). ${err}`);
}

mkdirSync(join(root, 'build'), { recursive: true });
const started = Date.now();
const { error } = await asc.main([ENTRY, ...FLAGS, '--baseDir', root, '--outFile', OUT], {
  stdout: process.stdout,
  stderr: process.stderr,
});
if (error) fail(`compiling ${ENTRY} failed: ${error.message}`);
console.log(`build-wasm: ${OUT} (${Date.now() - started} ms)`);
