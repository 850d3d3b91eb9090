/**
 * The native kernels (every instruction set this CPU has) through the shared matrix-product
 * conformance suite (wasm-kernels.test.ts runs it for the wasm kernels), the addon's own argument checks, and the selection
 * by MPC_PROMPT_KERNELS. Without a built addon the native cases are skipped, except under
 * MPC_PROMPT_REQUIRE_NATIVE=1 (CI), where that is a failure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMatrixProductConformance, sampleElements } from '../../test/conformance/matrix-products.case.ts';
import { jsKernels } from './js-kernels.ts';
import { selectKernels } from './kernels.ts';
import { loadNativeKernels } from './native-kernels.ts';
import { wasmKernels, wasmPins } from './wasm-kernels.ts';

const native = loadNativeKernels();

if (native.ok) {
  const { addon } = native;
  const initial = addon.isa();
  for (const isa of ['avx512', 'avx2'] as const) {
    if (!addon.useIsa(isa)) {
      test(`native ${isa}: not supported by this CPU`, { skip: true }, () => {});
      continue;
    }
    addon.useIsa(initial as 'avx512' | 'avx2');
    // Each case runs with its instruction set selected (node:test runs them in order).
    test(`native ${isa}: select`, () => assert.equal(addon.useIsa(isa), true));
    runMatrixProductConformance(`native ${isa}`, native.kernels, native.pins);
    test(`native ${isa}: restore ${initial}`, () => assert.equal(addon.useIsa(initial as 'avx512' | 'avx2'), true));
  }

  test('native: the addon checks its arguments itself (types, lengths, overlap)', () => {
    const a = new BigUint64Array(6);
    const b = new BigUint64Array(6);
    const c = new BigUint64Array(4);
    assert.throws(() => addon.matmul64(a, b, c, 2, 3, 3), /lengths do not match/);
    assert.throws(() => addon.matmul64(new Float64Array(6) as unknown as BigUint64Array, b, c, 2, 3, 2), /must be BigUint64Arrays/);
    assert.throws(() => addon.matmul64(a, b, a.subarray(0, 4), 2, 3, 2), /must not overlap/);
    assert.throws(() => addon.matmul64(a, b, c, 2, 3, 2 ** 31), /integers in \[0, 2\^31\)/);
    assert.throws(() => (addon.matmul64 as (...x: unknown[]) => void)(a, b, c), /expected \(a, b, c, m, k, n\)/);
    assert.throws(() => addon.matmulPacked64(a, b, c, 2, 3, 2), /lengths do not match/, 'packed B has 32-column panels');
    const p = new BigUint64Array(addon.packedWords(3, 2));
    assert.equal(p.length, 3 * 32);
    assert.throws(() => addon.packRows64(b, p, 1, 3, 2), /do not fit/);
    assert.throws(() => addon.unpack64(p, new BigUint64Array(5), 3, 2), /lengths do not match/);
    assert.throws(() => addon.useIsa('sse2' as 'avx2'), /expected "avx512" or "avx2"/);
  });

  test('native: an unpacked raw B in a larger buffer (subarray views) gives the same product', () => {
    const [m, k, n] = [3, 50, 45];
    const backing = sampleElements(1, k * n + 17);
    const b = backing.subarray(9, 9 + k * n);
    const a = sampleElements(1, m * k);
    const c = new BigUint64Array(m * n);
    addon.matmul64(a, b, c, m, k, n);
    assert.deepEqual(c, jsKernels.matmul(1, a, b, m, k, n));
  });
} else {
  test(
    'native kernels are built and load (required in CI)',
    { skip: process.env.MPC_PROMPT_REQUIRE_NATIVE === '1' ? false : native.reason },
    () => assert.fail(native.reason),
  );
}

test('MPC_PROMPT_KERNELS: wasm selects wasm, auto native only with AVX-512, native fails precisely when unavailable, others are refused', () => {
  assert.equal(selectKernels('wasm').kernels, wasmKernels);
  assert.equal(selectKernels('wasm').pins, wasmPins);
  if (native.ok) {
    assert.equal(selectKernels('native').kernels, native.kernels);
    const initial = native.addon.isa() as 'avx512' | 'avx2';
    assert.equal(selectKernels('auto').pins, initial === 'avx512' ? native.pins : wasmPins, `auto on ${initial}`);
    if (initial === 'avx512' && native.addon.useIsa('avx2')) {
      assert.equal(selectKernels('auto').kernels, wasmKernels, 'auto prefers wasm to the AVX2 path');
      native.addon.useIsa(initial);
    }
  } else {
    assert.throws(() => selectKernels('native'), /MPC_PROMPT_KERNELS=native: /);
    assert.equal(selectKernels('auto').kernels, wasmKernels);
  }
  assert.throws(() => selectKernels('avx'), /MPC_PROMPT_KERNELS: expected one of auto, native, wasm, got "avx"/);
});
