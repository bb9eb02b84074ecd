/**
 * Preparing a data set in the MIMIC-CXR-JPG + MIMIC-IV layout for training: locate the sources, read each
 * table (readers/), join studies to ED stays and labs, pass the images through the cache, split, and
 * normalize with the training split, into one PreparedDataset whose large arrays live on SharedArrayBuffers
 * (a worker pool shares them without copies).
 */
import { join } from 'node:path';
import { LABEL_NAMES } from '../engine/batch.ts';
import { DataError, findCsv } from './csv.ts';
import type { CsvLimits } from './csv.ts';
import { resolveFeatureSpec } from './feature-spec-file.ts';
import type { FeatureSpec } from './features.ts';
import { imagePass } from './image-pass.ts';
import type { DecodeLimits } from './jpeg.ts';
import { keepPixels } from './images.ts';
import type { ImageOptions } from './images.ts';
import type { DecoderName } from './decoders.ts';
import { locateSources } from './layout.ts';
import type { DataLayout, LayoutOptions } from './layout.ts';
import { normalizeFeatures } from './normalize.ts';
import type { PreparedDataset } from './prepared.ts';
import { ProblemLog } from './problems.ts';
import type { Progress } from './problems.ts';
import { readCxrLabels } from './readers/cxr-labels.ts';
import { readCxrMetadata } from './readers/cxr-metadata.ts';
import { readOfficialSplit } from './readers/cxr-split.ts';
import { readEdStays } from './readers/edstays.ts';
import type { Stay } from './readers/edstays.ts';
import { readLabevents } from './readers/labevents.ts';
import { readPatients } from './readers/patients.ts';
import { readAdmissions, readPatientDemographics } from './readers/admissions.ts';
import { readTriage } from './readers/triage.ts';
import type { DataReport } from './report.ts';
import { assignSplit, keepSamples, requireTrainingLabels } from './samples.ts';
import { cohortOf } from './studies.ts';
import type { Cohort } from './studies.ts';
import { buildReport } from './summary.ts';
import { featureTable, featureValues } from './table.ts';
import type { FeatureTable } from './table.ts';

export type { PreparedDataset } from './prepared.ts';

/** Options of loadDataset. */
export interface LoadOptions extends LayoutOptions {
  /** Image side S. */
  imageSize: number;
  /** Folder of the image cache (default: the data set folder). */
  cacheDir?: string;
  /** An unreadable or missing image is an error instead of a missing image. */
  strict?: boolean;
  /** Label file: mimic-cxr-2.0.0-chexpert (default) or -negbio. */
  labelSource?: 'chexpert' | 'negbio';
  /** Use a lateral view when a study has no frontal one (default false: such a study has no image). */
  allowLateral?: boolean;
  /** Widen the ED stay window by this many hours on each side (default 0: strict intime-outtime). */
  windowHours?: number;
  /** Feature spec object or JSON file path (default DEFAULT_FEATURE_SPEC). */
  featureSpec?: FeatureSpec | string;
  /** Seed of the stratified split (used only without the official split file). */
  seed?: number;
  /** Image decoding threads (default: all cores; 1 decodes inline). */
  threads?: number;
  /** JPEG decoder limits. */
  decodeLimits?: DecodeLimits;
  /** Image decoder: 'sharp' (default under Node) or 'jpeg-js' (docs/data.md). */
  decoder?: DecoderName;
  /** Image store settings (memoryLimit, chunkBytes, log; src/data/images.ts ImageOptions). */
  images?: Partial<Pick<ImageOptions, 'memoryLimit' | 'chunkBytes' | 'log' | 'stopAfterChunks' | 'failWriteAtChunk'>>;
  /** Caps on one CSV line and record (default DEFAULT_CSV_LIMITS). */
  csvLimits?: Partial<CsvLimits>;
  /** A training split without any observed label is accepted (default false: an error naming the label file). */
  allowUnlabeled?: boolean;
  onProgress?: Progress;
}

/** The studies with their labels, and where the labels and the official split came from. */
interface StudyTables {
  cohort: Cohort;
  labelFile: string;
  labelsWithoutStudy: number;
  official?: { file: string; map: Map<number, number> };
}

/** The CXR side: metadata (one image per study), labels, and the official split when its file exists. */
async function readStudies(layout: DataLayout, opts: LoadOptions, problems: ProblemLog, progress: Progress): Promise<StudyTables> {
  const cxrDir = layout.cxrDir, lim = opts.csvLimits;
  const metaFile = findCsv(join(cxrDir, 'mimic-cxr-2.0.0-metadata'))!;
  progress(0, 1, 'metadata');
  const studies = await readCxrMetadata(metaFile, opts.allowLateral ?? false, problems, lim);
  const labelSource = opts.labelSource ?? 'chexpert';
  const labelFile = findCsv(join(cxrDir, `mimic-cxr-2.0.0-${labelSource}`));
  if (!labelFile) throw new DataError(join(cxrDir, `mimic-cxr-2.0.0-${labelSource}.csv[.gz]`), 0, 'file not found');
  progress(0, 1, 'labels');
  const labelsWithoutStudy = await readCxrLabels(labelFile, studies, lim);
  const cohort = cohortOf(studies);
  // Checked before the image pass (the long part of a load); requireTrainingLabels checks the split later.
  if (!opts.allowUnlabeled && !cohort.recs.some((r) => r.labels?.some((v) => v === 1 || v === 0))) {
    throw new DataError(labelFile, 0, 'no study of the metadata has an observed label (1 or 0): nothing to learn from');
  }
  const splitFile = findCsv(join(cxrDir, 'mimic-cxr-2.0.0-split'));
  const official = splitFile ? { file: splitFile, map: await readOfficialSplit(splitFile, lim) } : undefined;
  return { cohort, labelFile, labelsWithoutStudy, official };
}

/** The MIMIC-IV side: the feature table filled from patients, ED stays, triage and labevents (those present). */
async function readTables(layout: DataLayout, cohort: Cohort, spec: FeatureSpec, opts: LoadOptions, problems: ProblemLog, progress: Progress): Promise<{ table: FeatureTable; matchedStays: number }> {
  const files = layout.tables, lim = opts.csvLimits;
  const table = featureTable(spec, files, cohort.recs.length);
  if (files.patients) {
    progress(0, 1, 'patients');
    await readPatients(files.patients, cohort, table, lim);
  }
  let stays: Stay[] = [], matchedStays = 0;
  if (files.edstays) {
    progress(0, 1, 'edstays');
    ({ stays, matched: matchedStays } = await readEdStays(files.edstays, cohort, table, opts.windowHours ?? 0, problems, lim));
  }
  if (files.triage && files.edstays) {
    progress(0, 1, 'triage');
    await readTriage(files.triage, cohort, stays, table, lim);
  }
  if (files.labevents) {
    progress(0, 1, 'labevents');
    await readLabevents(files.labevents, cohort, table, problems, progress, lim);
  }
  return { table, matchedStays };
}

/** Read, join, decode, split and normalize a data set (see LoadOptions). */
export async function loadDataset(dir: string, opts: LoadOptions): Promise<PreparedDataset> {
  const S = opts.imageSize;
  if (!(Number.isInteger(S) && S >= 4)) throw new Error(`imageSize must be an integer >= 4 (got ${S})`);
  const layout = locateSources(dir, opts);
  const spec = resolveFeatureSpec(opts.featureSpec);
  const problems = new ProblemLog();
  const progress = opts.onProgress ?? (() => {});

  const { cohort, labelFile, labelsWithoutStudy, official } = await readStudies(layout, opts, problems, progress);
  const { table, matchedStays } = await readTables(layout, cohort, spec, opts, problems, progress);
  const values = featureValues(table, cohort.recs, (spec.tableRequiresStay ?? true) && !!layout.tables.edstays);
  const { images, rel } = await imagePass(layout.cxrDir, layout.root, cohort.recs, opts, problems, progress);

  const samples = keepSamples(cohort.recs, images, rel, values.anyTable);
  const split = assignSplit(cohort.recs, samples, official, opts.seed ?? 0, problems);
  if (!opts.allowUnlabeled) requireTrainingLabels(samples.labels, split, labelFile);
  const { num, numPresent, cat, catPresent, schema } = normalizeFeatures(table.numFeats, table.catFeats, values, samples.keep, split);
  const { pixels, pixelFile, hasImage, pixelMean, pixelStd } = keepPixels(images, samples.keep, split);

  const { subjectId, studyId, labels } = samples;
  const n = samples.keep.length;
  // Subgroup attributes for the evaluation (not model inputs): read only when their tables are there.
  const demographics: NonNullable<PreparedDataset['demographics']> = {};
  const kept = <T>(v: T[]) => samples.keep.map((i) => v[i]);
  if (layout.tables.patients) {
    const d = await readPatientDemographics(layout.tables.patients, cohort, opts.csvLimits);
    demographics.sex = kept(d.sex);
    demographics.age = kept(d.age);
  }
  const admFile = layout.sources.hosp ? findCsv(join(layout.sources.hosp.dir, 'admissions')) : undefined;
  if (admFile) {
    const a = await readAdmissions(admFile, cohort, opts.csvLimits);
    demographics.race = kept(a.race);
    demographics.insurance = kept(a.insurance);
  }
  const report = buildReport({ n, split, subjectId, hasImage, numPresent, catPresent, labels }, {
    root: layout.root, sources: layout.sources, labelFile, splitSource: official ? 'official' : 'stratified', samples, matchedStays,
    labelsWithoutStudy, featuresLeftOut: table.featuresLeftOut, freports: values.freports, images, problems,
    Fn: table.numFeats.length, Fc: table.catFeats.length,
  });
  return {
    S, n, labelNames: [...LABEL_NAMES], split, subjectId, studyId, pixels, ...(pixelFile ? { pixelFile } : {}), hasImage, num, numPresent, cat, catPresent, labels,
    schema, pixelMean, pixelStd, report, ...(Object.keys(demographics).length ? { demographics } : {}),
  };
}

/** Prepare a data set (images at `imageSize`, default 64, through the cache) and return its report. */
export async function inspectDataset(dir: string, opts: Partial<LoadOptions> = {}): Promise<DataReport> {
  const ds = await loadDataset(dir, { imageSize: 64, ...opts });
  return ds.report;
}
