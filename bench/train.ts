/**
 * Training throughput through the real data-parallel path (Piscina replicas, units of `--micro-batch`
 * samples, the optimizer sliced over the workers): samples/s of the reference model (the `base` preset:
 * 128 x 128 images, 16 x 16 patches, d 192, 3 heads, depths 4/2/2, 32 numeric features; batch 256,
 * micro-batch 2 = 128 units, the trainer's default for base) at 1 and N threads, the scaling efficiency, and the speed-up when half the
 * images are missing. "% of peak" compares the 1-thread step with one busy core's peak loop and the N-thread
 * step with N cores running the peak loop at once (BusyCoresPeak), measured before the first timed step and
 * after each one: each step against the mean of the peaks just before and after it, the median over steps
 * (`stepPctOfPeak`). The clock drifts by up to ~40% within minutes on this shared host, so a peak taken
 * before or after the runs would not be the one the steps saw. `train-peak` prints the median peaks and
 * their range over the run; `train-summary` the scaling and the half-images speed-up both raw and per GFLOP/s
 * of the peak around each step (`...SameClock`, `scalingVsBusyPeakPct`). Inputs mirror
 * ../shared/tools/torch_train_step.py: ~30% of tabular features masked, ~20% of labels unknown.
 *
 * Where a step's time goes (`train-profile`, medians over the timed steps of the N-thread run). A step is
 * one phase of tasks, one per working thread (src/train/step.ts): each takes units from a shared counter
 * until none are left, waits at a barrier for the others' units, reduces its range of parameter blocks, waits
 * at a second barrier, then clips and updates its blocks. Every task reports its span inside the worker; the
 * main thread notes when it began and finished handing the tasks out and when each reply arrived (wall-clock
 * times, comparable between threads).
 * - unit c: one unit's batch + forward + backward + copy into its slot, timed inside its worker; c_max: the
 *   slowest unit of a step (the first unit a worker takes after new parameters also copies them in);
 * - reduce+update r: the optimizer's work summed over the workers (ordered sum of the unit slots, block
 *   norms, clip, AdamW, copies to and from shared memory);
 * - publish/wait: the phase's wall time (first hand-out to last reply) beyond the busiest task's span: what
 *   coordination costs at the measured thread count;
 * - hand-out h: the main thread's time to hand one task out (structured clone, Piscina's queue), timed on
 *   the step's first task. The mean over all of them (`handOutAll`) also holds the main thread losing its
 *   core: once the first tasks have woken workers on every core, the main thread waits for a time slice
 *   before it can hand out the next (seen here at 2 threads on 2 cores: 1.8 ms per task in one run, against
 *   0.2 for the first), which on a machine with a core per worker happens at most once, not per task.
 *   Latency L: a task's start minus its hand-out plus its reply's arrival minus its end (wake-ups, messages);
 * - main: the main thread's own work after the phase (reading the replies; the whole optimizer on the
 *   WebGPU and reference backends);
 * - serial fraction: (publish/wait + main) / the modelled 1-thread step.
 *
 * The projection (`train-projection`) models a step at W threads as
 *   T(W) = (ceil(U / W) - 1) * c + c_max + r / min(W, U, blocks) + main + L + min(W, U) * h
 * (the main thread hands the tasks out one after another; a worker runs ceil(U / W) units; the barriers'
 * waits are the imbalance the c_max term already counts). Efficiency E(W) = T(1) / (W * T(W)). The model
 * assumes a unit's compute time does not grow with W (no shared memory-bandwidth or cache contention, no SMT
 * siblings) and that L and h do not grow with W: it is an upper bound, to be checked against measured
 * 4/8/16-thread runs on a machine with those cores.
 *
 * Memory (`train-memory`): the process's resident set after two steps, in a fresh child process per
 * thread count (Node keeps freed memory mapped), at 2 and 8 workers (`--quick`: 1 and 2); the per-worker
 * increment is their difference over the added workers. A W-thread run needs about
 * rss(2) + (W - 2) * increment, plus the shared gradient slots (U * P * 4 bytes, already in rss(2)).
 *
 * `--torch` also runs that PyTorch script (Debian's python3-torch, an outside reference, never a
 * dependency) with the same thread count in the same sitting and prints the ratio.
 * `--threads N` (default: all cores), `--steps K` timed steps (default 12), `--preset` (default base),
 * `--batch` (default 256), `--micro-batch` (default: the trainer's for the preset, 2 for base).
 */
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, presetConfig } from '../src/model/index.ts';
import type { ModelConfig, PresetName } from '../src/model/index.ts';
import { bestWasmBuild, createBackendAsync, LABEL_NAMES } from '../src/engine/index.ts';
import type { AnyBackendKind, WasmBuild } from '../src/engine/index.ts';
import { createRunner } from '../src/train/pool.ts';
import type { SharedDataset } from '../src/train/replica.ts';
import { DataParallelStep, stepBuffers } from '../src/train/step.ts';
import type { PhaseTiming, StepProfile } from '../src/train/step.ts';
import { blockEdges } from '../src/train/shards.ts';
import { observedCount, unitsPerBatch } from '../src/train/batching.ts';
import { plainPolicy } from '../src/train/batch-policy.ts';
import { resolveMicroBatch } from '../src/train/config.ts';
import { mulberry32 } from '../src/engine/rng.ts';
import { PEAK_ITERS, PEAK_LOOPS, row, summarize } from './util.ts';
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

export interface Run {
  sps: number; median: number; spreadPct: number; profiles: StepProfile[]; workers: number; blocks: number;
  /** Each timed step's seconds, in order. */
  times: number[];
  /** What `between` returned before the first timed step and after each one (empty without it). */
  peaks: number[];
}

export interface TimeTrainingOptions {
  backend?: AnyBackendKind;
  /** Called with the pool still open after the last step (bench/train-memory.ts reads the RSS there). */
  beforeClose?: () => void;
  /** Called before the first timed step and after each one, outside the timed span: a peak measurement. */
  between?: () => Promise<number>;
}

/** Median samples/s of optimizer steps through the real data-parallel path (exported for bench/webgpu.ts). */
export async function timeTraining(cfg: ModelConfig, data: SharedDataset, threads: number, batch: number, microBatch: number, steps: number, opts: TimeTrainingOptions = {}): Promise<Run> {
  const backend = opts.backend ?? 'auto';
  const model = createModel(cfg, { seed: 0, backend: await createBackendAsync(backend) });
  const buffers = stepBuffers(model, unitsPerBatch(batch, microBatch), []);
  const workers = Math.min(threads, unitsPerBatch(batch, microBatch));
  const runner = createRunner({ model: model.config, backend, data, ...buffers, policy: plainPolicy(microBatch) }, workers);
  const profiles: StepProfile[] = [];
  const stepper = await DataParallelStep.create(model, runner, buffers, microBatch,
    { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clip: 1 });
  const times: number[] = [], peaks: number[] = [];
  try {
    for (let s = 0; s < steps + 2; s++) {
      if (s >= 2 && opts.between && peaks.length === 0) peaks.push(await opts.between());
      const rows = Int32Array.from({ length: batch }, (_, i) => (s * batch + i) % data.n);
      const t0 = performance.now();
      await stepper.run(rows, s, 1e-3, {
        normalizer: observedCount(data.labels, rows, 'ignore'),
      });
      if (s >= 2) {
        times.push((performance.now() - t0) / 1000);
        profiles.push(stepper.profile!);
        if (opts.between) peaks.push(await opts.between());
      }
    }
    opts.beforeClose?.();
  } finally {
    await runner.close();
  }
  const t = summarize(times);
  return { sps: batch / t.median, median: t.median, spreadPct: t.spreadPct, profiles, workers, blocks: blockEdges(model.layout, model.numParams).length - 1, times, peaks };
}

/**
 * Per timed step, its GFLOP/s over the mean of the peaks measured just before and after it (in %): the
 * step and its peak seen under the same clock. Empty when the run measured no peaks.
 */
export function stepPctOfPeak(run: Pick<Run, 'times' | 'peaks'>, flopsPerStep: number): number[] {
  if (run.peaks.length !== run.times.length + 1) return [];
  return run.times.map((t, i) => (100 * flopsPerStep) / t / 1e9 / ((run.peaks[i] + run.peaks[i + 1]) / 2));
}

const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1] : 0);

/** The step's costs (ms) from the profiles of a run at `workers` workers: see the doc comment above. */
export function stepCosts(run: Pick<Run, 'profiles' | 'workers' | 'blocks'>) {
  const ps = run.profiles, U = ps[0].units, blocks = run.blocks;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const unit = median(ps.flatMap((p) => p.unitMs)), unitMax = median(ps.map((p) => Math.max(...p.unitMs)));
  const reduceUpdate = median(ps.map((p) => sum(p.optimizerMs ?? [])));
  const wait = median(ps.map((p) => Math.max(0, p.grad.done - p.grad.sent - Math.max(...p.grad.tasks.map((t) => t.end - t.start)))));
  const main = median(ps.map((p) => p.mainMs));
  // h is the first task's hand-out: the later ones, on a host whose cores all run workers, include the main
  // thread losing its core to the workers it has just woken (handOutAll, reported beside it).
  const handOut = median(ps.map((p) => p.grad.firstHandedOut - p.grad.sent));
  const handOutAll = median(ps.map((p) => (p.grad.handedOut - p.grad.sent) / p.grad.tasks.length));
  const latency = median(ps.flatMap((p) => p.grad.tasks.map((t) => Math.max(0, t.start - p.grad.sent) + Math.max(0, t.received - t.end))));
  const model = (w: number) => (Math.ceil(U / w) - 1) * unit + unitMax + reduceUpdate / Math.min(w, U, blocks) + main
    + latency + Math.min(w, U) * handOut;
  return {
    U, unit, unitMax, reduceUpdate, wait, main, handOut, handOutAll, latency, model,
    serialFraction: (wait + main) / model(1), efficiency: (w: number) => model(1) / (w * model(w)),
  };
}

/**
 * `cores` worker threads that run the register-only peak loops at the same time, kept open so the peak can
 * be measured between a run's steps (`measure`). Why not cores x the one-core peak: the clock of a core
 * depends on how many cores are busy, so an N-thread step is compared with what N busy cores reach. Why
 * between the steps: the clock (and, on a shared host, what the neighbours leave) drifts by up to ~40%
 * here within minutes, so a peak taken before or after a run can be far from the one the steps saw. The
 * threads sleep on a message while the steps run.
 */
export class BusyCoresPeak {
  private readonly workers: Worker[];

  constructor(build: WasmBuild, readonly cores: number) {
    // A bare worker thread does not load TypeScript: register tsx first, as workers/decode.mjs does.
    const src = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(new URL('./peak-worker.ts', import.meta.url).href)}); })`;
    this.workers = Array.from({ length: cores }, () => new Worker(src, { eval: true, workerData: build }));
  }

  private once(w: Worker, loop: string, iters: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const fail = (e: Error) => { w.off('message', done); reject(e); };
      const done = (ms: number) => { w.off('error', fail); resolve(ms); };
      w.once('message', done);
      w.once('error', fail);
      w.postMessage({ loop, iters });
    });
  }

  /**
   * GFLOP/s summed over the cores: per loop, the median of `rounds` rounds (after `skip` discarded ones)
   * in which every core runs it at once; the larger of the two loops, as measurePeak.
   */
  async measure(rounds = 9, skip = 2): Promise<number> {
    const best: number[] = [];
    for (const { loop, flopsPerIter } of PEAK_LOOPS) {
      const gf: number[] = [];
      for (let r = 0; r < rounds + skip; r++) {
        const ms = await Promise.all(this.workers.map((w) => this.once(w, loop, PEAK_ITERS)));
        if (r >= skip) gf.push(ms.reduce((a, t) => a + (PEAK_ITERS * flopsPerIter) / (t / 1e3) / 1e9, 0));
      }
      best.push(median(gf));
    }
    return Math.max(...best);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The peak of `cores` busy cores, measured once (BusyCoresPeak, 9 rounds). */
export async function measurePeakCores(build: WasmBuild, cores: number): Promise<number> {
  const p = new BusyCoresPeak(build, cores);
  try {
    return await p.measure();
  } finally {
    await p.close();
  }
}

/** Resident set (bytes) of a fresh process after two steps at `threads` workers (bench/train-memory.ts). */
function rssAt(preset: PresetName, threads: number, batch: number, microBatch: number): number {
  const script = fileURLToPath(new URL('./train-memory.ts', import.meta.url));
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, JSON.stringify({ preset, threads, batch, microBatch })], { encoding: 'utf8' });
  return (JSON.parse(out.trim().split('\n').pop()!) as { rss: number }).rss;
}

export const main: BenchMain = async (args, emit) => {
  const N = args.threads || availableParallelism();
  const steps = args.steps || (args.quick ? 6 : 12);
  const preset: PresetName = args.preset;
  const batch = args.batch || 256, microBatch = resolveMicroBatch(preset, args.microBatch), Fn = 32;
  const cfg: ModelConfig = { ...presetConfig(preset), numFeatures: Fn, catCardinalities: [] };
  const build = bestWasmBuild();
  const WN = Math.min(N, unitsPerBatch(batch, microBatch));
  const flops = createModel(cfg).flopsPerSample({ training: true });
  const shape = `${preset} S=${cfg.imageSize} B=${batch}/${microBatch}`;
  const full = fakeDataset(Math.max(256, batch), cfg.imageSize, Fn, 1, 0);
  const half = fakeDataset(Math.max(256, batch), cfg.imageSize, Fn, 1, 0.5);
  // The peak of as many busy cores as the run has workers, measured between its steps (BusyCoresPeak).
  const peaks = { 1: new BusyCoresPeak(build, 1), [WN]: new BusyCoresPeak(build, WN) };
  const results: Record<string, Run> = {};
  try {
    for (const [name, data, threads] of [['1 thread', full, 1], [`${N} threads`, full, N], [`${N} threads, half images missing`, half, N]] as const) {
      const p = peaks[Math.min(threads, WN)];
      results[name] = await timeTraining(cfg, data, threads, batch, microBatch, steps, { between: () => p.measure(5, 1) });
    }
  } finally {
    await Promise.all(Object.values(peaks).map((p) => p.close()));
  }
  const r1 = results['1 thread'], rN = results[`${N} threads`], rH = results[`${N} threads, half images missing`];
  const all = (r: Run) => r.peaks;
  const range = (xs: number[]) => (100 * (Math.max(...xs) - Math.min(...xs))) / median(xs);
  emit({
    bench: 'train-peak', build, shape: `1 and ${WN} busy cores`, medianMs: 0, spreadPct: 0, peak1Gflops: median(all(r1)), [`peak${WN}Gflops`]: median([...all(rN), ...all(rH)]),
    peak1RangePct: range(all(r1)), [`peak${WN}RangePct`]: range([...all(rN), ...all(rH)]),
  });
  for (const [name, r] of Object.entries(results)) {
    // FLOPs (and so MFU) only for complete samples: with images missing the work is smaller by design.
    const complete = !name.includes('missing');
    const line = row('train', build, `${shape} ${name}`, { median: r.median, spreadPct: r.spreadPct, runs: steps }, complete ? flops * batch : undefined, median(r.peaks));
    // % of peak: each step against the peak measured around it, the median over steps (stepPctOfPeak).
    if (complete) line.pctPeak = median(stepPctOfPeak(r, flops * batch));
    line.samplesPerS = r.sps;
    emit(line);
  }
  // Per step, samples/s per GFLOP/s of peak around it: a ratio of two runs that the clock's drift between
  // them does not move (for the scaling and the half-images speed-up; the raw ratios are printed too).
  const atPeak = (r: Run) => median(r.times.map((t, i) => batch / t / ((r.peaks[i] + r.peaks[i + 1]) / 2)));
  emit({
    bench: 'train-summary', build, shape, medianMs: 0, spreadPct: 0, workers: WN,
    scalingEfficiencyPct: (100 * rN.sps) / (WN * r1.sps), scalingVsBusyPeakPct: (100 * atPeak(rN)) / atPeak(r1),
    halfImagesSpeedup: rH.sps / rN.sps, halfImagesSpeedupSameClock: atPeak(rH) / atPeak(rN),
  });
  const c = stepCosts(results[`${N} threads`]);
  emit({
    bench: 'train-profile', build, shape: `${shape} ${WN} workers`, medianMs: results[`${N} threads`].median * 1e3, spreadPct: results[`${N} threads`].spreadPct,
    units: c.U, unitMs: c.unit, unitMaxMs: c.unitMax, reduceUpdateMs: c.reduceUpdate, publishWaitMs: c.wait, handOutMs: c.handOut, handOutAllMs: c.handOutAll, latencyMs: c.latency,
    mainMs: c.main, serialFractionPct: 100 * c.serialFraction,
  });
  const projected: Record<string, number> = {};
  for (const w of [2, 4, 8, 16, 32, 64]) projected[`eff${w}Pct`] = 100 * c.efficiency(w);
  emit({ bench: 'train-projection', build, shape, medianMs: c.model(1), spreadPct: 0, ...projected });
  const [lo, hi] = args.quick ? [1, 2] : [2, 8];
  const rLo = rssAt(preset, lo, batch, microBatch), rHi = rssAt(preset, hi, batch, microBatch);
  emit({ bench: 'train-memory', build, shape, medianMs: 0, spreadPct: 0, [`rss${lo}MiB`]: rLo / 2 ** 20, [`rss${hi}MiB`]: rHi / 2 ** 20, perWorkerMiB: (rHi - rLo) / (hi - lo) / 2 ** 20 });
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
    emit({ bench: 'train-vs-torch', build, shape: `${N} threads`, medianMs: 0, spreadPct: 0, ratio: rN.sps / t.samples_per_s });
  }
};
