/**
 * Worker thread of `measurePeakCores` (bench/train.ts): runs a build's register-only peak
 * loop on request and replies with the milliseconds it took, so that N cores run it at the same time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WasmBackend } from '../src/engine/index.ts';
import type { WasmBuild } from '../src/engine/index.ts';

const be = new WasmBackend(workerData as WasmBuild, 1 << 24);
parentPort!.on('message', (m: { loop: 'madd' | 'mul_add'; iters: number }) => {
  const t0 = performance.now();
  if (m.loop === 'madd') be.x.f32_peak_madd(m.iters);
  else be.x.f32_peak_mul_add(m.iters);
  parentPort!.postMessage(performance.now() - t0);
});
