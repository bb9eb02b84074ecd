/**
 * WebGPU benchmark (Node + the optional `webgpu` package, or any host with an adapter): first the whole
 * WGSL kernel suite against the float64 reference on this device, then GEMM GFLOP/s for the GEMM
 * benchmark's shapes and variants, and masked attention forward+backward, each against the WebAssembly
 * engine (one thread, best build) in the same run. GPU time is wall time of R calls enqueued back to back
 * and one wait for the queue, divided by R (R sized so a batch takes >= 20 ms), median of several batches.
 * Training samples/s needs the model on the device (see docs/usage.md, "WebGPU"): not measured yet.
 */
import { WasmBackend, bestWasmBuild } from '../src/engine/index.ts';
import type { Backend } from '../src/engine/index.ts';
import { createWebGPUBackend, WebGPUUnavailableError } from '../src/engine/webgpu/index.ts';
import type { WebGPUBackend } from '../src/engine/webgpu/index.ts';
import { runKernelSuite } from '../src/engine/webgpu/selftest.ts';
import { measure, row, summarize } from './util.ts';
import { fakeDataset, timeTraining } from './train.ts';
import { presetConfig } from '../src/model/index.ts';
import type { BenchMain, Timing } from './util.ts';

type Variant = 'NN' | 'NT' | 'TN';
const VARIANTS: Variant[] = ['NN', 'NT', 'TN'];
/** (M, K, N), as bench/gemm.ts. */
const SHAPES: [number, number, number][] = [[4096, 192, 192], [4096, 192, 768], [4096, 768, 192], [512, 512, 512], [64, 192, 192]];
const QUICK_SHAPES: [number, number, number][] = [[4096, 192, 192], [4096, 192, 768], [4096, 768, 192]];
/** Attention (B, T, d, H): a small-preset fusion batch. */
const ATT: [number, number, number, number] = [32, 200, 192, 6];

function fill(a: Float32Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
}

/** Median seconds per call of `enqueue` on the GPU. */
async function measureGpu(be: WebGPUBackend, enqueue: () => void, quick: boolean): Promise<Timing> {
  enqueue();
  await be.finish(); // warm-up (pipeline first use)
  let R = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < R; i++) enqueue();
    await be.finish();
    if (performance.now() - t0 >= 20 || R >= 4096) break;
    R *= 4;
  }
  const times: number[] = [];
  const batches = quick ? 5 : 9;
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < R; i++) enqueue();
    await be.finish();
    times.push((performance.now() - t0) / 1000 / R);
  }
  return summarize(times);
}

export const main: BenchMain = async (args, emit) => {
  let gpu: WebGPUBackend;
  try {
    gpu = await createWebGPUBackend();
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) {
      console.log(`webgpu: SKIPPED: ${e.message}`);
      return;
    }
    throw e;
  }
  const say = (s: string) => { if (!args.json) console.log(s); };
  say(`webgpu adapter: ${gpu.adapterInfo}`);
  const lim = gpu.device.limits;
  say(`webgpu limits: maxStorageBufferBindingSize ${lim.maxStorageBufferBindingSize}, maxComputeWorkgroupStorageSize ${lim.maxComputeWorkgroupStorageSize}`);

  // ---- verify: the whole kernel suite on this device ----
  const suite = await runKernelSuite(gpu);
  const bad = suite.filter((r) => !r.ok);
  say(`webgpu kernel suite: ${suite.length - bad.length}/${suite.length} cases OK vs the float64 reference, max |diff| ${Math.max(...suite.map((r) => r.maxdiff)).toExponential(2)}`);
  for (const r of bad) say(`  MISMATCH ${r.name}: ${r.error}`);
  if (bad.length) throw new Error('webgpu: kernel suite failed on this device; not timing');

  const build = bestWasmBuild();
  const shapes = args.quick ? QUICK_SHAPES : SHAPES;
  const maxA = Math.max(...shapes.map(([M, K]) => M * K)), maxB = Math.max(...shapes.map(([, K, N]) => K * N));
  const maxC = Math.max(...shapes.map(([M, , N]) => M * N));
  const hostA = new Float32Array(maxA), hostB = new Float32Array(maxB);
  fill(hostA, 1);
  fill(hostB, 2);
  const wasm = new WasmBackend(build, (maxA + maxB + maxC + (4 << 20)) * 4);
  const setup = (be: Backend) => {
    const a = be.alloc(maxA), b = be.alloc(maxB), c = be.alloc(maxC);
    be.write(a, hostA);
    be.write(b, hostB);
    return { a, b, c };
  };
  const G = setup(gpu), W = setup(wasm);

  // ---- GEMM ----
  for (const v of VARIANTS) {
    const transA = v === 'TN', transB = v === 'NT';
    for (const [M, K, N] of shapes) {
      const shape = `${v} M=${M} K=${K} N=${N}`;
      gpu.fill(G.c, M * N, NaN);
      gpu.gemm(G.c, G.a, G.b, 0, M, N, K, { transA, transB });
      const C = await gpu.read(G.c, M * N);
      for (let s = 0; s < 64; s++) {
        const i = (s * 7919) % M, j = (s * 104729) % N;
        let dot = 0;
        for (let k = 0; k < K; k++) dot += (transA ? hostA[k * M + i] : hostA[i * K + k]) * (transB ? hostB[j * K + k] : hostB[k * N + j]);
        if (!(Math.abs(C[i * N + j] - dot) <= 2e-6 * K + 1e-5 * Math.abs(dot))) throw new Error(`webgpu gemm ${shape}: C[${i},${j}] = ${C[i * N + j]}, want ${dot}`);
      }
      const flops = 2 * M * N * K;
      const tg = await measureGpu(gpu, () => gpu.gemm(G.c, G.a, G.b, 0, M, N, K, { transA, transB }), args.quick);
      const tw = measure(() => wasm.gemm(W.c, W.a, W.b, 0, M, N, K, { transA, transB }), args.quick ? { minRuns: 5, minSeconds: 0.1 } : { minRuns: 7, minSeconds: 0.3 });
      const rg = row('webgpu-gemm', 'webgpu', shape, tg, flops);
      const rw = row('webgpu-gemm', `${build}x1`, shape, tw, flops);
      rg.speedup = rw.medianMs / rg.medianMs;
      emit(rg);
      emit(rw);
    }
  }

  // ---- attention forward + backward ----
  const [B, T, d, H] = ATT;
  const mask = new Float32Array(B * T).fill(1);
  for (let b = 0; b < B; b++) for (let t = T - (b % 4) * 20; t < T; t++) mask[b * T + t] = 0; // ragged lengths
  const qkvHost = new Float32Array(B * T * 3 * d);
  fill(qkvHost, 3);
  const attBufs = (be: Backend) => {
    const qkv = be.alloc(B * T * 3 * d), m = be.alloc(B * T), out = be.alloc(B * T * d), att = be.alloc(B * H * T * T);
    const dout = be.alloc(B * T * d), dqkv = be.alloc(B * T * 3 * d);
    be.write(qkv, qkvHost);
    be.write(m, mask);
    be.write(dout, qkvHost.subarray(0, B * T * d));
    be.fill(dqkv, B * T * 3 * d, 0);
    return () => {
      be.attentionForward(out, att, qkv, m, B, T, d, H);
      be.attentionBackward(dqkv, dout, qkv, att, m, B, T, d, H);
    };
  };
  const runG = attBufs(gpu), runW = attBufs(wasm);
  const attFlops = 3 * 4 * B * H * T * T * (d / H); // fwd QK^T and PV (2 each), backward twice that
  const shape = `attn B=${B} T=${T} d=${d} H=${H}`;
  const tg = await measureGpu(gpu, runG, args.quick);
  const tw = measure(runW, { minRuns: 3, minSeconds: 0.2 });
  const rg = row('webgpu-attention', 'webgpu', `${shape} fwd+bwd`, tg, attFlops);
  const rw = row('webgpu-attention', `${build}x1`, `${shape} fwd+bwd`, tw, attFlops);
  rg.speedup = rw.medianMs / rg.medianMs;
  emit(rg);
  emit(rw);
  gpu.destroy();
  gpu.device.destroy();
  // Training through the real data-parallel step (one replica, batch 32, micro-batch 8): the reference model of
  // issue 3 on this host's GPU against the wasm engine on one thread and on every core.
  const preset = args.quick ? 'small' : 'base';
  const cfg = { ...presetConfig(preset), numFeatures: 32, catCardinalities: [] as number[] };
  const data = fakeDataset(256, cfg.imageSize, 32, 1, 0);
  const steps = args.quick ? 4 : 8;
  const tshape = `${preset} S=${cfg.imageSize} B=32 train step`;
  const g = await timeTraining(cfg, data, 1, 32, 8, steps, { backend: 'webgpu' });
  const w = await timeTraining(cfg, data, 1, 32, 8, Math.max(3, steps / 2));
  const rowG = row('webgpu-train', 'webgpu', tshape, { median: g.median, spreadPct: g.spreadPct, runs: steps });
  rowG.samplesPerS = g.sps;
  rowG.speedup = g.sps / w.sps;
  const rowW = row('webgpu-train', `${build}x1`, tshape, { median: w.median, spreadPct: w.spreadPct, runs: steps });
  rowW.samplesPerS = w.sps;
  emit(rowG);
  emit(rowW);
};
