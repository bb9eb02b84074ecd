/**
 * From studies to samples: drop the studies with neither modality, copy the ids and labels of the rest, and
 * assign each to a split (the official file, else a seeded patient-level stratification).
 */
import { NUM_LABELS } from '../engine/batch.ts';
import { DataError } from './csv.ts';
import { IMG_CORRUPT, IMG_MISSING_FILE, IMG_OK } from './images.ts';
import type { ImageSet } from './images.ts';
import type { ProblemLog } from './problems.ts';
import { sharedF32, sharedI32, sharedU8 } from './shared.ts';
import { iterativeStratification } from './split.ts';
import type { StudyRec } from './studies.ts';

/** The kept samples: study indices in order, ids, labels, and counts for the report. */
export interface Samples {
  /** Study index of each sample (increasing). */
  keep: number[];
  subjectId: Int32Array;
  studyId: Int32Array;
  /** [n*14] 1, 0, -1, NaN. */
  labels: Float32Array;
  droppedNoModality: number;
  imageMissingReasons: { noFrontal: number; missingFile: number; corrupt: number };
  studiesWithoutLabels: number;
  allBlankLabels: number;
}

/** Keep the studies with an image or a tabular value; copy their ids and labels. */
export function keepSamples(recs: StudyRec[], images: ImageSet, rel: string[], anyTable: Uint8Array): Samples {
  const N = recs.length;
  const keep: number[] = [];
  for (let i = 0; i < N; i++) if (images.status[i] === IMG_OK || anyTable[i]) keep.push(i);
  const n = keep.length;
  const reasons = { noFrontal: 0, missingFile: 0, corrupt: 0 };
  for (const i of keep) {
    const st = images.status[i];
    if (st === IMG_OK) continue;
    if (!rel[i]) reasons.noFrontal++;
    else if (st === IMG_MISSING_FILE) reasons.missingFile++;
    else if (st === IMG_CORRUPT) reasons.corrupt++;
  }
  const labels = sharedF32(n * NUM_LABELS);
  const subjectId = sharedI32(n), studyId = sharedI32(n);
  let studiesWithoutLabels = 0, allBlankLabels = 0;
  keep.forEach((i, s) => {
    const r = recs[i];
    subjectId[s] = r.subject;
    studyId[s] = r.study;
    if (!r.labels) studiesWithoutLabels++;
    const lab = r.labels;
    let blank = true;
    for (let k = 0; k < NUM_LABELS; k++) {
      const v = lab ? lab[k] : NaN;
      labels[s * NUM_LABELS + k] = v;
      if (!Number.isNaN(v)) blank = false;
    }
    if (blank) allBlankLabels++;
  });
  return { keep, subjectId, studyId, labels, droppedNoModality: N - n, imageMissingReasons: reasons, studiesWithoutLabels, allBlankLabels };
}

/**
 * Each sample's split: from the official split file (a study missing from it goes to train, listed as a
 * problem), else iterative stratification by patient on the positive labels with `seed`.
 */
export function assignSplit(recs: StudyRec[], s: Samples, official: { file: string; map: Map<number, number> } | undefined, seed: number, problems: ProblemLog): Uint8Array {
  const n = s.keep.length;
  const split = sharedU8(n);
  if (official) {
    let missing = 0;
    s.keep.forEach((i, k) => {
      const v = official.map.get(recs[i].study);
      if (v === undefined) missing++;
      split[k] = v ?? 0;
    });
    if (missing) problems.add(official.file, 0, `${missing} studies are not in the split file: put in train`);
  } else {
    const pos = new Uint8Array(n * NUM_LABELS);
    for (let k = 0; k < n * NUM_LABELS; k++) pos[k] = s.labels[k] === 1 ? 1 : 0;
    split.set(iterativeStratification(s.subjectId, pos, NUM_LABELS, seed));
  }
  return split;
}

/**
 * Stop when the training split holds no observed (1 or 0) label: training would run with loss 0 and report
 * success. Uncertain (-1) labels do not count, since evaluation scores certain labels only.
 */
export function requireTrainingLabels(labels: Float32Array, split: Uint8Array, labelFile: string): void {
  let train = 0;
  for (let s = 0; s < split.length; s++) {
    if (split[s] !== 0) continue;
    train++;
    for (let k = 0; k < NUM_LABELS; k++) {
      const v = labels[s * NUM_LABELS + k];
      if (v === 1 || v === 0) return;
    }
  }
  throw new DataError(labelFile, 0, `no observed label (1 or 0) in the training split (${train} samples): nothing to learn from`);
}
