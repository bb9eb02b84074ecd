/**
 * The peak loop (bench/util.ts measurePeak, the denominator of every "% of peak") is a ceiling on this
 * runtime: the one-thread GEMM, which reaches 80-90% of it where both run optimized code, never reads far
 * above it. On Node 24 the old loop (one 2M-iteration call of a loop with constant operands) read ~14
 * GFLOP/s against the GEMM's ~50, so every % of peak was off by ~4x. Timed on a loaded host, so the peak
 * and the GEMM are measured alternately and the check has a wide margin (peak >= 0.75 x GEMM); the failure
 * it guards against is a factor of 3-4.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WasmBackend, bestWasmBuild } from '../src/engine/index.ts';
import { measure, measurePeak, PEAK_CALLS, PEAK_ITERS, PEAK_LOOPS, runPeakLoop } from '../bench/util.ts';

test('runPeakLoop splits a run into PEAK_CALLS short calls of the same total iterations', () => {
  const calls: number[] = [];
  const fake = { x: { f32_peak_madd: (n: number) => calls.push(n), f32_peak_mul_add: () => 0, f32_peak_madd_rt: () => 0, f32_peak_mul_add_rt: () => 0 } };
  runPeakLoop(fake as unknown as WasmBackend, 'madd', PEAK_ITERS);
  assert.is(calls.length, PEAK_CALLS);
  assert.is(calls.reduce((a, b) => a + b, 0), PEAK_ITERS);
  assert.ok(PEAK_LOOPS.some((p) => p.loop === 'madd_rt') && PEAK_LOOPS.some((p) => p.loop === 'mul_add_rt'));
});

test('the peak is a ceiling for the GEMM on this runtime (measured alternately)', () => {
  const build = bestWasmBuild();
  const [M, K, N] = [1024, 192, 192];
  const be = new WasmBackend(build, (M * K + K * N + M * N + (4 << 20)) * 4);
  const a = be.alloc(M * K), b = be.alloc(K * N), c = be.alloc(M * N);
  be.fill(a, M * K, 0.5);
  be.fill(b, K * N, 0.25);
  const ratios: number[] = [];
  for (let r = 0; r < 3; r++) {
    const peak = measurePeak(build);
    const t = measure(() => be.gemm(c, a, b, 0, M, N, K, {}), { minRuns: 9, minSeconds: 0.15 });
    ratios.push(peak / ((2 * M * N * K) / t.median / 1e9));
  }
  ratios.sort((x, y) => x - y);
  assert.ok(ratios[1] >= 0.75, `${process.version} ${build}: peak / GEMM GFLOP/s = ${ratios.map((x) => x.toFixed(2)).join(', ')} (median under 0.75)`);
});

test.run();
