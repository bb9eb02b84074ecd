/**
 * Prediction over a data set folder (MIMIC-CXR-JPG + MIMIC-IV layout, real or synthetic): the data readers
 * prepare it at the checkpoint's image size, the prepared arrays are put on the checkpoint's preprocessing
 * (pixel statistics, feature standardization and vocabularies, matched by feature name), then makeBatch +
 * forward + sigmoid, as the trainer's evaluation does (forwardAsync: the same bits on the WebAssembly backends, and
 * the WebGPU backend works too). Node.js only (the readers use the file system).
 */
import { loadDataset, SPLIT_NAMES } from '../data/index.ts';
import type { DecoderName, FeatureSpec, LoadOptions, PreparedDataset } from '../data/index.ts';
import { makeBatch } from '../data/batch.ts';
import type { Batch, Shown } from '../engine/batch.ts';
import { NUM_LABELS, shownOf } from '../engine/batch.ts';
import type { Predictor } from './predictor.ts';
import type { Backend } from '../engine/types.ts';
import type { InferenceSpec } from './spec.ts';

export type SplitChoice = 'train' | 'validate' | 'test' | 'all';

export interface DatasetPredictOptions {
  /** Which split's studies (default test). */
  split?: SplitChoice;
  /** Feature spec for the readers (default: the built-in spec, as the trainer uses). */
  featureSpec?: FeatureSpec | string;
  /** Passed to loadDataset. */
  cacheDir?: string;
  decoder?: DecoderName;
  threads?: number;
  windowHours?: number;
  allowLateral?: boolean;
  /** Samples per forward call (default 64). */
  batchSize?: number;
  /**
   * Called on each batch before the forward pass with the data set indices of its samples (`npm run evaluate`
   * injects test-time missingness here); it may only remove inputs.
   */
  prepareBatch?: (batch: Batch, indices: Int32Array) => void;
  onProgress?: LoadOptions['onProgress'];
}

/** One study's prediction. */
export interface DatasetRow {
  studyId: number;
  subjectId: number;
  split: string;
  image: boolean;
  table: boolean;
  /** Tabular features that entered the model. */
  used: string[];
  /** [14] probabilities in label order (calibrated when the checkpoint has temperatures). */
  probabilities: Float32Array;
  /** Positive calls per label at the checkpoint's thresholds (absent: the checkpoint has none). */
  calls?: Record<string, boolean>;
}

export interface DatasetPrediction {
  rows: DatasetRow[];
  /** [rows*14] all probabilities, row-major (calibrated when the checkpoint has temperatures). */
  probs: Float32Array;
  /** [rows*14] the probabilities before the temperatures (the same array when the checkpoint has none). */
  rawProbs: Float32Array;
  /** Sample indices of the rows in `data`. */
  indices: Int32Array;
  /** What each row's batch showed the model, after `prepareBatch` (the evaluation's injected missingness). */
  shown: Shown;
  /** The data set on the checkpoint's preprocessing. */
  data: PreparedDataset;
  /** Checkpoint features the data set lacks (missing for every study). */
  absentFeatures: string[];
  /** Numeric features re-standardized from the data set's statistics to the checkpoint's. */
  restandardized: string[];
  /** Category values the checkpoint's vocabulary lacks, treated as missing: count per feature. */
  unseen: Record<string, number>;
}

/**
 * A prepared data set on a checkpoint's preprocessing. Pixels are raw bytes (normalized by makeBatch with
 * the checkpoint's mean/std). A numeric feature whose data set statistics equal the checkpoint's (the
 * training data set itself) is copied bit for bit; otherwise raw = x * std_ds + mean_ds is re-standardized
 * with the checkpoint's statistics (float64, one float32 rounding). Categories map through their names.
 */
export function alignDataset(ds: PreparedDataset, spec: InferenceSpec): Omit<DatasetPrediction, 'rows' | 'probs' | 'rawProbs' | 'indices' | 'shown'> {
  if (ds.S !== spec.imageSize) throw new Error(`data set images are ${ds.S} px, the checkpoint expects ${spec.imageSize}`);
  const n = ds.n, Fn = spec.numeric.length, Fc = spec.categorical.length;
  const sFn = ds.schema.numeric.length, sFc = ds.schema.categorical.length;
  const num = new Float32Array(n * Fn), numPresent = new Uint8Array(n * Fn);
  const cat = new Int32Array(n * Fc), catPresent = new Uint8Array(n * Fc);
  const absentFeatures: string[] = [], restandardized: string[] = [];
  const unseen: Record<string, number> = {};
  for (const f of spec.numeric) {
    const j = ds.schema.numeric.findIndex((e) => e.name === f.name);
    if (j < 0) {
      absentFeatures.push(f.name);
      continue;
    }
    const { mean, std } = ds.schema.numeric[j];
    const same = mean === f.mean && std === f.std;
    if (!same) restandardized.push(f.name);
    for (let i = 0; i < n; i++) {
      if (!ds.numPresent[i * sFn + j]) continue;
      const x = ds.num[i * sFn + j];
      num[i * Fn + f.index] = same ? x : (x * std + mean - f.mean) / f.std;
      numPresent[i * Fn + f.index] = 1;
    }
  }
  for (const f of spec.categorical) {
    const j = ds.schema.categorical.findIndex((e) => e.name === f.name);
    if (j < 0) {
      absentFeatures.push(f.name);
      continue;
    }
    const codeOf = ds.schema.categorical[j].vocab.map((v) => f.vocab.indexOf(v));
    for (let i = 0; i < n; i++) {
      if (!ds.catPresent[i * sFc + j]) continue;
      const c = codeOf[ds.cat[i * sFc + j]];
      if (c === undefined || c < 0) {
        unseen[f.name] = (unseen[f.name] ?? 0) + 1;
        continue;
      }
      cat[i * Fc + f.index] = c;
      catPresent[i * Fc + f.index] = 1;
    }
  }
  const data: PreparedDataset = {
    ...ds, num, numPresent, cat, catPresent,
    schema: {
      numeric: spec.numeric.map((f) => ({ name: f.name, mean: f.mean, std: f.std, unit: f.unit })),
      categorical: spec.categorical.map((f) => ({ name: f.name, vocab: f.vocab })),
    },
    pixelMean: spec.pixelMean, pixelStd: spec.pixelStd,
  };
  return { data, absentFeatures, restandardized, unseen };
}

/** Predict every study of a split (or all) of a data set folder. */
export async function predictDataset(predictor: Predictor<Backend>, dir: string, opts: DatasetPredictOptions = {}): Promise<DatasetPrediction> {
  const spec = predictor.spec;
  const split = opts.split ?? 'test';
  if (split !== 'all' && !(SPLIT_NAMES as readonly string[]).includes(split)) throw new Error(`split '${split}' is not one of ${[...SPLIT_NAMES, 'all'].join(', ')}`);
  const ds = await loadDataset(dir, {
    imageSize: spec.imageSize,
    featureSpec: opts.featureSpec,
    cacheDir: opts.cacheDir,
    decoder: opts.decoder,
    threads: opts.threads,
    windowHours: opts.windowHours,
    allowLateral: opts.allowLateral,
    onProgress: opts.onProgress,
  });
  const aligned = alignDataset(ds, spec);
  const { data } = aligned;
  const want = split === 'all' ? -1 : SPLIT_NAMES.indexOf(split);
  const idx: number[] = [];
  for (let i = 0; i < data.n; i++) if (want < 0 || data.split[i] === want) idx.push(i);
  const indices = Int32Array.from(idx);
  const rawProbs = new Float32Array(indices.length * NUM_LABELS);
  const shown: Shown = { hasImage: new Uint8Array(indices.length), hasTab: new Uint8Array(indices.length) };
  const bs = Math.max(1, opts.batchSize ?? 64);
  for (let a = 0; a < indices.length; a += bs) {
    const part = indices.subarray(a, Math.min(indices.length, a + bs));
    const batch = makeBatch(data, part);
    opts.prepareBatch?.(batch, part);
    const s = shownOf(batch);
    shown.hasImage.set(s.hasImage, a);
    shown.hasTab.set(s.hasTab, a);
    rawProbs.set(await predictor.rawProbabilitiesAsync(batch), a * NUM_LABELS);
  }
  const probs = predictor.calibrate(rawProbs);
  const Fn = spec.numeric.length, Fc = spec.categorical.length;
  const rows: DatasetRow[] = Array.from(indices, (i, r) => {
    const used: string[] = [];
    for (const f of spec.numeric) if (data.numPresent[i * Fn + f.index]) used.push(f.name);
    for (const f of spec.categorical) if (data.catPresent[i * Fc + f.index]) used.push(f.name);
    return {
      studyId: data.studyId[i], subjectId: data.subjectId[i], split: SPLIT_NAMES[data.split[i]],
      image: data.hasImage[i] === 1, table: used.length > 0, used,
      probabilities: probs.subarray(r * NUM_LABELS, (r + 1) * NUM_LABELS),
      calls: predictor.calls(probs.subarray(r * NUM_LABELS, (r + 1) * NUM_LABELS)),
    };
  });
  return { rows, probs, rawProbs, indices, shown, ...aligned };
}
