/**
 * The batch contract: the boundary between data and model (shared/DESIGN.md, "The batch contract").
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

/** The 14 CheXpert findings, in the order of the label columns, logits and the head's rows. */
export const LABEL_NAMES = [
  'Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Enlarged Cardiomediastinum', 'Fracture',
  'Lung Lesion', 'Lung Opacity', 'No Finding', 'Pleural Effusion', 'Pleural Other', 'Pneumonia',
  'Pneumothorax', 'Support Devices',
] as const;
export const NUM_LABELS = 14;
