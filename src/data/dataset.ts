/**
 * Preparing a data set in the MIMIC-CXR-JPG + MIMIC-IV layout for training: the readers, the study-stay
 * join, the feature table, the image cache, the splits and the training-split normalization, into one
 * PreparedDataset whose large arrays live on SharedArrayBuffers (a worker pool shares them without copies).
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { LABEL_NAMES, NUM_LABELS } from '../engine/batch.ts';
import { DataError, findCsv, parseStudyDateTime, parseTimestamp, readCsv } from './csv.ts';
import { categoricalValue, numericValue, ParseStatus } from './features.ts';
import { resolveFeatureSpec } from './feature-spec-file.ts';
import type { CategoricalFeature, FeatureDef, FeatureSpec, NumericFeature } from './features.ts';
import { IMG_CORRUPT, IMG_MISSING_FILE, IMG_OK, loadImages } from './images.ts';
import type { ImageSet } from './images.ts';
import type { DecodeLimits } from './jpeg.ts';
import { MAX_LISTED_PROBLEMS } from './report.ts';
import type { DataReport, FeatureReport, LabelReport, Problem } from './report.ts';
import { iterativeStratification, SPLIT_NAMES } from './split.ts';

// makeBatch lives in batch.ts (no Node.js imports, so the edge bundle can use it); re-exported here.
export { makeBatch } from './batch.ts';

/** Options of loadDataset. */
export interface LoadOptions {
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
  onProgress?: (done: number, total: number, phase: string) => void;
}

/** A prepared data set: one sample per study; arrays indexed by sample. */
export interface PreparedDataset {
  S: number;
  n: number;
  labelNames: string[];
  /** [n] 0 train, 1 validate, 2 test. */
  split: Uint8Array;
  subjectId: Int32Array;
  studyId: Int32Array;
  /** [n*S*S] grayscale 0..255 (0 where no image). */
  pixels: Uint8Array;
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
}

const HOUR = 3600_000;

function sharedF32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * n));
}
function sharedU8(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}
function sharedI32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

function parseId(s: string, file: string, line: number, col: string): number {
  const t = s.trim();
  const m = /^(\d+)(?:\.0*)?$/.exec(t);
  if (!m || +m[1] > 0x7fffffff) throw new DataError(file, line, `${col} '${s}' is not an integer id`);
  return +m[1];
}

function parseLabel(s: string, file: string, line: number, name: string): number {
  const t = s.trim();
  if (t === '') return NaN;
  const v = Number(t);
  if (v === 1 || v === 0 || v === -1) return v;
  throw new DataError(file, line, `label '${name}' is '${s}', outside {1, 0, -1, blank}`);
}

/** View preference: PA before AP before other frontal views; laterals and unknown views last. */
function viewRank(view: string): number {
  const v = view.trim().toUpperCase();
  if (v === 'PA') return 0;
  if (v === 'AP') return 1;
  if (/\b(AP|PA)\b/.test(v)) return 2;
  if (v === '') return 20;
  return 10; // LATERAL, LL, RL, ...
}

interface StudyRec {
  subject: number;
  study: number;
  time: number;
  dicom: string;
  rank: number;
  labels?: Float32Array;
  stay: number; // index into stays, -1 none
}

interface Stay {
  stayId: number;
  tin: number;
  tout: number;
  values: string[]; // the spec's edstays columns
}

/** Read, join, decode, split and normalize a data set (see LoadOptions). */
export async function loadDataset(dir: string, opts: LoadOptions): Promise<PreparedDataset> {
  const S = opts.imageSize;
  if (!(Number.isInteger(S) && S >= 4)) throw new Error(`imageSize must be an integer >= 4 (got ${S})`);
  const root = resolve(dir);
  const cxrDir = join(root, 'mimic-cxr-jpg');
  const ivDir = join(root, 'mimic-iv');
  const spec = resolveFeatureSpec(opts.featureSpec);
  const problems: Problem[] = [];
  let problemsNotListed = 0;
  const problem = (file: string, line: number, message: string) => {
    if (problems.length < MAX_LISTED_PROBLEMS) problems.push({ file, line, message });
    else problemsNotListed++;
  };
  const progress = opts.onProgress ?? (() => {});

  // --- MIMIC-CXR metadata: one image per study ----------------------------------------------------------
  const metaFile = findCsv(join(cxrDir, 'mimic-cxr-2.0.0-metadata'));
  if (!metaFile) throw new DataError(join(cxrDir, 'mimic-cxr-2.0.0-metadata.csv[.gz]'), 0, 'file not found');
  const studies = new Map<number, StudyRec>();
  const dicoms = new Set<string>();
  const allowLateral = opts.allowLateral ?? false;
  progress(0, 1, 'metadata');
  await readCsv(metaFile, ['dicom_id', 'subject_id', 'study_id', 'ViewPosition', 'StudyDate', 'StudyTime'], (h) => {
    const iD = h.idx('dicom_id'), iSu = h.idx('subject_id'), iSt = h.idx('study_id'), iV = h.idx('ViewPosition');
    const iDate = h.idx('StudyDate'), iTime = h.idx('StudyTime');
    return (f, line) => {
      const dicom = f[iD].trim();
      if (!/^[A-Za-z0-9._-]+$/.test(dicom)) throw new DataError(metaFile, line, `dicom_id '${f[iD]}' is not a file name`);
      if (dicoms.has(dicom)) throw new DataError(metaFile, line, `duplicate dicom_id ${dicom}`);
      dicoms.add(dicom);
      const subject = parseId(f[iSu], metaFile, line, 'subject_id');
      const study = parseId(f[iSt], metaFile, line, 'study_id');
      const time = parseStudyDateTime(f[iDate], f[iTime]);
      let rec = studies.get(study);
      if (!rec) {
        if (Number.isNaN(time)) problem(metaFile, line, `StudyDate/StudyTime '${f[iDate]}' '${f[iTime]}' do not parse: the study cannot be paired with an ED stay`);
        rec = { subject, study, time, dicom: '', rank: 99, stay: -1 };
        studies.set(study, rec);
      } else if (rec.subject !== subject) {
        throw new DataError(metaFile, line, `study ${study} belongs to subjects ${rec.subject} and ${subject}`);
      }
      const rank = viewRank(f[iV]);
      if (rank >= 10 && !allowLateral) return;
      if (rank < rec.rank || (rank === rec.rank && dicom < rec.dicom)) {
        rec.rank = rank;
        rec.dicom = dicom;
      }
    };
  });

  // --- labels, matched by column name -------------------------------------------------------------------
  const labelSource = opts.labelSource ?? 'chexpert';
  const labelFile = findCsv(join(cxrDir, `mimic-cxr-2.0.0-${labelSource}`));
  if (!labelFile) throw new DataError(join(cxrDir, `mimic-cxr-2.0.0-${labelSource}.csv[.gz]`), 0, 'file not found');
  let labelsWithoutStudy = 0;
  const labelSeen = new Set<number>();
  progress(0, 1, 'labels');
  await readCsv(labelFile, ['subject_id', 'study_id', ...LABEL_NAMES], (h) => {
    const iSu = h.idx('subject_id'), iSt = h.idx('study_id');
    const cols = LABEL_NAMES.map((n) => h.idx(n));
    return (f, line) => {
      const study = parseId(f[iSt], labelFile, line, 'study_id');
      const subject = parseId(f[iSu], labelFile, line, 'subject_id');
      if (labelSeen.has(study)) throw new DataError(labelFile, line, `duplicate study ${study}`);
      labelSeen.add(study);
      const lab = new Float32Array(NUM_LABELS);
      for (let k = 0; k < NUM_LABELS; k++) lab[k] = parseLabel(f[cols[k]], labelFile, line, LABEL_NAMES[k]);
      const rec = studies.get(study);
      if (!rec) {
        labelsWithoutStudy++;
        return;
      }
      if (rec.subject !== subject) throw new DataError(labelFile, line, `study ${study} has subject ${subject} here and ${rec.subject} in the metadata`);
      rec.labels = lab;
    };
  });

  const recs = [...studies.values()].sort((a, b) => a.subject - b.subject || a.study - b.study);
  const N = recs.length;
  const bySubject = new Map<number, number[]>();
  recs.forEach((r, i) => {
    const a = bySubject.get(r.subject);
    if (a) a.push(i);
    else bySubject.set(r.subject, [i]);
  });

  // --- official split -----------------------------------------------------------------------------------
  const splitFile = findCsv(join(cxrDir, 'mimic-cxr-2.0.0-split'));
  let officialSplit: Map<number, number> | undefined;
  if (splitFile) {
    officialSplit = new Map();
    const m = officialSplit;
    await readCsv(splitFile, ['study_id', 'split'], (h) => {
      const iSt = h.idx('study_id'), iSp = h.idx('split');
      return (f, line) => {
        const study = parseId(f[iSt], splitFile, line, 'study_id');
        const s = SPLIT_NAMES.indexOf(f[iSp].trim().toLowerCase() as (typeof SPLIT_NAMES)[number]);
        if (s < 0) throw new DataError(splitFile, line, `split '${f[iSp]}' is not one of ${SPLIT_NAMES.join(', ')}`);
        const prev = m.get(study);
        if (prev !== undefined && prev !== s) throw new DataError(splitFile, line, `study ${study} is in two splits`);
        m.set(study, s);
      };
    });
  }

  // --- features: which tables are needed and present ----------------------------------------------------
  const featuresLeftOut: string[] = [];
  const files = {
    patients: findCsv(join(ivDir, 'hosp', 'patients')),
    edstays: findCsv(join(ivDir, 'ed', 'edstays')),
    triage: findCsv(join(ivDir, 'ed', 'triage')),
    labevents: findCsv(join(ivDir, 'hosp', 'labevents')),
  };
  const avail = (f: FeatureDef): boolean => {
    if (f.source === 'derived') return !!files.patients;
    if (f.source === 'triage') return !!files.triage && !!files.edstays;
    return !!files[f.source];
  };
  const feats = spec.features.filter((f) => {
    if (avail(f)) return true;
    featuresLeftOut.push(f.name);
    return false;
  });
  const numFeats = feats.filter((f): f is NumericFeature => f.kind === 'numeric');
  const catFeats = feats.filter((f): f is CategoricalFeature => f.kind === 'categorical');
  const ordered: FeatureDef[] = [...numFeats, ...catFeats];
  const colsOf = (src: string) => [...new Set(ordered.filter((f) => f.source === src).map((f) => f.column!))];
  const F = ordered.length;
  const raw: (string | number | undefined)[][] = Array.from({ length: F }, () => new Array(N));

  // patients: demographics and the anchor for age
  const needAge = ordered.some((f) => f.source === 'derived');
  if (files.patients && (needAge || colsOf('patients').length)) {
    const pf = files.patients;
    const pcols = colsOf('patients');
    const seen = new Set<number>();
    progress(0, 1, 'patients');
    await readCsv(pf, ['subject_id', ...pcols, ...(needAge ? ['anchor_age', 'anchor_year'] : [])], (h) => {
      const iSu = h.idx('subject_id'), iAge = h.idx('anchor_age'), iYear = h.idx('anchor_year');
      const fIdx = ordered.map((f) => (f.source === 'patients' ? h.idx(f.column!) : -1));
      return (f, line) => {
        const subject = parseId(f[iSu], pf, line, 'subject_id');
        if (seen.has(subject)) throw new DataError(pf, line, `duplicate subject ${subject}`);
        seen.add(subject);
        const idx = bySubject.get(subject);
        if (!idx) return;
        for (const i of idx) {
          for (let j = 0; j < F; j++) {
            if (fIdx[j] >= 0) raw[j][i] = f[fIdx[j]];
            else if (ordered[j].source === 'derived') {
              const age = Number(f[iAge]), year = Number(f[iYear]);
              if (f[iAge].trim() === '' || !Number.isFinite(age)) raw[j][i] = f[iAge];
              else {
                const t = recs[i].time;
                raw[j][i] = Number.isNaN(t) || !Number.isFinite(year) || f[iYear].trim() === '' ? age : age + (new Date(t).getUTCFullYear() - year);
              }
            }
          }
        }
      };
    });
  }

  // ED stays: the stay whose [intime - w, outtime + w] holds the study time
  const stays: Stay[] = [];
  let matchedStays = 0;
  if (files.edstays) {
    const ef = files.edstays;
    const ecols = colsOf('edstays');
    const staysBySubject = new Map<number, number[]>();
    progress(0, 1, 'edstays');
    await readCsv(ef, ['subject_id', 'stay_id', 'intime', 'outtime', ...ecols], (h) => {
      const iSu = h.idx('subject_id'), iSt = h.idx('stay_id'), iIn = h.idx('intime'), iOut = h.idx('outtime');
      const cIdx = ecols.map((c) => h.idx(c));
      return (f, line) => {
        const subject = parseId(f[iSu], ef, line, 'subject_id');
        if (!bySubject.has(subject)) return;
        const tin = parseTimestamp(f[iIn]), tout = parseTimestamp(f[iOut]);
        if (Number.isNaN(tin) || Number.isNaN(tout)) {
          problem(ef, line, `intime/outtime '${f[iIn]}' '${f[iOut]}' do not parse: stay skipped`);
          return;
        }
        const k = stays.length;
        stays.push({ stayId: parseId(f[iSt], ef, line, 'stay_id'), tin, tout, values: cIdx.map((c) => f[c]) });
        const a = staysBySubject.get(subject);
        if (a) a.push(k);
        else staysBySubject.set(subject, [k]);
      };
    });
    const w = (opts.windowHours ?? 0) * HOUR;
    for (const r of recs) {
      const cand = staysBySubject.get(r.subject);
      if (!cand || Number.isNaN(r.time)) continue;
      let best = -1, bestD = Infinity;
      for (const k of cand) {
        const s = stays[k];
        if (r.time < s.tin - w || r.time > s.tout + w) continue;
        const d = r.time < s.tin ? s.tin - r.time : r.time > s.tout ? r.time - s.tout : 0;
        if (d < bestD || (d === bestD && s.tin > stays[best].tin)) {
          best = k;
          bestD = d;
        }
      }
      r.stay = best;
      if (best >= 0) matchedStays++;
    }
    recs.forEach((r, i) => {
      if (r.stay < 0) return;
      ordered.forEach((f, j) => {
        if (f.source === 'edstays') raw[j][i] = stays[r.stay].values[ecols.indexOf(f.column!)];
      });
    });
  }

  // triage of the matched stays
  if (files.triage && files.edstays && colsOf('triage').length) {
    const tf = files.triage;
    const tcols = colsOf('triage');
    const wanted = new Map<number, number[]>(); // stay_id -> sample indices
    recs.forEach((r, i) => {
      if (r.stay < 0) return;
      const id = stays[r.stay].stayId;
      const a = wanted.get(id);
      if (a) a.push(i);
      else wanted.set(id, [i]);
    });
    const seen = new Set<number>();
    progress(0, 1, 'triage');
    await readCsv(tf, ['stay_id', ...tcols], (h) => {
      const iSt = h.idx('stay_id');
      const fIdx = ordered.map((f) => (f.source === 'triage' ? h.idx(f.column!) : -1));
      return (f, line) => {
        const id = parseId(f[iSt], tf, line, 'stay_id');
        if (seen.has(id)) throw new DataError(tf, line, `duplicate stay ${id}`);
        seen.add(id);
        const idx = wanted.get(id);
        if (!idx) return;
        for (const i of idx) for (let j = 0; j < F; j++) if (fIdx[j] >= 0) raw[j][i] = f[fIdx[j]];
      };
    });
  }

  // labs: joined on subject and time (not hadm_id), the closest value inside each lab's window
  const labJ = ordered.map((f, j) => (f.source === 'labevents' ? j : -1)).filter((j) => j >= 0);
  if (files.labevents && labJ.length) {
    const lf = files.labevents;
    const byItem = new Map<number, number[]>();
    for (const j of labJ) {
      const it = (ordered[j] as NumericFeature).itemid!;
      const a = byItem.get(it);
      if (a) a.push(j);
      else byItem.set(it, [j]);
    }
    const valueCols = [...new Set(labJ.map((j) => ordered[j].column ?? 'valuenum'))];
    const bestDt = new Float64Array(F * N).fill(Infinity);
    let rows = 0;
    progress(0, 1, 'labevents');
    await readCsv(lf, ['subject_id', 'itemid', 'charttime', ...valueCols], (h) => {
      const iSu = h.idx('subject_id'), iIt = h.idx('itemid'), iCt = h.idx('charttime');
      const vIdx = ordered.map((f) => h.idx(f.column ?? 'valuenum'));
      return (f, line) => {
        if ((++rows & 0xfffff) === 0) progress(rows, 0, 'labevents');
        const js = byItem.get(Number(f[iIt]));
        if (!js) return;
        const idx = bySubject.get(Number(f[iSu]));
        if (!idx) return;
        const ct = parseTimestamp(f[iCt]);
        if (Number.isNaN(ct)) {
          problem(lf, line, `charttime '${f[iCt]}' does not parse: row skipped`);
          return;
        }
        for (const i of idx) {
          const t = recs[i].time;
          if (Number.isNaN(t)) continue;
          const dt = ct - t;
          for (const j of js) {
            const [before, after] = (ordered[j] as NumericFeature).windowHours ?? [24, 12];
            if (dt < -before * HOUR || dt > after * HOUR) continue;
            const ad = Math.abs(dt);
            if (ad < bestDt[j * N + i]) {
              bestDt[j * N + i] = ad;
              raw[j][i] = f[vIdx[j]];
            }
          }
        }
      };
    });
  }

  // --- feature values and their problems ----------------------------------------------------------------
  const Fn = numFeats.length, Fc = catFeats.length;
  const numRaw = new Float64Array(N * Fn).fill(NaN);
  const catRaw: string[] = new Array(N * Fc).fill('');
  const freports: FeatureReport[] = ordered.map((f) => ({ name: f.name, kind: f.kind, unit: f.kind === 'numeric' ? f.unit : undefined, present: 0, missing: 0, unparsed: 0, dropped: 0, clipped: 0, unseen: 0 }));
  const anyTable = new Uint8Array(N);
  const needStay = (spec.tableRequiresStay ?? true) && !!files.edstays;
  for (let j = 0; j < F; j++) {
    const f = ordered[j], fr = freports[j];
    for (let i = 0; i < N; i++) {
      if (needStay && recs[i].stay < 0) continue;
      const r = raw[j][i];
      if (r === undefined) continue;
      if (f.kind === 'numeric') {
        if (typeof r === 'string' && r.trim() === '') continue;
        const [v, st] = numericValue(f, r);
        if (st === ParseStatus.Unparsed) fr.unparsed++;
        else if (st === ParseStatus.Dropped) fr.dropped++;
        else if (st === ParseStatus.Clipped) fr.clipped++;
        if (!Number.isNaN(v)) {
          numRaw[i * Fn + j] = v;
          anyTable[i] = 1;
        }
      } else {
        const c = categoricalValue(f, String(r));
        if (c) {
          catRaw[i * Fc + (j - Fn)] = c;
          anyTable[i] = 1;
        }
      }
    }
  }

  // --- images ---------------------------------------------------------------------------------------------
  const rel = recs.map((r) => (r.dicom ? `files/p${String(r.subject).slice(0, 2)}/p${r.subject}/s${r.study}/${r.dicom}.jpg` : ''));
  const images: ImageSet = await loadImages(cxrDir, rel, {
    S,
    cacheDir: opts.cacheDir ? resolve(opts.cacheDir) : root,
    threads: opts.threads ?? availableParallelism(),
    limits: opts.decodeLimits,
    onProgress: progress,
  });
  for (let i = 0; i < N; i++) {
    if (images.status[i] !== IMG_OK && rel[i]) {
      const msg = `${images.messages[i] || 'unreadable'} (study ${recs[i].study}): the study has no image`;
      if (opts.strict) throw new DataError(join(cxrDir, rel[i]), 0, msg);
      problem(join(cxrDir, rel[i]), 0, msg);
    }
  }

  // --- samples: drop studies with neither modality ------------------------------------------------------
  const keep: number[] = [];
  for (let i = 0; i < N; i++) if (images.status[i] === IMG_OK || anyTable[i]) keep.push(i);
  const n = keep.length;
  const droppedNoModality = N - n;
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

  // --- splits ---------------------------------------------------------------------------------------------
  const split = sharedU8(n);
  let splitSource: 'official' | 'stratified';
  if (officialSplit) {
    splitSource = 'official';
    let missing = 0;
    keep.forEach((i, s) => {
      const v = officialSplit!.get(recs[i].study);
      if (v === undefined) missing++;
      split[s] = v ?? 0;
    });
    if (missing) problem(splitFile!, 0, `${missing} studies are not in the split file: put in train`);
  } else {
    splitSource = 'stratified';
    const pos = new Uint8Array(n * NUM_LABELS);
    for (let k = 0; k < n * NUM_LABELS; k++) pos[k] = labels[k] === 1 ? 1 : 0;
    split.set(iterativeStratification(subjectId, pos, NUM_LABELS, opts.seed ?? 0));
  }

  // --- normalization from the training split --------------------------------------------------------------
  const num = sharedF32(n * Fn), numPresent = sharedU8(n * Fn);
  const cat = sharedI32(n * Fc), catPresent = sharedU8(n * Fc);
  const numericSchema = numFeats.map((f, j) => {
    let c = 0, s1 = 0, s2 = 0;
    keep.forEach((i, s) => {
      const v = numRaw[i * Fn + j];
      if (split[s] !== 0 || Number.isNaN(v)) return;
      c++;
      s1 += v;
      s2 += v * v;
    });
    const mean = c ? s1 / c : 0;
    const sd = c > 1 ? Math.sqrt(Math.max(0, s2 / c - mean * mean)) : 0;
    return { name: f.name, mean, std: sd > 1e-8 ? sd : 1, unit: f.unit };
  });
  keep.forEach((i, s) => {
    for (let j = 0; j < Fn; j++) {
      const v = numRaw[i * Fn + j];
      if (Number.isNaN(v)) continue;
      num[s * Fn + j] = (v - numericSchema[j].mean) / numericSchema[j].std;
      numPresent[s * Fn + j] = 1;
    }
  });
  const categoricalSchema = catFeats.map((f, c) => {
    const counts = new Map<string, number>();
    keep.forEach((i, s) => {
      const v = catRaw[i * Fc + c];
      if (split[s] === 0 && v) counts.set(v, (counts.get(v) ?? 0) + 1);
    });
    const minCount = f.minCount ?? 1;
    const vocab = [...counts].filter(([, k]) => k >= minCount).map(([v]) => v).sort();
    return { name: f.name, vocab };
  });
  for (let c = 0; c < Fc; c++) {
    const code = new Map(categoricalSchema[c].vocab.map((v, k) => [v, k]));
    keep.forEach((i, s) => {
      const v = catRaw[i * Fc + c];
      if (!v) return;
      const k = code.get(v);
      if (k === undefined) {
        freports[Fn + c].unseen++;
        return;
      }
      cat[s * Fc + c] = k;
      catPresent[s * Fc + c] = 1;
    });
  }

  // pixels of the kept samples (compacted in place: keep is increasing) and their statistics
  const SS = S * S;
  const pixAll = images.pixels;
  const hasImage = sharedU8(n);
  let pc = 0, p1 = 0, p2 = 0;
  keep.forEach((i, s) => {
    if (images.status[i] !== IMG_OK) {
      pixAll.fill(0, s * SS, (s + 1) * SS);
      return;
    }
    hasImage[s] = 1;
    if (i !== s) pixAll.copyWithin(s * SS, i * SS, (i + 1) * SS);
    if (split[s] === 0) {
      let a = 0, b = 0;
      for (let k = s * SS; k < (s + 1) * SS; k++) {
        const v = pixAll[k];
        a += v;
        b += v * v;
      }
      pc += SS;
      p1 += a;
      p2 += b;
    }
  });
  const pixels = new Uint8Array(pixAll.buffer, pixAll.byteOffset, n * SS);
  const pixelMean = pc ? p1 / pc / 255 : 0.5;
  const pixelVar = pc ? p2 / pc / (255 * 255) - pixelMean * pixelMean : 0;
  const pixelStd = pixelVar > 1e-12 ? Math.sqrt(pixelVar) : 1;

  // --- report ---------------------------------------------------------------------------------------------
  let imageMissing = 0, tableMissing = 0;
  const splits = { train: 0, validate: 0, test: 0 };
  for (let s = 0; s < n; s++) {
    if (!hasImage[s]) imageMissing++;
    let any = 0;
    for (let j = 0; j < Fn; j++) any |= numPresent[s * Fn + j];
    for (let c = 0; c < Fc; c++) any |= catPresent[s * Fc + c];
    if (!any) tableMissing++;
    splits[SPLIT_NAMES[split[s]]]++;
  }
  for (let j = 0; j < Fn; j++) {
    let p = 0;
    for (let s = 0; s < n; s++) p += numPresent[s * Fn + j];
    freports[j].present = p;
    freports[j].missing = n - p;
  }
  for (let c = 0; c < Fc; c++) {
    let p = 0;
    for (let s = 0; s < n; s++) p += catPresent[s * Fc + c];
    freports[Fn + c].present = p;
    freports[Fn + c].missing = n - p;
  }
  const lreports: LabelReport[] = LABEL_NAMES.map((name, k) => {
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
  const report: DataReport = {
    dir: root, labelSource: labelFile, splitSource, samples: n, splits, patients: new Set(subjectId).size,
    imageMissing, imageMissingReasons: reasons, tableMissing, matchedStays, droppedNoModality, labelsWithoutStudy,
    studiesWithoutLabels, allBlankLabels, featuresLeftOut, features: freports, labels: lreports,
    cache: { file: images.cacheFile, hit: images.hit, rebuiltReason: images.rebuiltReason }, problems, problemsNotListed,
  };
  return {
    S, n, labelNames: [...LABEL_NAMES], split, subjectId, studyId, pixels, hasImage, num, numPresent, cat, catPresent, labels,
    schema: { numeric: numericSchema, categorical: categoricalSchema }, pixelMean, pixelStd, report,
  };
}

/** Prepare a data set (images at `imageSize`, default 64, through the cache) and return its report. */
export async function inspectDataset(dir: string, opts: Partial<LoadOptions> = {}): Promise<DataReport> {
  const ds = await loadDataset(dir, { imageSize: 64, ...opts });
  return ds.report;
}
