/**
 * The prepared data set, the contract between the readers (dataset.ts, Node.js) and everything that
 * batches it (batch.ts, also in the edge bundle). Types only, so neither side imports the other.
 */
import type { DataReport } from './report.ts';
import type { PixelFile } from './pixel-store.ts';

/** A prepared data set: one sample per study; arrays indexed by sample. */
export interface PreparedDataset {
  S: number;
  n: number;
  labelNames: string[];
  /** [n] 0 train, 1 validate, 2 test. */
  split: Uint8Array;
  subjectId: Int32Array;
  studyId: Int32Array;
  /** [n*S*S] grayscale 0..255 (0 where no image); empty when the store is file-backed (`pixelFile`). */
  pixels: Uint8Array;
  /** The file-backed pixel store (stores over the memory limit); read rows with readPixelRows. */
  pixelFile?: PixelFile;
  hasImage: Uint8Array;
  /** [n*Fn] standardized with training-split mean and std; 0 where missing. */
  num: Float32Array;
  numPresent: Uint8Array;
  /** [n*Fc] codes into schema.categorical[j].vocab; 0 where missing. */
  cat: Int32Array;
  catPresent: Uint8Array;
  /** [n*14] 1, 0, -1, NaN (blank), columns in LABEL_NAMES order. */
  labels: Float32Array;
  schema: {
    numeric: { name: string; mean: number; std: number; unit?: string }[];
    categorical: { name: string; vocab: string[] }[];
  };
  /** Mean and std of pixels/255 over the training split's images. */
  pixelMean: number;
  pixelStd: number;
  report: DataReport;
  /**
   * Subgroup attributes per sample, for the evaluation only (not model inputs): sex and age at the study from
   * MIMIC-IV hosp/patients (every study, with or without a table), race and insurance from hosp/admissions (the
   * admission nearest the study). A member is absent when its table is not in the data set.
   */
  demographics?: { sex?: (string | null)[]; age?: (number | null)[]; race?: (string | null)[]; insurance?: (string | null)[] };
}
