/**
 * Training throughput through the real data-parallel path (Piscina replicas, fixed chunks, ordered
 * gradient sum, AdamW on the main thread): samples/s of the reference model (the `base` preset: 128 x 128
 * images, 16 x 16 patches, d 192, 3 heads, depths 4/2/2, 32 numeric features, batch 32) at 1 and N
 * threads, the scaling efficiency, and the speed-up when half the images are missing. Inputs mirror
 * ../shared/tools/torch_train_step.py: ~30% of tabular features masked, ~20% of labels unknown.
 *
 * `--torch` also runs that PyTorch script (Debian's python3-torch, an outside reference, never a
 * dependency) with the same thread count in the same sitting and prints the ratio.
 * `--threads N` (default: all cores), `--steps K` timed steps (default 12), `--preset` (default base).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, presetConfig } from '../src/model/index.ts';
import type { ModelConfig, PresetName } from '../src/model/index.ts';
import { bestWasmBuild, createBackendAsync, LABEL_NAMES } from '../src/engine/index.ts';
import type { AnyBackendKind } from '../src/engine/index.ts';
import { createRunner } from '../src/train/pool.ts';
import type { SharedDataset } from '../src/train/replica.ts';
import { DataParallelStep, stepBuffers } from '../src/train/step.ts';
import { observedCount, unitsPerBatch } from '../src/train/batching.ts';
import { mulberry32 } from '../src/eval/index.ts';
import { measurePeak, row, summarize } from './util.ts';
import type { BenchMain } from './util.ts';

const L = LABEL_NAMES.length;

function shared<T extends Float32Array | Uint8Array | Int32Array>(C: new (b: SharedArrayBuffer) => T & { length: number }, n: number, bytes: number): T {
  return new C(new SharedArrayBuffer(n * bytes));
}

/** An in-memory data set of n random samples in the shape of the reference model's inputs. */
export function fakeDataset(n: number, S: number, Fn: number, seed: number, imageMissing: number): SharedDataset {
  const r = mulberry32(seed);
  const pixels = shared(Uint8Array, n * S * S, 1);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(r() * 256);
  const hasImage = shared(Uint8Array, n, 1);
  for (let i = 0; i < n; i++) hasImage[i] = i % 2 === 1 && imageMissing > 0 ? 0 : 1;
  const num = shared(Float32Array, n * Fn, 4), numPresent = shared(Uint8Array, n * Fn, 1);
  for (let i = 0; i < n * Fn; i++) { num[i] = 2 * r() - 1; numPresent[i] = r() < 0.3 ? 0 : 1; }
  const labels = shared(Float32Array, n * L, 4);
  for (let i = 0; i < n * L; i++) labels[i] = r() < 0.2 ? NaN : r() < 0.3 ? 1 : 0;
  return {
    S, n, labelNames: [...LABEL_NAMES], split: shared(Uint8Array, n, 1), subjectId: shared(Int32Array, n, 4), studyId: shared(Int32Array, n, 4),
    pixels, hasImage, num, numPresent, cat: shared(Int32Array, 0, 4), catPresent: shared(Uint8Array, 0, 1), labels,
    schema: { numeric: Array.from({ length: Fn }, (_, j) => ({ name: `f${j}`, mean: 0, std: 1 })), categorical: [] },
    pixelMean: 0.5, pixelStd: 0.25,
  };
}

export interface Run { sps: number; median: number; spreadPct: number }

/** Median samples/s of optimizer steps through the real data-parallel path (exported for bench/webgpu.ts). */
export async function timeTraining(cfg: ModelConfig, data: SharedDataset, threads: number, batch: number, microBatch: number, steps: number, backend: AnyBackendKind = 'auto'): Promise<Run> {
  const model = createModel(cfg, { seed: 0, backend: await createBackendAsync(backend) });
  const buffers = stepBuffers(model, unitsPerBatch(batch, microBatch), []);
  const runner = createRunner({ model: model.config, backend, data, ...buffers }, Math.min(threads, unitsPerBatch(batch, microBatch)));
  const stepper = await DataParallelStep.create(model, runner, buffers, microBatch,
    { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clip: 1 });
  const times: number[] = [];
  try {
    for (let s = 0; s < steps + 2; s++) {
      const rows = Int32Array.from({ length: batch }, (_, i) => (s * batch + i) % data.n);
      const t0 = performance.now();
      await stepper.run(rows, s, 1e-3, {
        normalizer: observedCount(data.labels, rows, 'ignore'), seed: 0, dropout: { image: 0, tab: 0, feature: 0 }, missImage: 0, missTab: 0,
      });
      if (s >= 2) times.push((performance.now() - t0) / 1000);
    }
  } finally {
    await runner.close();
  }
  const t = summarize(times);
  return { sps: batch / t.median, median: t.median, spreadPct: t.spreadPct };
}

export const main: BenchMain = async (args, emit) => {
  const N = args.threads || availableParallelism();
  const steps = args.steps || (args.quick ? 6 : 12);
  const preset: PresetName = args.preset;
  const batch = 32, microBatch = 8, Fn = 32;
  const cfg: ModelConfig = { ...presetConfig(preset), numFeatures: Fn, catCardinalities: [] };
  const build = bestWasmBuild();
  const peak = measurePeak(build);
  const flops = createModel(cfg).flopsPerSample({ training: true });
  const shape = `${preset} S=${cfg.imageSize} B=${batch}`;
  const full = fakeDataset(256, cfg.imageSize, Fn, 1, 0);
  const half = fakeDataset(256, cfg.imageSize, Fn, 1, 0.5);
  const results: Record<string, Run> = {};
  for (const [name, data, threads] of [['1 thread', full, 1], [`${N} threads`, full, N], [`${N} threads, half images missing`, half, N]] as const) {
    const r = await timeTraining(cfg, data, threads, batch, microBatch, steps);
    results[name] = r;
    // FLOPs (and so MFU) only for complete samples: with images missing the work is smaller by design.
    const complete = data === full;
    const line = row('train', build, `${shape} ${name}`, { median: r.median, spreadPct: r.spreadPct, runs: steps }, complete ? flops * batch : undefined, peak * threads);
    line.samplesPerS = r.sps;
    emit(line);
  }
  const s1 = results['1 thread'].sps, sN = results[`${N} threads`].sps, sH = results[`${N} threads, half images missing`].sps;
  emit({ bench: 'train-summary', build, shape, medianMs: 0, spreadPct: 0, scalingEfficiencyPct: (100 * sN) / (N * s1), halfImagesSpeedup: sH / sN });
  if (args.torch) {
    const script = fileURLToPath(new URL('../../shared/tools/torch_train_step.py', import.meta.url));
    if (!existsSync('/usr/bin/python3') || !existsSync(script)) {
      console.log(`torch: skipped (${existsSync(script) ? '/usr/bin/python3 missing' : `${script} missing`})`);
      return;
    }
    const out = join(mkdtempSync(join(tmpdir(), 'rf-torch-')), 'torch.json');
    try {
      execFileSync('/usr/bin/python3', [script, '--img', String(cfg.imageSize), '--threads', String(N), '--json', out], { stdio: 'inherit' });
    } catch (e) {
      console.log(`torch: skipped (the PyTorch script failed: ${(e as Error).message.split('\n')[0]}; Debian's python3-torch is needed)`);
      return;
    }
    const t = JSON.parse(readFileSync(out, 'utf8')) as { samples_per_s: number; median_step_s: number; torch: string };
    emit({ bench: 'torch', build: `torch ${t.torch}`, shape: `${shape} ${N} threads`, medianMs: t.median_step_s * 1e3, spreadPct: 0, samplesPerS: t.samples_per_s });
    emit({ bench: 'train-vs-torch', build, shape: `${N} threads`, medianMs: 0, spreadPct: 0, ratio: sN / t.samples_per_s });
  }
};
