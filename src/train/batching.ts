/** Row bookkeeping of the trainer: splits, units (micro-batches), label counts. */
import type { PreparedDataset } from '../data/index.ts';
import { LABEL_NAMES } from '../engine/batch.ts';
import { readPixelRows } from '../data/pixel-store.ts';
import { labelWeight } from '../model/loss.ts';
import type { UncertainPolicy } from '../model/config.ts';

/** Certain labels (0/1) for evaluation; uncertain and blank are unobserved. */
export function evalTargets(labels: Float32Array, rows: Int32Array): Float32Array {
  const L = LABEL_NAMES.length, out = new Float32Array(rows.length * L);
  for (let r = 0; r < rows.length; r++) {
    for (let j = 0; j < L; j++) {
      const v = labels[rows[r] * L + j];
      out[r * L + j] = v === 0 || v === 1 ? v : NaN;
    }
  }
  return out;
}

/** Loss-observed labels of some rows under the uncertain policy, by the one label rule (model/loss.ts). */
export function observedCount(labels: Float32Array, rows: ArrayLike<number>, uncertain: UncertainPolicy): number {
  const L = LABEL_NAMES.length;
  let n = 0;
  for (let r = 0; r < rows.length; r++) {
    for (let j = 0; j < L; j++) n += labelWeight(labels[rows[r] * L + j], uncertain);
  }
  return n;
}

export function splitRows(ds: Pick<PreparedDataset, 'n' | 'split'>, split: number): Int32Array {
  const rows: number[] = [];
  for (let i = 0; i < ds.n; i++) if (ds.split[i] === split) rows.push(i);
  return Int32Array.from(rows);
}

/**
 * Cut rows into units of `microBatch` contiguous rows (the last may be shorter): the units of parallel work
 * of a step, fixed by the batch and the micro-batch alone, so gradient sums do not depend on --threads.
 */
export function cutUnits(rows: Int32Array, microBatch: number): Int32Array[] {
  if (!(microBatch >= 1) || !Number.isInteger(microBatch)) throw new Error(`micro-batch must be a positive integer, got ${microBatch}`);
  const out: Int32Array[] = [];
  for (let a = 0; a < rows.length; a += microBatch) out.push(rows.subarray(a, Math.min(a + microBatch, rows.length)));
  return out;
}

/** Units of a batch of `batch` samples. */
export function unitsPerBatch(batch: number, microBatch: number): number {
  return Math.ceil(batch / microBatch);
}

/** The early-fusion baseline's fill values from the training rows: mean normalized image, categorical modes. */
export function imputeStats(ds: PreparedDataset, trainRows: Int32Array): { meanImage: Float32Array; catModes: Int32Array } {
  const SS = ds.S * ds.S, sum = new Float64Array(SS);
  let n = 0;
  const row = new Uint8Array(SS);
  for (const r of trainRows) {
    if (!ds.hasImage[r]) continue;
    n++;
    readPixelRows(ds, [r], row); // in memory or file-backed (src/data/pixel-store.ts)
    for (let i = 0; i < SS; i++) sum[i] += row[i];
  }
  const meanImage = new Float32Array(SS);
  for (let i = 0; i < SS; i++) meanImage[i] = n ? (sum[i] / n / 255 - ds.pixelMean) / ds.pixelStd : 0;
  const Fc = ds.schema.categorical.length, catModes = new Int32Array(Fc);
  for (let f = 0; f < Fc; f++) {
    const counts = new Map<number, number>();
    for (const r of trainRows) {
      if (!ds.catPresent[r * Fc + f]) continue;
      const c = ds.cat[r * Fc + f];
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    let best = 0, bestN = -1;
    for (const [c, k] of counts) if (k > bestN || (k === bestN && c < best)) { best = c; bestN = k; }
    catModes[f] = best;
  }
  return { meanImage, catModes };
}

/** Per-label prevalence of positives among the certain (0/1) training labels (0.5 where none). */
export function prevalence(labels: Float32Array, rows: Int32Array): Float64Array {
  const L = LABEL_NAMES.length, pos = new Float64Array(L), cnt = new Float64Array(L);
  for (const r of rows) {
    for (let j = 0; j < L; j++) {
      const v = labels[r * L + j];
      if (v === 0 || v === 1) { cnt[j]++; pos[j] += v; }
    }
  }
  return pos.map((p, j) => (cnt[j] ? p / cnt[j] : 0.5));
}
