/**
 * Locates ../shared/testdata (or $MPC_PROMPT_TESTDATA). Tests that need it skip when it is
 * absent, except under CI=true, where its absence is a failure.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const TESTDATA = process.env.MPC_PROMPT_TESTDATA ?? join(repoRoot, '..', 'shared', 'testdata');

/** The absolute paths if they all exist; otherwise skips the test (or fails it in CI). */
export function requireTestdata(t: TestContext, ...relative: string[]): string[] | undefined {
  const paths = relative.map((r) => join(TESTDATA, r));
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return paths;
  const message = `test data not found: ${missing.join(', ')} (set MPC_PROMPT_TESTDATA)`;
  if (process.env.CI === 'true') assert.fail(message);
  t.skip(message);
  return undefined;
}
