import type { Batch } from '../engine/batch.ts';
import { hasTabular } from '../engine/batch.ts';
import { Stream, uniform } from './random.ts';

/**
 * Missingness on top of what the data lacks naturally.
 *
 * Injection (`--miss-image r`, `--miss-tab r`, and the stress-test protocols): sample s loses the modality
 * when u(seed, s) < r, one fixed uniform per sample and modality. So it is nested: the samples missing at a
 * lower rate are a subset of those missing at a higher one, and r = 1 removes the modality everywhere.
 *
 * Modality dropout (training only, `--drop-image p`, `--drop-tab p`): a sample that has both modalities
 * loses the image with probability p_image and the table with probability p_tab, never both (the two events
 * are disjoint: one uniform u, image dropped when u < p_image, table when p_image <= u < p_image + p_tab, so
 * each rate is exact; p_image + p_tab must not exceed 1). A sample with one modality keeps it.
 * Feature dropout (`--drop-feature p`) masks each present tabular feature with probability p, but never the
 * last feature of a sample that would otherwise be left with no modality at all.
 */

/** Does sample `id` lose the modality at injection rate r? Nested in r. */
export function injectedMissing(seed: number, modality: 'image' | 'tab', id: number, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  return uniform(seed, modality === 'image' ? Stream.missImage : Stream.missTab, id) < rate;
}

export interface DropoutRates {
  image: number;
  tab: number;
  feature: number;
}

function tabPresent(b: Batch, i: number): boolean {
  return hasTabular(b.numPresent, b.catPresent, i, b.num.length / b.B, b.cat.length / b.B);
}

function clearTab(b: Batch, i: number): void {
  const Fn = b.num.length / b.B, Fc = b.cat.length / b.B;
  b.numPresent.fill(0, i * Fn, (i + 1) * Fn);
  b.catPresent.fill(0, i * Fc, (i + 1) * Fc);
}

/**
 * Apply injection to a batch in place. `ids` are the samples' stable identities (data set row indices),
 * so the same sample is missing whatever batch it lands in.
 */
export function injectMissing(b: Batch, ids: ArrayLike<number>, seed: number, missImage: number, missTab: number): void {
  for (let i = 0; i < b.B; i++) {
    if (injectedMissing(seed, 'image', ids[i], missImage)) b.hasImage[i] = 0;
    if (injectedMissing(seed, 'tab', ids[i], missTab)) clearTab(b, i);
  }
}

/**
 * Apply modality and feature dropout to a training batch in place. Decisions depend on (seed, step, id):
 * reproducible, resumable and independent of how the batch is split into chunks.
 * Returns how many samples lost their image / table to dropout.
 */
export function applyDropout(b: Batch, ids: ArrayLike<number>, seed: number, step: number, r: DropoutRates): { image: number; tab: number } {
  let dImg = 0, dTab = 0;
  const Fn = b.num.length / b.B, Fc = b.cat.length / b.B;
  for (let i = 0; i < b.B; i++) {
    const hasImg = b.hasImage[i] !== 0;
    let hasTab = tabPresent(b, i);
    if (hasImg && hasTab && (r.image > 0 || r.tab > 0)) {
      const u = uniform(seed, Stream.dropModality, step, ids[i]);
      if (u < r.image) { b.hasImage[i] = 0; dImg++; }
      else if (u < r.image + r.tab) { clearTab(b, i); hasTab = false; dTab++; }
    }
    if (r.feature > 0 && hasTab) {
      const alone = b.hasImage[i] === 0;
      let kept = -1, keptCat = false, left = 0;
      for (let f = 0; f < Fn + Fc; f++) {
        const isCat = f >= Fn, k = isCat ? i * Fc + (f - Fn) : i * Fn + f;
        const present = isCat ? b.catPresent : b.numPresent;
        if (!present[k]) continue;
        if (uniform(seed, Stream.dropFeature, step, ids[i], f) < r.feature) {
          present[k] = 0;
          if (kept < 0) { kept = k; keptCat = isCat; }
        } else left++;
      }
      if (alone && left === 0 && kept >= 0) (keptCat ? b.catPresent : b.numPresent)[kept] = 1;
    }
  }
  return { image: dImg, tab: dTab };
}

/**
 * The early-fusion baseline's imputation (in place): a sample without an image gets the training set's
 * mean image, a missing numeric feature its training mean (0 after standardization), a missing
 * categorical feature its most frequent training code; then everything is present, so nothing is masked.
 */
export function imputeBatch(b: Batch, meanImage: Float32Array, catModes: Int32Array): void {
  const SS = b.S * b.S, Fn = b.num.length / b.B, Fc = b.cat.length / b.B;
  for (let i = 0; i < b.B; i++) {
    if (!b.hasImage[i]) {
      b.image.set(meanImage, i * SS);
      b.hasImage[i] = 1;
    }
    for (let f = 0; f < Fn; f++) {
      if (!b.numPresent[i * Fn + f]) { b.num[i * Fn + f] = 0; b.numPresent[i * Fn + f] = 1; }
    }
    for (let f = 0; f < Fc; f++) {
      if (!b.catPresent[i * Fc + f]) { b.cat[i * Fc + f] = catModes[f]; b.catPresent[i * Fc + f] = 1; }
    }
  }
}
