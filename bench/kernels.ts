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
 */
import { randomFillSync } from 'node:crypto';
import os from 'node:os';
import type { Limbs } from '../src/kernels/kernel-api.ts';
import { matmulPinned, pinMatrix, stageMatmul, unpin, wasmKernels } from '../src/kernels/wasm-kernels.ts';

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

const results = [];
for (const limbs of [1, 2] as const) for (const [m, k, n] of SHAPES) results.push(measure(limbs, m, k, n));
const report = {
  benchmark: 'matmul multiply-adds per second (from the median run)',
  kernels: wasmKernels.name,
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpus: os.cpus().length,
  results,
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
