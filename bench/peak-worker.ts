/**
 * Worker thread of `measurePeakCores` (bench/train.ts): runs a build's register-only peak loop on request
 * and replies with the milliseconds it took, so that N cores run it at the same time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WasmBackend } from '../src/engine/index.ts';
import type { WasmBuild } from '../src/engine/index.ts';
import { runPeakLoop } from './util.ts';
import type { PEAK_LOOPS } from './util.ts';

const be = new WasmBackend(workerData as WasmBuild, 1 << 24);
parentPort!.on('message', (m: { loop: (typeof PEAK_LOOPS)[number]['loop']; iters: number }) => {
  const t0 = performance.now();
  runPeakLoop(be, m.loop, m.iters);
  parentPort!.postMessage(performance.now() - t0);
});
