/** What preparing a data set found: counts, missing rates, label counts and every problem (file and line). */
export interface Problem {
  file: string;
  /** 1-based line, 0 when about a whole file or an image. */
  line: number;
  message: string;
}

export interface FeatureReport {
  name: string;
  kind: 'numeric' | 'categorical';
  unit?: string;
  /** Samples where the value is present after parsing and range checks. */
  present: number;
  /** Missing over all samples (includes samples without the source row). */
  missing: number;
  /** Text that did not parse as a number (e.g. "UTA" in pain). */
  unparsed: number;
  /** Values beyond the outlier bounds, dropped. */
  dropped: number;
  /** Values clipped into the valid range. */
  clipped: number;
  /** Categories unseen (or too rare) in the training split, treated as missing. */
  unseen: number;
}

export interface LabelReport {
  name: string;
  positive: number;
  negative: number;
  uncertain: number;
  blank: number;
}

/** Where one source was read from: its folder, the PhysioNet project it is and the version folder, if any. */
export interface SourceInfo {
  dir: string;
  /** PhysioNet project name: mimic-cxr-jpg, mimiciv (or mimic-iv), mimic-iv-ed. */
  project: string;
  /** The version folder (e.g. 2.1.0), null when the folder has none. */
  version: string | null;
  /** How it was found: a PhysioNet download tree, the flat mimic-cxr-jpg/ + mimic-iv/ layout, or an option. */
  layout: 'physionet' | 'flat' | 'explicit';
}

/** The folders a load read: MIMIC-CXR-JPG always; MIMIC-IV hosp and ED when found (null: absent). */
export interface DataSources {
  cxr: SourceInfo;
  hosp: SourceInfo | null;
  ed: SourceInfo | null;
}

export interface DataReport {
  dir: string;
  /** Which source and version each folder was read from. */
  sources: DataSources;
  labelSource: string;
  splitSource: 'official' | 'stratified';
  samples: number;
  splits: { train: number; validate: number; test: number };
  patients: number;
  /** Samples without an image, and why. */
  imageMissing: number;
  imageMissingReasons: { noFrontal: number; missingFile: number; corrupt: number };
  /** Samples without any tabular feature. */
  tableMissing: number;
  /** Studies whose time fell inside an ED stay of the subject (with the window). */
  matchedStays: number;
  /** Studies dropped because they had neither an image nor a table. */
  droppedNoModality: number;
  /** Studies with labels but no metadata (no image), not kept. */
  labelsWithoutStudy: number;
  /** Studies without a label row (kept with all labels blank). */
  studiesWithoutLabels: number;
  /** Samples whose labels are all blank (kept; they add nothing to the loss). */
  allBlankLabels: number;
  /** Features of the spec left out because their source table is absent. */
  featuresLeftOut: string[];
  features: FeatureReport[];
  labels: LabelReport[];
  /** The image cache file, whether it was read or (re)written, and the decoder whose pixels it holds. */
  cache: { file: string; hit: boolean; rebuiltReason?: string; decoder: string };
  problems: Problem[];
  /** Problems beyond the listed ones (the list is capped). */
  problemsNotListed: number;
}

export const MAX_LISTED_PROBLEMS = 1000;

/** Render a report as text (the `data inspect` command). */
export function formatReport(r: DataReport): string {
  const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-');
  const L: string[] = [];
  L.push(`data set    ${r.dir}`);
  const src = (what: string, s: SourceInfo | null) =>
    s ? `${what.padEnd(12)}${s.project} ${s.version ?? '(no version folder)'}, ${s.layout}: ${s.dir}` : `${what.padEnd(12)}not found`;
  if (r.sources) L.push(src('images', r.sources.cxr), src('hosp', r.sources.hosp), src('ed', r.sources.ed));
  L.push(`samples     ${r.samples} studies of ${r.patients} patients; train ${r.splits.train}, validate ${r.splits.validate}, test ${r.splits.test} (${r.splitSource} split)`);
  L.push(`labels      ${r.labelSource}; ${r.allBlankLabels} studies with all labels blank, ${r.studiesWithoutLabels} without a label row, ${r.labelsWithoutStudy} label rows without a study`);
  const m = r.imageMissingReasons;
  L.push(`image       missing in ${r.imageMissing} (${pct(r.imageMissing, r.samples)}): no frontal view ${m.noFrontal}, file missing ${m.missingFile}, unreadable ${m.corrupt}`);
  L.push(`table       missing in ${r.tableMissing} (${pct(r.tableMissing, r.samples)}); ${r.matchedStays} studies matched an ED stay; ${r.droppedNoModality} studies dropped with neither`);
  L.push(`cache       ${r.cache.file} (${r.cache.hit ? 'read' : `written${r.cache.rebuiltReason ? `: ${r.cache.rebuiltReason}` : ''}`}; decoder ${r.cache.decoder})`);
  if (r.featuresLeftOut.length) L.push(`left out    ${r.featuresLeftOut.join(', ')} (source table absent)`);
  L.push('');
  L.push(`${'feature'.padEnd(20)}${'kind'.padEnd(13)}${'missing'.padStart(9)}${'unparsed'.padStart(10)}${'dropped'.padStart(9)}${'clipped'.padStart(9)}${'unseen'.padStart(8)}`);
  for (const f of r.features) {
    L.push(`${f.name.padEnd(20)}${f.kind.padEnd(13)}${pct(f.missing, r.samples).padStart(9)}${String(f.unparsed).padStart(10)}${String(f.dropped).padStart(9)}${String(f.clipped).padStart(9)}${String(f.unseen).padStart(8)}`);
  }
  L.push('');
  L.push(`${'label'.padEnd(28)}${'positive'.padStart(9)}${'negative'.padStart(9)}${'uncertain'.padStart(10)}${'blank'.padStart(8)}`);
  for (const l of r.labels) L.push(`${l.name.padEnd(28)}${String(l.positive).padStart(9)}${String(l.negative).padStart(9)}${String(l.uncertain).padStart(10)}${String(l.blank).padStart(8)}`);
  L.push('');
  const np = r.problems.length + r.problemsNotListed;
  L.push(`problems    ${np}${r.problemsNotListed ? ` (first ${r.problems.length} listed)` : ''}`);
  for (const p of r.problems) L.push(`  ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);
  return L.join('\n');
}
