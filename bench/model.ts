/**
 * Whole-model benchmark: forward and forward+backward (lossAndGrad) samples/s per preset on one thread,
 * model FLOPs per sample (matrix products and attention, forward; training counted as 3x) and MFU against
 * the measured peak of the same build. Every preset gets 32 numeric features and batches of 32 complete
 * samples; `base` is the reference model of issue 3 (128x128 images, 16x16 patches, d 192, 3 heads, MLP 4,
 * depths 4/2/2, 32 numeric features, no categoricals). A last row per build runs `base` on a batch with
 * missing data (a third without image, a third without table) to show what skipping absent modalities saves.
 * Verified first: one sample's logits against the float64 reference backend.
 */
import { ReferenceBackend, WasmBackend, wasmBuildSupported } from '../src/engine/index.ts';
import { createModel, presetConfig, syntheticBatch } from '../src/model/index.ts';
import type { Availability, ModelConfig, PresetName } from '../src/model/index.ts';
import { measure, measurePeak, row } from './util.ts';
import type { BenchMain } from './util.ts';

const B = 32;

function configOf(preset: PresetName): ModelConfig {
  return { ...presetConfig(preset), numFeatures: 32, catCardinalities: [] };
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

export const main: BenchMain = (args, emit) => {
  const presets: PresetName[] = args.quick ? ['tiny', 'small'] : ['tiny', 'small', 'base'];
  for (const build of args.builds) {
    if (!wasmBuildSupported(build)) continue;
    const peak = measurePeak(build);
    for (const preset of presets) {
      const cfg = configOf(preset);
      const be = new WasmBackend(build, 64 << 20);
      const maxdiff = verify(cfg, be);
      const m = createModel(cfg, { backend: be, seed: 0 });
      const batch = syntheticBatch(cfg, Array<Availability>(B).fill('both'), 7, { blank: 0.1 });
      const fwdFlops = m.flopsPerSample() * B, opts = { minRuns: preset === 'base' ? 5 : 9, minSeconds: preset === 'base' ? 3 : 1 };
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
};
