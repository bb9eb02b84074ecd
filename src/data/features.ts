/**
 * The tabular feature set is data, not code: a JSON feature spec lists each feature's source table and
 * column (or lab itemid), its kind, unit conversion and valid range. Valid ranges follow the mimic4ed
 * benchmark (Xie et al., 2022, `vitals_valid_range`): a value beyond the outlier bounds is dropped (missing),
 * a value between an outlier bound and the valid bound is clipped to the valid bound.
 */
/** Tables a feature can come from. `derived` features are computed by the reader (age). */
export type FeatureSource = 'patients' | 'edstays' | 'triage' | 'labevents' | 'derived';

export interface NumericFeature {
  name: string;
  kind: 'numeric';
  source: FeatureSource;
  /** Column in the source table (labevents: the value column, default `valuenum`). */
  column?: string;
  /** labevents only: the lab's itemid (d_labitems). */
  itemid?: number;
  /** labevents only: the window around the study time, hours before and after; the closest value wins. */
  windowHours?: [number, number];
  /** Unit after conversion, for reports. */
  unit?: string;
  /** Conversion applied before the range check. */
  convert?: 'f_to_c';
  /** How text is parsed: `number` (default) or `pain` (ranges become their mean, a leading number is kept). */
  parse?: 'number' | 'pain';
  /** Values are clipped into [lo, hi]. */
  valid?: [number, number];
  /** Values below lo or above hi are dropped (missing). Defaults to `valid`. */
  outlier?: [number, number];
  /** Applied last: `log` (natural log; for skewed labs such as NT-proBNP; values <= 0 are dropped). */
  transform?: 'log';
}

export interface CategoricalFeature {
  name: string;
  kind: 'categorical';
  source: FeatureSource;
  column: string;
  /** Prefix rules applied to the upper-cased value: the first prefix that matches gives the category. */
  groups?: Record<string, string>;
  /** Category for a value no group matches (when groups are given); omitted: keep the value itself. */
  otherGroup?: string;
  /** Upper-cased values that mean "not recorded" (missing). */
  missingValues?: string[];
  /** Categories seen fewer times than this in the training split are treated as missing. */
  minCount?: number;
}

export type FeatureDef = NumericFeature | CategoricalFeature;

/** A feature spec: the ordered feature list (numeric tokens come before categorical ones in the model). */
export interface FeatureSpec {
  version: 1;
  /**
   * The table row of a study is its ED visit (default true): a study that matches no ED stay has no tabular
   * modality at all, demographics and labs included, as in the published MIMIC-CXR / MIMIC-IV-ED pairings.
   * false: demographics and labs fill in wherever they exist.
   */
  tableRequiresStay?: boolean;
  features: FeatureDef[];
}

/**
 * The default feature set: demographics (patients, edstays), triage vitals and acuity (ed/triage), and four
 * labs joined on subject and time (hosp/labevents). Lab features are left out when labevents is absent.
 */
export const DEFAULT_FEATURE_SPEC: FeatureSpec = {
  version: 1,
  tableRequiresStay: true,
  features: [
    { name: 'age', kind: 'numeric', source: 'derived', column: 'age', unit: 'years', valid: [18, 100], outlier: [0, 130] },
    { name: 'temperature', kind: 'numeric', source: 'triage', column: 'temperature', convert: 'f_to_c', unit: 'C', valid: [26, 45], outlier: [14.2, 47] },
    { name: 'heartrate', kind: 'numeric', source: 'triage', column: 'heartrate', unit: 'bpm', valid: [0, 350], outlier: [0, 390] },
    { name: 'resprate', kind: 'numeric', source: 'triage', column: 'resprate', unit: '/min', valid: [0, 300], outlier: [0, 330] },
    { name: 'o2sat', kind: 'numeric', source: 'triage', column: 'o2sat', unit: '%', valid: [0, 100], outlier: [0, 150] },
    { name: 'sbp', kind: 'numeric', source: 'triage', column: 'sbp', unit: 'mmHg', valid: [0, 375], outlier: [0, 375] },
    { name: 'dbp', kind: 'numeric', source: 'triage', column: 'dbp', unit: 'mmHg', valid: [0, 375], outlier: [0, 375] },
    { name: 'pain', kind: 'numeric', source: 'triage', column: 'pain', parse: 'pain', unit: '0-10', valid: [0, 10], outlier: [0, 10] },
    { name: 'acuity', kind: 'numeric', source: 'triage', column: 'acuity', unit: 'ESI', valid: [1, 5], outlier: [1, 5] },
    { name: 'wbc', kind: 'numeric', source: 'labevents', itemid: 51301, windowHours: [24, 12], unit: 'K/uL', valid: [0, 200], outlier: [0, 500] },
    { name: 'lactate', kind: 'numeric', source: 'labevents', itemid: 50813, windowHours: [24, 12], unit: 'mmol/L', valid: [0, 30], outlier: [0, 50] },
    { name: 'ntprobnp', kind: 'numeric', source: 'labevents', itemid: 50963, windowHours: [24, 12], unit: 'ln pg/mL', valid: [5, 70000], outlier: [0, 100000], transform: 'log' },
    { name: 'creatinine', kind: 'numeric', source: 'labevents', itemid: 50912, windowHours: [24, 12], unit: 'mg/dL', valid: [0, 30], outlier: [0, 80] },
    { name: 'gender', kind: 'categorical', source: 'patients', column: 'gender' },
    {
      name: 'arrival_transport', kind: 'categorical', source: 'edstays', column: 'arrival_transport',
      missingValues: ['UNKNOWN', ''],
    },
    {
      name: 'race', kind: 'categorical', source: 'edstays', column: 'race',
      groups: { WHITE: 'WHITE', PORTUGUESE: 'WHITE', BLACK: 'BLACK', HISPANIC: 'HISPANIC', 'SOUTH AMERICAN': 'HISPANIC', ASIAN: 'ASIAN' },
      otherGroup: 'OTHER',
      missingValues: ['UNKNOWN', 'UNABLE TO OBTAIN', 'PATIENT DECLINED TO ANSWER', ''],
    },
  ],
};

/**
 * Check a spec object (from code or parsed JSON); `where` names it in errors. No file I/O here, so the edge
 * bundle can use this module: reading a spec file is resolveFeatureSpec in ./feature-spec-file.ts.
 */
export function checkFeatureSpec(spec: FeatureSpec | undefined, where = 'feature spec'): FeatureSpec {
  if (spec === undefined) return DEFAULT_FEATURE_SPEC;
  const s = spec;
  if (s === null || typeof s !== 'object' || s.version !== 1 || !Array.isArray(s.features)) throw new Error(`${where}: expected {"version": 1, "features": [...]}`);
  const seen = new Set<string>();
  const sources = ['patients', 'edstays', 'triage', 'labevents', 'derived'];
  for (const f of s.features) {
    if (!f.name || seen.has(f.name)) throw new Error(`${where}: feature names must be unique and non-empty (${f.name})`);
    seen.add(f.name);
    if ((f as { kind: string }).kind !== 'numeric' && (f as { kind: string }).kind !== 'categorical') throw new Error(`${where}: ${f.name}: kind must be numeric or categorical`);
    if (!sources.includes(f.source)) throw new Error(`${where}: ${f.name}: unknown source '${f.source}' (${sources.join(', ')})`);
    if (f.source === 'labevents' && (f.kind !== 'numeric' || typeof f.itemid !== 'number')) throw new Error(`${where}: ${f.name}: a lab feature is numeric and needs an itemid`);
    if (f.source === 'derived' && f.column !== 'age') throw new Error(`${where}: ${f.name}: the only derived column is 'age'`);
    if (f.source !== 'labevents' && !f.column) throw new Error(`${where}: ${f.name}: needs a column`);
  }
  return s;
}

/** Outcome of parsing one raw value. */
export const ParseStatus = { Ok: 0, Unparsed: 1, Dropped: 2, Clipped: 3 } as const;
export type ParseStatus = (typeof ParseStatus)[keyof typeof ParseStatus];

/**
 * Parse triage pain text: a number is kept; a range ("4-5") becomes its mean; otherwise a leading number
 * ("10+", "8 /10") is kept; anything else ("uta", "unable", words) is NaN.
 */
export function parsePain(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === '') return NaN;
  const r = /^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)/.exec(t);
  if (r) return (+r[1] + +r[2]) / 2;
  const l = /^(\d+(?:\.\d+)?)/.exec(t);
  return l ? +l[1] : NaN;
}

/**
 * Whether `t` is a decimal number as tables write them: optional sign, digits with an optional fraction (or
 * a fraction alone), optional exponent with digits. Number() also takes `0x1`, `0b11`, `0o7` and
 * `Infinity`; those are text here.
 */
function isDecimal(t: string): boolean {
  const n = t.length;
  let i = 0, digits = 0;
  let c = t.charCodeAt(0);
  if (c === 43 || c === 45) i++; // + -
  while (i < n && (c = t.charCodeAt(i)) >= 48 && c <= 57) i++, digits++;
  if (i < n && t.charCodeAt(i) === 46) {
    i++;
    while (i < n && (c = t.charCodeAt(i)) >= 48 && c <= 57) i++, digits++;
  }
  if (digits === 0) return false;
  if (i < n && ((c = t.charCodeAt(i)) === 101 || c === 69)) {
    i++;
    if (i < n && ((c = t.charCodeAt(i)) === 43 || c === 45)) i++;
    const e0 = i;
    while (i < n && (c = t.charCodeAt(i)) >= 48 && c <= 57) i++;
    if (i === e0) return false;
  }
  return i === n;
}

/** Strict decimal parse: empty, text, hex/binary/octal literals, NaN and Infinity give NaN. */
export function parseNumber(s: string): number {
  const t = s.trim();
  if (!isDecimal(t)) return NaN;
  const v = Number(t);
  return Number.isFinite(v) ? v : NaN;
}

/**
 * A raw numeric value to the feature's unit and range. Returns [value, status]; value is NaN when missing.
 * `raw` is text from a table or an already-numeric value (derived features).
 */
export function numericValue(f: NumericFeature, raw: string | number): [number, ParseStatus] {
  let v = typeof raw === 'number' ? raw : f.parse === 'pain' ? parsePain(raw) : parseNumber(raw);
  if (!Number.isFinite(v)) return [NaN, ParseStatus.Unparsed];
  if (f.convert === 'f_to_c') v = ((v - 32) * 5) / 9;
  const valid = f.valid, out = f.outlier ?? f.valid;
  if (out && (v < out[0] || v > out[1])) return [NaN, ParseStatus.Dropped];
  const tr = (x: number) => (f.transform === 'log' ? (x > 0 ? Math.log(x) : NaN) : x);
  if (valid && (v < valid[0] || v > valid[1])) {
    const c = tr(Math.min(valid[1], Math.max(valid[0], v)));
    return Number.isNaN(c) ? [NaN, ParseStatus.Dropped] : [c, ParseStatus.Clipped];
  }
  v = tr(v);
  return Number.isNaN(v) ? [NaN, ParseStatus.Dropped] : [v, ParseStatus.Ok];
}

/** A raw categorical value to its category ('' = missing). */
export function categoricalValue(f: CategoricalFeature, raw: string): string {
  const v = raw.trim().toUpperCase();
  if ((f.missingValues ?? ['']).includes(v) || v === '') return '';
  if (f.groups) {
    for (const [prefix, g] of Object.entries(f.groups)) if (v.startsWith(prefix)) return g;
    return f.otherGroup ?? v;
  }
  return v;
}
