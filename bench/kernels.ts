/**
 * Matmul throughput of the WebAssembly kernels, in multiply-adds per second (m·k·n / time).
 *
 *   npm run bench:kernels [-- --json]
 *
 * For Z_2^64 and Z_2^128 at [1,768]x[768,768] and [64,768]x[768,768], four timings, each over
 * at least 7 runs (and 0.5 s) after 2 warm-up runs; rates are from the median, minMs shows noise:
 *   kernel         the wasm compute alone, operands resident (what `matmul` runs between its copies)
 *   end-to-end     wasmKernels.matmul: copy A and B in, compute, copy C out
 *   pinned kernel  the compute on a B kept packed by pinMatrix
 *   pinned e2e     matmulPinned: copy A in, compute, copy C out
 *
 * Then `products`: Z_2^64 products shaped like the engine's (decode m = 1 and 2, a prefill pass
 * m = 64, the LM head), B cold as in decoding (each run takes the next of enough distinct
 * matrices to exceed the caches), through every implementation this machine has: wasm pinned
 * and unpinned, and the native addon per instruction set (packed pin and raw B).
 * `--quick` measures fewer shapes with fewer matrices.
 */
import { randomFillSync } from 'node:crypto';
import os from 'node:os';
import type { Limbs } from '../src/kernels/kernel-api.ts';
import type { MatrixPins, RingKernels } from '../src/kernels/kernel-api.ts';
import { loadNativeKernels } from '../src/kernels/native-kernels.ts';
import { matmulPinned, pinMatrix, stageMatmul, unpin, wasmKernels, wasmPins } from '../src/kernels/wasm-kernels.ts';

const SHAPES = [
  [1, 768, 768],
  [64, 768, 768],
] as const;
const WARMUP = 2;
const MIN_RUNS = 7;
const MIN_SECONDS = 0.5;

/** Times `fn` over at least MIN_RUNS runs and MIN_SECONDS in total, after warm-up. */
function time(madds: number, fn: () => void) {
  const once = (): number => {
    const start = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  let estimate = Infinity;
  for (let i = 0; i < WARMUP; i++) estimate = Math.min(estimate, once());
  const runs = Math.min(500, Math.max(MIN_RUNS, Math.ceil(MIN_SECONDS / estimate)));
  const times = Array.from({ length: runs }, once).sort((x, y) => x - y);
  const median = times[Math.floor(runs / 2)];
  const ms = (seconds: number): number => Number((seconds * 1e3).toFixed(4));
  return { maddsPerSecond: Math.round(madds / median), medianMs: ms(median), minMs: ms(times[0]), runs };
}

function measure(limbs: Limbs, m: number, k: number, n: number) {
  const a = randomFillSync(new BigUint64Array(m * k * limbs));
  const b = randomFillSync(new BigUint64Array(k * n * limbs));
  const madds = m * k * n;
  const staged = stageMatmul(limbs, a, b, m, k, n);
  const kernel = time(madds, () => staged.run());
  const endToEnd = time(madds, () => wasmKernels.matmul(limbs, a, b, m, k, n));
  const pinned = pinMatrix(limbs, b, k, n);
  const stagedPinned = stageMatmul(limbs, a, pinned, m, k, n);
  const pinnedKernel = time(madds, () => stagedPinned.run());
  const pinnedEndToEnd = time(madds, () => matmulPinned(limbs, a, pinned, m));
  unpin(pinned);
  return {
    ring: limbs === 1 ? 'Z_2^64' : 'Z_2^128',
    shape: `[${m},${k}]x[${k},${n}]`,
    madds,
    kernel,
    endToEnd,
    pinnedKernel,
    pinnedEndToEnd,
  };
}

/** Cold-B products: ms per product (median of runs over `count` distinct B), per implementation. */
function coldProducts(m: number, k: number, n: number, count: number) {
  const a = randomFillSync(new BigUint64Array(m * k));
  const bs = Array.from({ length: count }, () => randomFillSync(new BigUint64Array(k * n)));
  const impls: { name: string; kernels: RingKernels; pins: MatrixPins; select?: () => void }[] = [
    { name: 'wasm-simd', kernels: wasmKernels, pins: wasmPins },
  ];
  const native = loadNativeKernels();
  const initial = native.ok ? (native.addon.isa() as 'avx512' | 'avx2') : undefined;
  if (native.ok && initial) {
    for (const isa of ['avx512', 'avx2'] as const) {
      if (native.addon.useIsa(isa))
        impls.push({ name: `native-${isa}`, kernels: native.kernels, pins: native.pins, select: () => native.addon.useIsa(isa) });
    }
    native.addon.useIsa(initial);
  }
  const out: Record<string, { pinnedMs: number; unpinnedMs: number }> = {};
  const perProduct = (fn: (i: number) => void): number => {
    fn(0);
    const runs = Array.from({ length: 3 }, () => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < count; i++) fn(i);
      return Number(process.hrtime.bigint() - start) / 1e6 / count;
    }).sort((x, y) => x - y);
    return Number(runs[1].toFixed(3));
  };
  for (const impl of impls) {
    impl.select?.();
    const pinned = bs.map((b) => impl.pins.pin(1, b, k, n));
    const pinnedMs = perProduct((i) => impl.pins.matmul(1, a, pinned[i], m));
    pinned.forEach((p) => impl.pins.unpin(p));
    const unpinnedMs = perProduct((i) => impl.kernels.matmul(1, a, bs[i], m, k, n));
    out[impl.name] = { pinnedMs, unpinnedMs };
  }
  if (native.ok && initial) native.addon.useIsa(initial);
  return { shape: `[${m},${k}]x[${k},${n}]`, distinctB: count, bMB: Math.round((k * n * 8) / 1e6), ms: out };
}

const quick = process.argv.includes('--quick');
const results = [];
for (const limbs of [1, 2] as const) for (const [m, k, n] of SHAPES) results.push(measure(limbs, m, k, n));
const coldShapes = quick
  ? [[1, 768, 3072, 8]]
  : [
      [1, 768, 3072, 30],
      [2, 768, 3072, 30],
      [64, 768, 3072, 6],
      [1, 768, 50257, 3],
      [2, 768, 50257, 3],
    ];
const products = coldShapes.map(([m, k, n, count]) => coldProducts(m, k, n, count));
const report = {
  benchmark: 'matmul multiply-adds per second (from the median run); products: ms per cold-B product',
  kernels: wasmKernels.name,
  native: (() => {
    const native = loadNativeKernels();
    return native.ok ? native.kernels.name : `unavailable: ${native.reason}`;
  })(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpus: os.cpus().length,
  results,
  products,
};

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(`${report.kernels} on ${report.cpu} (${report.cpus} cpus), Node ${report.node}`);
  console.log('G multiply-adds/s      shape                 kernel  end-to-end  pinned kernel  pinned e2e');
  for (const r of results) {
    const g = (x: number): string => (x / 1e9).toFixed(2).padStart(10);
    console.log(
      `${r.ring.padEnd(8)} ${r.shape.padEnd(26)} ${g(r.kernel.maddsPerSecond)}  ${g(r.endToEnd.maddsPerSecond)}  ` +
        `${g(r.pinnedKernel.maddsPerSecond)}     ${g(r.pinnedEndToEnd.maddsPerSecond)}`,
    );
  }
}
if (!process.argv.includes('--json')) {
  console.log(`\nms per Z_2^64 product, B cold (native: ${report.native})`);
  for (const p of products) {
    const cells = Object.entries(p.ms).map(([impl, t]) => `${impl} pinned ${t.pinnedMs} / raw ${t.unpinnedMs}`);
    console.log(`${p.shape.padEnd(22)} ${cells.join('   ')}`);
  }
}
