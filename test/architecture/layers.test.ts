/**
 * Enforces the one-way dependency order of DESIGN.md §4: a module may import only from its own
 * layer or lower ones. `reference/` is a leaf that only cli/, tests and benchmarks may import.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Rank of each top-level folder of src/; imports must go to an equal or lower rank. */
export const LAYERS: Record<string, number> = {
  base: 0,
  kernels: 1,
  ring: 2,
  formats: 2,
  config: 2,
  crypto: 3,
  sharing: 4,
  net: 5,
  preprocessing: 5,
  protocols: 6,
  approx: 7,
  nn: 8,
  model: 9,
  attestation: 10,
  kms: 10,
  services: 10,
  reference: 10,
  cli: 11,
};
/** Same-rank folders that must not import each other. */
const PEERS_APART = [
  ['net', 'preprocessing'],
  ['ring', 'formats'],
  ['ring', 'config'],
  ['formats', 'config'],
];
/** Folders allowed to import `reference/` (besides itself). */
const REFERENCE_USERS = new Set(['cli']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'assembly' ? [] : files(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

function layerOf(file: string): string {
  return relative(SRC, file).split(sep)[0];
}

test('every src/ folder has a layer', () => {
  const folders = readdirSync(SRC).filter((d) => statSync(join(SRC, d)).isDirectory());
  for (const f of folders) assert.ok(f in LAYERS, `src/${f} is not in the layer table (test/architecture/layers.test.ts)`);
});

/** Violations of the layer rules among `sources` (absolute path → text). */
function violationsOf(sources: Map<string, string>): string[] {
  const violations: string[] = [];
  for (const [file, text] of sources) {
    const from = layerOf(file);
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1]);
      if (!target.startsWith(SRC)) {
        violations.push(`${relative(SRC, file)} imports ${m[1]} outside src/`);
        continue;
      }
      const to = layerOf(target);
      if (to === from) continue;
      const where = `${relative(SRC, file)} → ${m[1]}`;
      if (to === 'reference' && !REFERENCE_USERS.has(from)) violations.push(`${where}: reference/ is a leaf (only cli, tests, benchmarks)`);
      else if (LAYERS[to] > LAYERS[from]) violations.push(`${where}: ${from} (${LAYERS[from]}) may not import ${to} (${LAYERS[to]})`);
      else if (PEERS_APART.some(([a, b]) => (a === from && b === to) || (a === to && b === from)))
        violations.push(`${where}: ${from} and ${to} are independent peers`);
    }
  }
  return violations;
}

test('imports only point down the layer order', () => {
  const sources = new Map(files(SRC).map((f) => [f, readFileSync(f, 'utf8')] as const));
  assert.deepEqual(violationsOf(sources), []);
});

test('the checker flags back-edges, peer edges and reference imports (self-test)', () => {
  const fake = new Map([
    [join(SRC, 'protocols/x.ts'), "import { a } from '../nn/y.ts';\nimport { b } from '../ring/tensor.ts';"],
    [join(SRC, 'net/x.ts'), "export { c } from '../preprocessing/material.ts';"],
    [join(SRC, 'model/x.ts'), "const m = await import('../reference/llama.ts');"],
    [join(SRC, 'cli/x.ts'), "import { r } from '../reference/llama.ts';"],
  ]);
  const v = violationsOf(fake);
  assert.equal(v.length, 3, v.join('\n'));
  assert.match(v[0], /protocols \(6\) may not import nn \(8\)/);
  assert.match(v[1], /independent peers/);
  assert.match(v[2], /reference\/ is a leaf/);
});
