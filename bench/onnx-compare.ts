/**
 * Shared by the ONNX tests and the inference bench: a model with every parameter perturbed (so LayerNorm
 * weights, modality affines and biases are not the identity), checkpoint metadata for the export, batches of
 * chosen availability, a Batch as the ONNX graph's input feeds, and the relative difference used to compare.
 */
import * as ort from 'onnxruntime-node';
import type { Batch } from '../src/engine/batch.ts';
import { createModel } from '../src/model/model.ts';
import type { Model } from '../src/model/model.ts';
import type { ModelConfig, PresetName } from '../src/model/config.ts';
import { presetConfig } from '../src/model/config.ts';
import { mulberry32 } from '../src/engine/rng.ts';
import type { SyncBackend } from '../src/engine/types.ts';

/** Schema metadata for Fn numeric and the given categorical features, with a pixel normalization. */
export function exportMetadata(c: ModelConfig): Record<string, unknown> {
  return {
    schema: {
      numeric: Array.from({ length: c.numFeatures }, (_, j) => ({ name: `n${j}`, mean: 1 + j, std: 2 + j })),
      categorical: c.catCardinalities.map((n, j) => ({ name: `c${j}`, vocab: Array.from({ length: n }, (_, i) => `V${i}`) })),
    },
    normalization: { pixelMean: 0.5, pixelStd: 0.25, imageSize: c.imageSize },
  };
}

/** A model of a preset with `features` (13 numeric and 3 categorical by default), every parameter perturbed; `backend`: the bench's larger arena. */
export function perturbedModel(preset: PresetName, over: Partial<ModelConfig> = {}, seed = 1, backend?: SyncBackend): Model<SyncBackend> {
  const cfg = { ...presetConfig(preset), numFeatures: 13, catCardinalities: [2, 5, 7], ...over };
  const m = createModel(cfg, { seed, metadata: exportMetadata({ ...presetConfig(preset), ...cfg }), ...(backend ? { backend } : {}) });
  const flat = Float32Array.from(m.paramData());
  const r = mulberry32(seed + 100);
  for (let i = 0; i < flat.length; i++) flat[i] += 0.1 * (2 * r() - 1);
  m.setParams(flat);
  return m;
}

/** The graph's input feeds for a batch (presence as float32 0/1, codes as int64). */
export function feedsOf(b: Batch): Record<string, ort.Tensor> {
  const B = b.B, Fn = b.num.length / B, Fc = b.cat.length / B;
  return {
    image: new ort.Tensor('float32', b.image, [B, 1, b.S, b.S]),
    image_present: new ort.Tensor('float32', Float32Array.from(b.hasImage), [B]),
    num: new ort.Tensor('float32', b.num, [B, Fn]),
    num_present: new ort.Tensor('float32', Float32Array.from(b.numPresent), [B, Fn]),
    cat: new ort.Tensor('int64', BigInt64Array.from(b.cat, (v) => BigInt(v)), [B, Fc]),
    cat_present: new ort.Tensor('float32', Float32Array.from(b.catPresent), [B, Fc]),
  };
}

/** max |a - ref| / max |ref|: the relative difference the tests bound (one scale for the whole output). */
export function relDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(a[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return Number.isNaN(d) || a.length !== ref.length ? Infinity : d / m;
}
