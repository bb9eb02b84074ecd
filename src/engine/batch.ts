/**
 * The batch contract: the boundary between data and model (docs/design.md, "The batch contract").
 * B samples; images S x S normalized; tabular numeric features standardized; categorical features as
 * integer codes into the feature's vocabulary. Values where absent are ignored (and may be anything).
 */
export interface Batch {
  /** Number of samples. */
  B: number;
  /** Image side S. */
  S: number;
  /** [B,S,S] normalized pixels; ignored where hasImage is 0. */
  image: Float32Array;
  /** [B] 1 = the sample has an image. */
  hasImage: Uint8Array;
  /** [B,Fn] standardized numeric features; ignored where numPresent is 0. */
  num: Float32Array;
  /** [B,Fn] 1 = present. */
  numPresent: Uint8Array;
  /** [B,Fc] category codes (0-based within each feature). */
  cat: Int32Array;
  /** [B,Fc] 1 = present. */
  catPresent: Uint8Array;
  /** [B,14] 1 positive, 0 negative, -1 uncertain, NaN blank (not mentioned). */
  labels: Float32Array;
}

/**
 * The 14 CheXpert findings, in the order of the label columns, logits and the head's rows. It lives here, with
 * the batch contract, on purpose: `Batch.labels` [B,14] is laid out in this order, so the order is part of the
 * contract between data and model. The data layer fills labels in it and the model's head emits logits in
 * it; keeping it in this bottom module lets both import it without data depending on the model.
 */
export const LABEL_NAMES = [
  'Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Enlarged Cardiomediastinum', 'Fracture',
  'Lung Lesion', 'Lung Opacity', 'No Finding', 'Pleural Effusion', 'Pleural Other', 'Pneumonia',
  'Pneumothorax', 'Support Devices',
] as const;
export const NUM_LABELS = 14;

/**
 * A sample has the tabular modality when any of its features is present (the batch contract). The one
 * definition the model's grouping, the trainer's dropout and the evaluation's availability flags share.
 * `Fn`/`Fc` are the numeric and categorical feature counts; `i` the sample.
 */
export function hasTabular(numPresent: ArrayLike<number>, catPresent: ArrayLike<number>, i: number, Fn: number, Fc: number): boolean {
  for (let f = 0; f < Fn; f++) if (numPresent[i * Fn + f] !== 0) return true;
  for (let f = 0; f < Fc; f++) if (catPresent[i * Fc + f] !== 0) return true;
  return false;
}

/** Which modalities each sample of a batch has (1: present): hasImage, and a table when any feature is present. */
export interface Shown {
  hasImage: Uint8Array;
  hasTab: Uint8Array;
}

/** What a batch shows the model: its image flags and, per sample, whether any tabular feature is present. */
export function shownOf(b: Batch): Shown {
  const Fn = b.B ? b.num.length / b.B : 0, Fc = b.B ? b.cat.length / b.B : 0;
  const hasTab = new Uint8Array(b.B);
  for (let i = 0; i < b.B; i++) hasTab[i] = hasTabular(b.numPresent, b.catPresent, i, Fn, Fc) ? 1 : 0;
  return { hasImage: Uint8Array.from(b.hasImage, (v) => (v ? 1 : 0)), hasTab };
}
