/**
 * Whole-model benchmark, one thread.
 *
 * 1. Samples/s per preset: forward and forward+backward (lossAndGrad) on batches of 32 complete samples, model
 *    FLOPs per sample (matrix products and attention, forward; training counted as 3x, see
 *    forwardFlopsPerSample) and MFU against the measured peak of the same build. Every preset gets 32 numeric
 *    features; `base` is the reference model of issue 3 (128x128 images, 16x16 patches, d 192, 3 heads,
 *    MLP 4, depths 4/2/2, no categoricals). A last row per build runs `base` with missing data (a third
 *    without image, a third without table) to show what skipping absent modalities saves. Verified first:
 *    one sample's logits against the float64 reference backend.
 * 2. The training step profile (issue 12 item 5): `base` lossAndGrad on one micro-batch (--micro-batch,
 *    default 8 samples, 10% of the features missing) at the preset's image size (128: 64 vision tokens, a
 *    fusion sequence of 1 + 64 + 32 = 97) and at --image-size (default 224: 196 vision tokens, the CLS token
 *    lives in the fusion sequence, 1 + 196 + 32 = 229). The step's end-to-end % of peak is timed on the plain
 *    backend; the per-kernel breakdown on the same model through a timing proxy (each kernel call timed with
 *    performance.now(), summed per step, median over steps): ms per step, % of the step, and for GEMMs and
 *    attention GFLOP/s and % of peak (attention counted like the model: 4·T²·d forward, 8·T²·d backward per
 *    sample over all tokens, masked or not). "outside" is the step time no kernel accounts for (JavaScript).
 */
import { ReferenceBackend, WasmBackend, wasmBuildSupported } from '../src/engine/index.ts';
import type { Backend, GemmOptions, WasmBuild } from '../src/engine/index.ts';
import { createModel, presetConfig } from '../src/model/index.ts';
import type { ModelConfig, PresetName } from '../src/model/index.ts';
import { measure, measurePeak, row, summarize } from './util.ts';
import type { BenchArgs, BenchMain, BenchRow } from './util.ts';
import { syntheticBatch } from '../src/model/synthetic.ts';
import type { Availability } from '../src/model/synthetic.ts';

const B = 32;

function configOf(preset: PresetName, imageSize?: number): ModelConfig {
  const c = { ...presetConfig(preset), numFeatures: 32, catCardinalities: [] };
  return imageSize ? { ...c, imageSize } : c;
}

/** One sample's logits, wasm vs the float64 reference, same parameters. */
function verify(cfg: ModelConfig, be: WasmBackend): number {
  const batch = syntheticBatch(cfg, ['partial'], 5);
  const m = createModel(cfg, { backend: be, seed: 1 });
  const ref = createModel(cfg, { backend: new ReferenceBackend(), seed: 1 });
  const got = m.forward(batch), want = ref.forward(batch);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  if (!(worst < 1e-4)) throw new Error(`model bench: ${be.name} logits differ from the reference by ${worst}`);
  return worst;
}

/** Part 1: samples/s and MFU per preset at batch 32. */
function presetRows(build: WasmBuild, peak: number, args: BenchArgs, emit: (r: BenchRow) => void): void {
  const presets: PresetName[] = args.quick ? ['tiny', 'small'] : ['tiny', 'small', 'base'];
  for (const preset of presets) {
    const cfg = configOf(preset);
    const be = new WasmBackend(build, 64 << 20);
    const maxdiff = verify(cfg, be);
    const m = createModel(cfg, { backend: be, seed: 0 });
    const batch = syntheticBatch(cfg, Array<Availability>(B).fill('both'), 7, { blank: 0.1 });
    const fwdFlops = m.flopsPerSample() * B, opts = { minRuns: 5, minSeconds: preset === 'base' ? 2 : 1 };
    const shape = `${preset} B=${B} S=${cfg.imageSize} d=${cfg.dim}`;
    const tf = measure(() => m.forward(batch), opts);
    emit({ ...row('model.fwd', build, shape, tf, fwdFlops, peak), samplesPerSec: B / tf.median, mflopPerSample: m.flopsPerSample() / 1e6, maxdiff: maxdiff.toExponential(1) });
    const tb = measure(() => m.lossAndGrad(batch), opts);
    emit({ ...row('model.fwd+bwd', build, shape, tb, 3 * fwdFlops, peak), samplesPerSec: B / tb.median, mflopPerSample: 3 * m.flopsPerSample() / 1e6 });
    if (preset === 'base') {
      const mixed: Availability[] = Array.from({ length: B }, (_, i) => (['both', 'table', 'image'] as const)[i % 3]);
      const mb = syntheticBatch(cfg, mixed, 8, { blank: 0.1 });
      const tm = measure(() => m.lossAndGrad(mb), opts);
      emit({ ...row('model.fwd+bwd', build, `base B=${B} 1/3 no img, 1/3 no tab`, tm), samplesPerSec: B / tm.median });
    }
  }
}

/** Per-kernel times of one step: key -> ms, and key -> flops where counted. */
interface StepKernels { ms: Map<string, number>; flops: Map<string, number>; calls: Map<string, number> }

/** Kernels that only move the arena or read results: not timed. */
const UNTIMED = new Set(['alloc', 'mark', 'release', 'reserve', 'view', 'write', 'readSync', 'readScalarSync', 'read', 'readScalar']);

/** The kernel name a call is reported under, and its flops (GEMM and attention only). */
function keyOf(name: string, a: unknown[]): [string, number] {
  if (name === 'gemm') {
    const [M, N, K] = a.slice(4, 7) as number[], o = (a[7] ?? {}) as GemmOptions;
    const ep = o.epilogue ? ` +${o.epilogue.op}` : o.residual ? ' +res' : '';
    return [`gemm ${o.transA ? 'T' : 'N'}${o.transB ? 'T' : 'N'} ${M}x${N}x${K}${ep}`, 2 * M * N * K];
  }
  if (name === 'attentionForward' || name === 'attentionBackward') {
    const [Bs, T, d] = a.slice(name === 'attentionForward' ? 4 : 5) as number[];
    return [`${name} T=${T}`, (name === 'attentionForward' ? 4 : 8) * Bs * T * T * d];
  }
  return [name, 0];
}

/** A proxy of `be` that adds each kernel call's wall time (and flops) into `into`. */
function timed<T extends Backend>(be: T, into: () => StepKernels): T {
  return new Proxy(be, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      if (typeof prop !== 'string' || UNTIMED.has(prop)) return v.bind(target);
      return (...a: unknown[]) => {
        const t0 = performance.now();
        const out = v.apply(target, a);
        const dt = performance.now() - t0;
        const [key, fl] = keyOf(prop, a), s = into();
        s.ms.set(key, (s.ms.get(key) ?? 0) + dt);
        s.calls.set(key, (s.calls.get(key) ?? 0) + 1);
        if (fl) s.flops.set(key, (s.flops.get(key) ?? 0) + fl);
        return out;
      };
    },
  });
}

/**
 * Part 2: the step profile of `base` at micro-batch mb and image side S. The peak is measured three times
 * around the timed steps (median): the core's clock, hence the peak loop's figure, drifts by up to ~8%
 * between runs minutes apart, and a peak taken earlier would skew the step's % of peak by as much.
 */
function stepProfile(build: WasmBuild, mb: number, S: number, top: number, emit: (r: BenchRow) => void): void {
  const cfg = configOf('base', S);
  const be = new WasmBackend(build, 64 << 20);
  let cur: StepKernels = { ms: new Map(), flops: new Map(), calls: new Map() };
  const m = createModel(cfg, { backend: timed(be, () => cur), seed: 0 });
  const batch = syntheticBatch(cfg, Array<Availability>(mb).fill('both'), 7, { blank: 0.1 });
  const flops = m.flopsPerSample({ training: true }) * mb;
  const steps = S > 160 ? 6 : 10;
  // The proxied steps: one StepKernels per step.
  const per: StepKernels[] = [];
  const peaks = [measurePeak(build)];
  for (let i = 0; i < 2 + steps; i++) {
    cur = { ms: new Map(), flops: new Map(), calls: new Map() };
    m.lossAndGrad(batch);
    if (i >= 2) per.push(cur);
  }
  // The same model on the plain backend (same arena, no proxy) for the end-to-end time.
  const plain = createModel(cfg, { backend: be, seed: 0 });
  peaks.push(measurePeak(build));
  const t = measure(() => plain.lossAndGrad(batch), { minRuns: steps, minSeconds: 1, warmup: 2 });
  peaks.push(measurePeak(build));
  const peak = summarize(peaks).median;
  const nv = (S / cfg.patchSize) ** 2, T = `T ${nv}/32/${1 + nv + 32}`;
  const shape = `base mb=${mb} S=${S} (${T})`;
  const keys = [...per[0].ms.keys()];
  const rows = keys.map((k) => {
    const tk = summarize(per.map((s) => s.ms.get(k) ?? 0));
    return { k, ms: tk.median, spread: tk.spreadPct, fl: per[0].flops.get(k) ?? 0, calls: per[0].calls.get(k) ?? 0 };
  }).sort((x, y) => y.ms - x.ms);
  const stepMs = t.median * 1e3, kernelMs = rows.reduce((s, r) => s + r.ms, 0);
  emit({ ...row('model.step', build, shape, t, flops, peak), samplesPerSec: mb / t.median, kernelsMs: kernelMs, outsideMs: stepMs - kernelMs });
  const kernelRow = (name: string, ms: number, fl: number, calls: number, spread = 0): BenchRow => {
    const r: BenchRow = { bench: 'model.kernel', build, shape: name, medianMs: ms, spreadPct: spread, pctStep: (100 * ms) / stepMs, calls };
    if (fl) { r.gflops = fl / ms / 1e6; r.peakGflops = peak; r.pctPeak = (100 * r.gflops) / peak; }
    return r;
  };
  // By kind first (all GEMMs, all attention, the rest), then the top kernels one by one.
  const kinds: [string, (k: string) => boolean][] = [
    ['all gemm', (k) => k.startsWith('gemm')], ['all attention', (k) => k.startsWith('attention')], ['all other kernels', (k) => !/^(gemm|attention)/.test(k)],
  ];
  for (const [name, f] of kinds) {
    const sel = rows.filter((r) => f(r.k));
    const fl = name === 'all other kernels' ? 0 : sel.reduce((s, r) => s + r.fl, 0);
    emit(kernelRow(name, sel.reduce((s, r) => s + r.ms, 0), fl, sel.reduce((s, r) => s + r.calls, 0)));
  }
  for (const r of rows.slice(0, top)) emit(kernelRow(r.k, r.ms, r.fl, r.calls, r.spread));
  const rest = rows.slice(top);
  if (rest.length) emit(kernelRow(`${rest.length} more kernels`, rest.reduce((s, r) => s + r.ms, 0), 0, rest.reduce((s, r) => s + r.calls, 0)));
}

export const main: BenchMain = (args, emit) => {
  const sizes = [presetConfig('base').imageSize, args.imageSize].filter((s, i, a) => a.indexOf(s) === i);
  for (const build of args.builds) {
    if (!wasmBuildSupported(build)) continue;
    const peak = measurePeak(build);
    presetRows(build, peak, args, emit);
    for (const S of sizes) stepProfile(build, args.microBatch || 8, S, args.quick ? 8 : 16, emit);
  }
};
