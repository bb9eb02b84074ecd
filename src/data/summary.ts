/** The report of a load (DataReport): split sizes, missingness per modality and feature, label counts. */
import { LABEL_NAMES, NUM_LABELS } from '../engine/batch.ts';
import type { ImageSet } from './images.ts';
import type { PreparedDataset } from './prepared.ts';
import type { ProblemLog } from './problems.ts';
import type { DataReport, DataSources, FeatureReport, LabelReport } from './report.ts';
import type { Samples } from './samples.ts';
import { SPLIT_NAMES } from './split.ts';

/** What the report draws on besides the prepared arrays. */
export interface ReportInputs {
  root: string;
  sources: DataSources;
  labelFile: string;
  splitSource: 'official' | 'stratified';
  samples: Samples;
  matchedStays: number;
  labelsWithoutStudy: number;
  featuresLeftOut: string[];
  freports: FeatureReport[];
  images: ImageSet;
  problems: ProblemLog;
  /** Numeric and categorical feature counts. */
  Fn: number;
  Fc: number;
}

type Arrays = Pick<PreparedDataset, 'n' | 'split' | 'subjectId' | 'hasImage' | 'numPresent' | 'catPresent' | 'labels'>;

/** Count what the prepared arrays hold (fills present/missing of the feature reports) and assemble the report. */
export function buildReport(d: Arrays, r: ReportInputs): DataReport {
  const n = d.n, Fn = r.Fn, Fc = r.Fc;
  let imageMissing = 0, tableMissing = 0;
  const splits = { train: 0, validate: 0, test: 0 };
  for (let s = 0; s < n; s++) {
    if (!d.hasImage[s]) imageMissing++;
    let any = 0;
    for (let j = 0; j < Fn; j++) any |= d.numPresent[s * Fn + j];
    for (let c = 0; c < Fc; c++) any |= d.catPresent[s * Fc + c];
    if (!any) tableMissing++;
    splits[SPLIT_NAMES[d.split[s]]]++;
  }
  countPresent(r.freports, d.numPresent, n, Fn, 0);
  countPresent(r.freports, d.catPresent, n, Fc, Fn);
  const s = r.samples;
  return {
    dir: r.root, sources: r.sources, labelSource: r.labelFile, splitSource: r.splitSource, samples: n, splits, patients: new Set(d.subjectId).size,
    imageMissing, imageMissingReasons: s.imageMissingReasons, tableMissing, matchedStays: r.matchedStays, droppedNoModality: s.droppedNoModality,
    labelsWithoutStudy: r.labelsWithoutStudy, studiesWithoutLabels: s.studiesWithoutLabels, allBlankLabels: s.allBlankLabels,
    featuresLeftOut: r.featuresLeftOut, features: r.freports, labels: labelCounts(d.labels, n),
    cache: { file: r.images.cacheFile, hit: r.images.hit, rebuiltReason: r.images.rebuiltReason, decoder: r.images.decoder },
    problems: r.problems.problems, problemsNotListed: r.problems.notListed,
  };
}

/** present/missing of features [offset, offset + F) from a [n*F] presence array. */
function countPresent(reports: FeatureReport[], present: Uint8Array, n: number, F: number, offset: number): void {
  for (let j = 0; j < F; j++) {
    let p = 0;
    for (let s = 0; s < n; s++) p += present[s * F + j];
    reports[offset + j].present = p;
    reports[offset + j].missing = n - p;
  }
}

/** Positive, negative, uncertain and blank counts per label. */
function labelCounts(labels: Float32Array, n: number): LabelReport[] {
  return LABEL_NAMES.map((name, k) => {
    const r = { name, positive: 0, negative: 0, uncertain: 0, blank: 0 };
    for (let s = 0; s < n; s++) {
      const v = labels[s * NUM_LABELS + k];
      if (v === 1) r.positive++;
      else if (v === 0) r.negative++;
      else if (v === -1) r.uncertain++;
      else r.blank++;
    }
    return r;
  });
}
