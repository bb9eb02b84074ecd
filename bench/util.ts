/**
 * Benchmark harness: verify first, then time. `measure` runs a function until both a minimum number of
 * runs and a minimum time are reached and reports the median and the spread (relative median absolute
 * deviation, like tinybench's margin). `measurePeak` times the register-only multiply-add loop of a build,
 * the denominator of every "% of peak" figure, in the same process as the kernel it is compared with.
 */
import { WasmBackend } from '../src/engine/index.ts';
import type { WasmBuild } from '../src/engine/index.ts';
import { bool, choice, int, num, path } from '../src/options/schema.ts';
import { parseArgs } from '../src/options/command-line.ts';

export interface Timing {
  /** Median seconds per call. */
  median: number;
  /** Median absolute deviation divided by the median, in percent. */
  spreadPct: number;
  runs: number;
}

/** Time fn: warm up, then run until minRuns and minSeconds are both reached (at most maxRuns). */
export function measure(fn: () => void, opts: { minRuns?: number; minSeconds?: number; maxRuns?: number; warmup?: number } = {}): Timing {
  const { minRuns = 7, minSeconds = 0.5, maxRuns = 1000, warmup = 2 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxRuns && (times.length < minRuns || performance.now() - start < minSeconds * 1000)) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return summarize(times);
}

export function summarize(times: number[]): Timing {
  const s = [...times].sort((a, b) => a - b);
  const median = s[s.length >> 1];
  const dev = s.map((t) => Math.abs(t - median)).sort((a, b) => a - b);
  return { median, spreadPct: (100 * dev[dev.length >> 1]) / median, runs: s.length };
}

/**
 * Peak GFLOP/s of one core for a build: the largest of the register-only loops (assembly/peak.ts): the
 * multiply-add loop (12 chains of madd, 96 flops per iteration; fused in the relaxed build), the separate
 * multiply and add loop (6 + 6 chains, 48 flops per iteration; the plain build's real throughput limit, its
 * dependent mul+add pairs being latency-bound), each with constant and with run-time operands (which of the
 * two V8 compiles well depends on its version).
 */
export function measurePeak(build: WasmBuild): number {
  return Math.max(...peakLoops(build).map((p) => p.gflops));
}

/** The register-only peak loops (assembly/peak.ts): their names and flops per iteration. */
export const PEAK_LOOPS = [
  { loop: 'madd', name: 'madd 12 chains', flopsPerIter: 96 },
  { loop: 'mul_add', name: 'mul|add 6+6 chains', flopsPerIter: 48 },
  { loop: 'madd_rt', name: 'madd 12 chains, rt operands', flopsPerIter: 96 },
  { loop: 'mul_add_rt', name: 'mul|add 6+6, rt operands', flopsPerIter: 48 },
] as const;
/** Iterations of one timed run of a peak loop (PEAK_CALLS calls of PEAK_ITERS / PEAK_CALLS). */
export const PEAK_ITERS = 2_000_000;
/**
 * Calls one run is split into. Why many short calls: WebAssembly has no on-stack replacement, so a call
 * that starts in the baseline tier (Liftoff) finishes there however long it loops; the optimized code is
 * used from the next call on. With 100 calls of ~40 us per run, a run's calls after the first use whatever
 * tier the runtime's policy has reached, and the runs after the warm-up (measure's two, BusyCoresPeak's
 * skipped rounds: 200 calls) are all optimized, under eager, dynamic or delayed tiering alike.
 */
export const PEAK_CALLS = 100;

/** One run of a peak loop on a backend, as PEAK_CALLS short calls (also what bench/peak-worker.ts runs). */
export function runPeakLoop(be: WasmBackend, loop: (typeof PEAK_LOOPS)[number]['loop'], iters: number): void {
  const f = { madd: be.x.f32_peak_madd, mul_add: be.x.f32_peak_mul_add, madd_rt: be.x.f32_peak_madd_rt, mul_add_rt: be.x.f32_peak_mul_add_rt }[loop];
  const per = Math.ceil(iters / PEAK_CALLS);
  for (let done = 0; done < iters; done += per) f(Math.min(per, iters - done));
}

/** The peak loops of a build, timed (measure's warm-up: two runs, 200 calls). */
export function peakLoops(build: WasmBuild): { name: string; gflops: number; timing: Timing; flops: number }[] {
  const be = new WasmBackend(build, 1 << 24);
  return PEAK_LOOPS.map((p) => {
    const t = measure(() => runPeakLoop(be, p.loop, PEAK_ITERS), { minRuns: 9, minSeconds: 0.3 });
    const flops = PEAK_ITERS * p.flopsPerIter;
    return { name: p.name, gflops: flops / t.median / 1e9, timing: t, flops };
  });
}

/** The benchmarks, run by name (`npm run bench -- gemm model`). */
export const BENCH_NAMES = ['peak', 'gemm', 'attention', 'kernels', 'model', 'data', 'data-scale', 'train', 'webgpu', 'infer', 'explain'] as const;

/** The benchmarks' options: one declaration set for all of them (the shared schema, src/options/). */
export const BENCH_OPTIONS = {
  json: bool(false, 'print the rows as one JSON document'),
  build: choice('both', ['relaxed', 'simd', 'both'], 'WebAssembly build: relaxed, simd or both'),
  quick: bool(false, 'fewer shapes and shorter timing (a smoke run)'),
  threads: int(0, 'train: worker threads of the multi-threaded runs (0: all cores)', { min: 0, max: 4096 }),
  steps: int(0, 'train: timed steps per run (0: 12, or 6 with --quick)', { min: 0, max: 100_000 }),
  preset: choice('base', ['tiny', 'small', 'base'], 'train: model preset (tiny, small or base)'),
  batch: int(0, 'train: samples per optimizer step (0: 256)', { min: 0, max: 65_536 }),
  microBatch: int(0, 'train: samples per unit of parallel work (0: the trainer\'s default for the preset, 2 for base); model: samples of the profiled training step (0: 8)', { min: 0, max: 4096 }),
  torch: bool(false, 'train: also time the PyTorch reference step (needs python3-torch)'),
  scale: num(1, 'data-scale: fraction of the MIMIC row counts to generate, in (0, 1] (--quick: 0.001)', { above: 0, max: 1 }),
  imageSize: int(224, 'data-scale: image side S of the load; model: the second image size of the step profile (after the preset\'s own)', { min: 4, max: 4096 }),
  decoder: choice('sharp', ['sharp', 'jpeg-js'], 'data-scale: image decoder, sharp or jpeg-js'),
  dir: path('', 'data-scale: folder for the generated world and its cache (empty: a temporary folder, removed after)'),
  keep: bool(false, 'data-scale: keep the generated world and cache'),
};

/** The bench command for the shared parser. */
export const BENCH_SPEC = {
  usage: `usage: npm run bench -- NAME [NAME ...] [options]\nnames: ${BENCH_NAMES.join(', ')} (run one after another, never two at once: they share the cores)`,
  options: BENCH_OPTIONS,
  positional: { what: 'benchmark', choices: BENCH_NAMES },
};

/** What a benchmark's main gets: the parsed flags and the builds to time. */
export interface BenchArgs {
  json: boolean;
  builds: WasmBuild[];
  quick: boolean;
  /** train: threads (0: all cores), timed steps (0: its default), preset, and whether to time PyTorch too. */
  threads: number;
  steps: number;
  preset: 'tiny' | 'small' | 'base';
  /** train: samples per step (0: its default) and per unit. */
  batch: number;
  microBatch: number;
  torch: boolean;
  /** data-scale: the world's scale, image side, decoder, folder ('' = temporary) and whether to keep it. */
  scale: number;
  imageSize: number;
  decoder: 'sharp' | 'jpeg-js';
  dir: string;
  keep: boolean;
  /** The benchmark names given. */
  names: string[];
}

/** Parse the bench command line (names, then flags, in any order); --help sets `help`. */
export function parseBenchArgs(argv: string[]): BenchArgs & { help: boolean } {
  const { cfg, positional, help } = parseArgs(BENCH_SPEC, argv);
  return {
    json: cfg.json, quick: cfg.quick, builds: cfg.build === 'both' ? ['relaxed', 'simd'] : [cfg.build as WasmBuild],
    threads: cfg.threads, steps: cfg.steps, preset: cfg.preset as BenchArgs['preset'], batch: cfg.batch, microBatch: cfg.microBatch, torch: cfg.torch,
    scale: cfg.scale, imageSize: cfg.imageSize, decoder: cfg.decoder as BenchArgs['decoder'], dir: cfg.dir, keep: cfg.keep, names: positional, help,
  };
}

/** One result row; `print` renders rows as aligned text or, with --json, one JSON document. */
export interface BenchRow {
  bench: string;
  build?: string;
  shape: string;
  medianMs: number;
  spreadPct: number;
  gflops?: number;
  peakGflops?: number;
  pctPeak?: number;
  [extra: string]: unknown;
}

export function row(bench: string, build: string, shape: string, t: Timing, flops?: number, peak?: number): BenchRow {
  const r: BenchRow = { bench, build, shape, medianMs: t.median * 1e3, spreadPct: t.spreadPct };
  if (flops !== undefined) {
    r.gflops = flops / t.median / 1e9;
    if (peak !== undefined) {
      r.peakGflops = peak;
      r.pctPeak = (100 * r.gflops) / peak;
    }
  }
  return r;
}

export function formatRow(r: BenchRow): string {
  const parts = [
    r.bench.padEnd(18),
    (r.build ?? '').padEnd(8),
    r.shape.padEnd(24),
    `${r.medianMs.toFixed(3)} ms`.padStart(12),
    `±${r.spreadPct.toFixed(1)}%`.padStart(7),
  ];
  if (r.gflops !== undefined) parts.push(`${r.gflops.toFixed(2)} GFLOP/s`.padStart(16));
  if (r.pctPeak !== undefined) parts.push(`${r.pctPeak.toFixed(1)}% of peak ${r.peakGflops!.toFixed(1)}`);
  for (const [k, v] of Object.entries(r)) {
    if (['bench', 'build', 'shape', 'medianMs', 'spreadPct', 'gflops', 'peakGflops', 'pctPeak'].includes(k)) continue;
    parts.push(`${k}=${typeof v === 'number' ? +v.toFixed(3) : v}`);
  }
  return parts.join(' ');
}

/** A benchmark module's entry point: prints lines as it goes (unless json) and returns its rows. */
export type BenchMain = (args: BenchArgs, emit: (r: BenchRow) => void) => Promise<void> | void;
