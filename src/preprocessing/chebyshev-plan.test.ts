import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chebyshevPlan } from './chebyshev-plan.ts';

test('the Chebyshev doubling plan has d − 1 products, each T_k with k = m + j produced once, factors known before use', () => {
  for (let d = 2; d <= 64; d++) {
    const plan = chebyshevPlan(d);
    assert.equal(plan.pairs.length, d - 1, `d = ${d}`);
    const produced = new Set<number>([1]);
    for (const { m, js } of plan.levels) {
      for (const j of [m, ...js]) assert.ok(produced.has(j), `T_${j} is known when level ${m} of d = ${d} uses it`);
      for (const j of js) produced.add(m + j);
    }
    assert.deepEqual(
      [...produced].sort((a, b) => a - b),
      Array.from({ length: d }, (_, i) => i + 1),
    );
  }
  assert.deepEqual(chebyshevPlan(8).factors, [1, 2, 3, 4]);
  assert.deepEqual(chebyshevPlan(12).factors, [1, 2, 3, 4, 8]);
  assert.throws(() => chebyshevPlan(1), /degree must be an integer in \[2, 64\], got 1/);
});
