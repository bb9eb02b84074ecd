/**
 * Explanation cost (issue 27's goal: at most 1 s per study for `small` with 32 features on one core): one
 * study with an image and all 32 table features present (28 numeric, 4 categorical), explained with the
 * defaults (modalities: 4 passes; features: 32 > 12, so 12 sampled permutations, 4 + 12 x 31 = 376 rows),
 * on one thread of each build. The row's time is wall-clock (median); the shape names the rows and the
 * median CPU time of the process (user + system), which a busy machine inflates less than wall time.
 */
import { wasmBuildSupported, WasmBackend } from '../src/engine/index.ts';
import { Predictor } from '../src/infer/index.ts';
import { createModel, encodeCheckpoint, presetConfig } from '../src/model/index.ts';
import { modelFromBytes } from '../src/model/model.ts';
import { measure, row } from './util.ts';
import type { BenchMain } from './util.ts';

const FN = 28, CATS = [2, 3, 4, 5];

export const main: BenchMain = (args, emit) => {
  const cfg = { ...presetConfig('small'), numFeatures: FN, catCardinalities: CATS };
  const numeric = Array.from({ length: FN }, (_, i) => ({ name: `n${i}`, mean: 0, std: 1 }));
  const categorical = CATS.map((c, i) => ({ name: `c${i}`, vocab: Array.from({ length: c }, (_, j) => `V${j}`) }));
  const metadata = { schema: { numeric, categorical }, normalization: { pixelMean: 0.45, pixelStd: 0.25, imageSize: cfg.imageSize } };
  const init = createModel(cfg, { seed: 1, metadata, backend: 'reference' });
  const bytes = encodeCheckpoint(init.config, init.layout, init.paramData(), metadata);
  const S = 300;
  const image = { width: S, height: S, data: Uint8Array.from({ length: S * S }, (_, i) => (i * 7) & 255), channels: 1 as const };
  const table: Record<string, unknown> = {};
  numeric.forEach((f, i) => { table[f.name] = Math.sin(i); });
  categorical.forEach((f) => { table[f.name] = 'V1'; });
  for (const build of args.builds) {
    if (!wasmBuildSupported(build)) continue;
    const p = new Predictor(modelFromBytes(bytes, { backend: new WasmBackend(build) }));
    const e = p.explain({ image, table }).explanation!;
    if (e.features.present.length !== 32) throw new Error(`explain bench: ${e.features.present.length} features present, expected 32`);
    const cpu: number[] = [];
    const t = measure(() => {
      const c0 = process.cpuUsage();
      p.explain({ image, table });
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }, { minRuns: args.quick ? 3 : 7, minSeconds: 0, warmup: 1 });
    cpu.sort((a, b) => a - b);
    emit(row('explain', build, `small 32f: ${e.rows} rows, CPU ${cpu[cpu.length >> 1].toFixed(0)} ms`, t));
  }
};
