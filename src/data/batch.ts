/**
 * The batch gatherer, apart from the readers so that code without Node.js (the edge bundle, src/edge/)
 * builds batches exactly as training and evaluation do.
 */
import { NUM_LABELS } from '../engine/batch.ts';
import type { Batch } from '../engine/batch.ts';
import type { PreparedDataset } from './prepared.ts';
import { readPixelRows } from './pixel-store.ts';

/**
 * Gather samples into a Batch (src/engine/batch.ts): images as (pixel/255 - pixelMean) / pixelStd, zero where
 * absent; the other arrays copied. `out` is reused when its shapes match.
 */
export function makeBatch(ds: PreparedDataset, indices: ArrayLike<number>, out?: Batch): Batch {
  const B = indices.length, S = ds.S, SS = S * S;
  const Fn = ds.schema.numeric.length, Fc = ds.schema.categorical.length;
  const b: Batch =
    out && out.B === B && out.S === S && out.num.length === B * Fn && out.cat.length === B * Fc
      ? out
      : {
          B, S,
          image: new Float32Array(B * SS), hasImage: new Uint8Array(B),
          num: new Float32Array(B * Fn), numPresent: new Uint8Array(B * Fn),
          cat: new Int32Array(B * Fc), catPresent: new Uint8Array(B * Fc),
          labels: new Float32Array(B * NUM_LABELS),
        };
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = (v / 255 - ds.pixelMean) / ds.pixelStd;
  for (let r = 0; r < B; r++) if (!(indices[r] >= 0 && indices[r] < ds.n)) throw new RangeError(`makeBatch: index ${indices[r]} outside [0, ${ds.n})`);
  // A file-backed store (PreparedDataset.pixelFile) reads the batch's rows first; in memory, rows are read in place.
  let px = ds.pixels, rowOf = (i: number, r: number): number => i * SS;
  if (ds.pixelFile) {
    px = new Uint8Array(B * SS);
    readPixelRows(ds, indices, px);
    rowOf = (_i, r) => r * SS;
  }
  for (let r = 0; r < B; r++) {
    const i = indices[r];
    const has = ds.hasImage[i];
    b.hasImage[r] = has;
    if (has) {
      const src = rowOf(i, r), dst = r * SS;
      for (let k = 0; k < SS; k++) b.image[dst + k] = lut[px[src + k]];
    } else b.image.fill(0, r * SS, (r + 1) * SS);
    b.num.set(ds.num.subarray(i * Fn, (i + 1) * Fn), r * Fn);
    b.numPresent.set(ds.numPresent.subarray(i * Fn, (i + 1) * Fn), r * Fn);
    b.cat.set(ds.cat.subarray(i * Fc, (i + 1) * Fc), r * Fc);
    b.catPresent.set(ds.catPresent.subarray(i * Fc, (i + 1) * Fc), r * Fc);
    b.labels.set(ds.labels.subarray(i * NUM_LABELS, (i + 1) * NUM_LABELS), r * NUM_LABELS);
  }
  return b;
}
