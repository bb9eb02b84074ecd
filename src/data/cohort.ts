/**
 * What a model card says about the data read (src/eval/card.ts): the sources with their versions, the cohort
 * flow (studies read, dropped with reasons, splits; the numbers of `data inspect`), and the per-study facts the
 * characteristics by split are computed from.
 */
import type { PreparedDataset } from './prepared.ts';
import type { DataReport, SourceInfo } from './report.ts';
import { hasTabular } from '../engine/batch.ts';
import type { StudyAttribute } from './demographics.ts';

/** One line per source folder: project, version (from the folder name) and path. */
export function sourceLines(r: DataReport): string[] {
  const one = (what: string, s: SourceInfo | null) => (s ? `${what}: ${s.project} ${s.version ?? '(no version folder)'} (${s.layout}) at \`${s.dir}\`` : `${what}: not found`);
  const out = r.sources ? [one('images and labels', r.sources.cxr), one('hospital tables (hosp)', r.sources.hosp), one('emergency department tables (ed)', r.sources.ed)] : [];
  out.push(`labels: ${r.labelSource}`);
  if (r.featuresLeftOut.length) out.push(`features left out (source table absent): ${r.featuresLeftOut.join(', ')}`);
  return out;
}

/** The cohort flow: studies read -> dropped (with reasons) -> kept -> splits. */
export function cohortFlowLines(r: DataReport): string[] {
  const m = r.imageMissingReasons;
  return [
    `label rows without a study (no image metadata), not kept: ${r.labelsWithoutStudy}`,
    `studies dropped with neither an image nor a table: ${r.droppedNoModality}`,
    `studies kept: ${r.samples} of ${r.patients} patients (${r.studiesWithoutLabels} without a label row kept with blank labels; ${r.allBlankLabels} with all labels blank)`,
    `of these, without an image: ${r.imageMissing} (no frontal view ${m.noFrontal}, file missing ${m.missingFile}, unreadable ${m.corrupt}); without a table: ${r.tableMissing}; matched to an ED stay: ${r.matchedStays}`,
    `splits (${r.splitSource}, by patient): train ${r.splits.train}, validate ${r.splits.validate}, test ${r.splits.test}`,
  ];
}

/** Per-study facts of a whole prepared data set for the characteristics by split (card.ts `characteristics`). */
export function characteristicsFacts(ds: PreparedDataset, attributes: StudyAttribute[]) {
  const Fn = ds.schema.numeric.length, Fc = ds.schema.categorical.length;
  const hasTab = Uint8Array.from({ length: ds.n }, (_, i) => (hasTabular(ds.numPresent, ds.catPresent, i, Fn, Fc) ? 1 : 0));
  return {
    splitNames: ['train', 'validate', 'test'], split: ds.split, patients: ds.subjectId, hasImage: ds.hasImage, hasTab,
    featureNames: [...ds.schema.numeric.map((f) => f.name), ...ds.schema.categorical.map((f) => f.name)],
    present: (i: number, f: number) => (f < Fn ? ds.numPresent[i * Fn + f] === 1 : ds.catPresent[i * Fc + f - Fn] === 1),
    labelNames: ds.labelNames, labels: ds.labels, attributes,
  };
}
