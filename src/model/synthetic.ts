/**
 * Random batches that follow the batch contract, for tests and benchmarks: each sample gets an
 * availability pattern, labels mix 1, 0, -1 (uncertain) and NaN (blank), and the values where data is
 * absent can be NaN, zero or random (the model must ignore them).
 */
import type { Batch } from '../engine/batch.ts';
import { NUM_LABELS } from '../engine/batch.ts';
import type { ModelConfig } from './config.ts';
import { mulberry32 } from '../engine/rng.ts';

/**
 * Availability of one sample: `both` (image and every feature), `image` (image only), `table` (every
 * feature, no image), `partial` (image and some features missing), `tablePartial` (some features, no
 * image), `none` (labels only).
 */
export type Availability = 'both' | 'image' | 'table' | 'partial' | 'tablePartial' | 'none';

export interface SyntheticOptions {
  /** What absent values hold: NaN (default), 0, or random numbers. */
  absent?: 'nan' | 'zero' | 'random';
  /** Probability that a label entry is blank (NaN); the rest split evenly over 1, 0, -1. Default 0.25. */
  blank?: number;
}

/** A batch of `patterns.length` samples for a config, determined by `seed`. */
export function syntheticBatch(config: ModelConfig, patterns: readonly Availability[], seed: number, opts: SyntheticOptions = {}): Batch {
  const r = mulberry32(seed);
  // Absent values draw from their own stream, so the present data do not depend on `opts.absent`.
  const ra = mulberry32(seed ^ 0x2545f491);
  const B = patterns.length, S = config.imageSize, Fn = config.numFeatures, Fc = config.catCardinalities.length;
  const absent = () => (opts.absent === 'zero' ? 0 : opts.absent === 'random' ? 1e4 * (ra() - 0.5) : NaN);
  const blank = opts.blank ?? 0.25;
  const b: Batch = {
    B, S,
    image: new Float32Array(B * S * S), hasImage: new Uint8Array(B),
    num: new Float32Array(B * Fn), numPresent: new Uint8Array(B * Fn),
    cat: new Int32Array(B * Fc), catPresent: new Uint8Array(B * Fc),
    labels: new Float32Array(B * NUM_LABELS),
  };
  for (let i = 0; i < B; i++) {
    const p = patterns[i];
    const img = p === 'both' || p === 'image' || p === 'partial';
    b.hasImage[i] = img ? 1 : 0;
    for (let j = 0; j < S * S; j++) b.image[i * S * S + j] = img ? 2 * r() - 1 : absent();
    const tab = p === 'both' || p === 'table' || p === 'partial' || p === 'tablePartial';
    const some = p === 'partial' || p === 'tablePartial';
    // A partial table keeps about half its features, and always at least one.
    const keep = (j: number) => tab && (!some || j === 0 || r() < 0.5);
    for (let j = 0; j < Fn; j++) {
      const k = keep(j);
      b.numPresent[i * Fn + j] = k ? 1 : 0;
      b.num[i * Fn + j] = k ? 2 * r() - 1 : absent();
    }
    for (let j = 0; j < Fc; j++) {
      const k = keep(Fn + j);
      b.catPresent[i * Fc + j] = k ? 1 : 0;
      b.cat[i * Fc + j] = k ? Math.floor(r() * config.catCardinalities[j]) : opts.absent === 'random' ? Math.floor(ra() * 1e6) - 5e5 : -1;
    }
    for (let j = 0; j < NUM_LABELS; j++) {
      const u = r();
      b.labels[i * NUM_LABELS + j] = u < blank ? NaN : [1, 0, -1][Math.floor(((u - blank) / (1 - blank)) * 3) % 3];
    }
  }
  return b;
}
