/**
 * The evaluation of one split, shared by `npm run evaluate` and the trainer's test (src/train/evaluation.ts):
 * discrimination with patient-level bootstrap CIs, calibration (before and after temperature scaling),
 * performance by the availability pattern the data came with and by quartiles of the table features present,
 * and subgroups (sex, age band, race, insurance, sex x race) with macro AUROC and the underdiagnosis rate
 * (Seyyed-Kalantari et al., Nature Medicine 2021: the false-positive rate of "No Finding" at the validation
 * threshold, i.e. patients with a finding called healthy), each with its patient-level bootstrap 95% CI.
 * A group with fewer studies than `minGroup` is withheld ("too small"), not reported as numbers.
 * No Node.js API.
 */
import { evaluate } from './metrics.ts';
import type { EvalResult } from './metrics.ts';
import { calibration } from './calibration.ts';
import type { CalibrationResult } from './calibration.ts';
import { weightedBootstrap, weightedMacroAuroc } from './bootstrap.ts';
import type { Interval } from './bootstrap.ts';

/** The label whose false positives are the underdiagnosis rate. */
export const NO_FINDING = 'No Finding';

/** One subgroup attribute of every study: its value (null: unknown for that study), or the whole column unavailable. */
export interface SubgroupAttribute {
  name: string;
  /** Per study; null when the column is not in the data (then `reason` says why). */
  values: (string | null)[] | null;
  reason?: string;
}

/** What `scoreSplit` scores: one split's predictions, targets and per-study facts, all in study order. */
export interface ScoreInput {
  labels: readonly string[];
  /** [n, L] probabilities as reported (calibrated when the checkpoint has temperatures). */
  probs: ArrayLike<number>;
  /** [n, L] probabilities before calibration (absent: the reported ones are uncalibrated). */
  rawProbs?: ArrayLike<number>;
  /** [n, L] targets: 0/1 observed, anything else (NaN) unobserved. */
  targets: ArrayLike<number>;
  /** Patient of each study: the bootstrap's unit. */
  patients: ArrayLike<number>;
  /** Whether each study's image and table entered the model (after any injected missingness). */
  hasImage: ArrayLike<number>;
  hasTab: ArrayLike<number>;
  /** Table features present per study (after injection), of `numFeatures`. */
  tabPresent: ArrayLike<number>;
  numFeatures: number;
  /** Validation thresholds in label order (the calls are probability >= threshold). */
  thresholds: readonly number[];
  subgroups?: SubgroupAttribute[];
}

export interface ScoreOptions {
  /** Bootstrap replicates (default 1000). */
  replicates?: number;
  /** Seed of the bootstrap (default 0). */
  seed?: number;
  /** Groups with fewer studies are withheld as too small (default 50). */
  minGroup?: number;
}

/** One row of a group table. */
export interface GroupRow {
  group: string;
  studies: number;
  patients: number;
  /** 'ok', or 'too small' (fewer studies than the minimum: no numbers). */
  status: 'ok' | 'too small';
  macroAuroc?: Interval;
  macroAuprc?: number;
  brier?: number;
  /** FPR of No Finding at its threshold among studies with a finding (No Finding observed 0), with its CI. */
  underdiagnosis?: Interval;
}

/** A subgroup attribute's table; `available: false` when the column is not in the data. */
export interface SubgroupTable {
  attribute: string;
  available: boolean;
  reason?: string;
  rows: GroupRow[];
}

export interface SplitReport {
  studies: number;
  patients: number;
  labels: string[];
  /** Per label and macro AUROC, AUPRC, F1 at the validation thresholds. */
  discrimination: EvalResult;
  /** Patient-level bootstrap 95% CIs of the macro AUROC and of each label's AUROC. */
  macroAurocCI: Interval;
  aurocCI: Interval[];
  /** Calibration of the reported probabilities, and of the raw ones when they were calibrated. */
  calibration: CalibrationResult;
  calibrationBefore?: CalibrationResult;
  /** By the availability pattern the data came with (after any injection): both, image only, table only, neither. */
  availability: GroupRow[];
  /** By quartile of the number of table features present. */
  tableFeatures: GroupRow[];
  subgroups: SubgroupTable[];
  /** The bootstrap and the minimum group size used. */
  bootstrap: { replicates: number; seed: number; unit: 'patient'; minGroup: number };
}

function distinct(v: ArrayLike<number>, idx: readonly number[]): number {
  const s = new Set<number>();
  for (const i of idx) s.add(v[i]);
  return s.size;
}

/** Rows `idx` of a row-major [n, L] matrix. */
function rowsOf(m: ArrayLike<number>, L: number, idx: readonly number[]): Float64Array {
  const out = new Float64Array(idx.length * L);
  idx.forEach((i, r) => { for (let j = 0; j < L; j++) out[r * L + j] = m[i * L + j]; });
  return out;
}

/** The underdiagnosis rate of a group under study weights: sum w [called No Finding] / sum w over studies with a finding. */
function underdiagnosisStat(probs: Float64Array, targets: Float64Array, L: number, k: number, thr: number): (w: Float64Array) => number {
  const n = probs.length / L;
  return (w) => {
    let den = 0, num = 0;
    for (let i = 0; i < n; i++) {
      if (targets[i * L + k] !== 0 || w[i] === 0) continue;
      den += w[i];
      if (probs[i * L + k] >= thr) num += w[i];
    }
    return den > 0 ? num / den : NaN;
  };
}

/** The metrics of one group of studies (indices into the split), or 'too small'. */
function groupRow(inp: ScoreInput, group: string, idx: number[], o: Required<ScoreOptions>): GroupRow {
  const L = inp.labels.length;
  const row: GroupRow = { group, studies: idx.length, patients: distinct(inp.patients, idx), status: idx.length < o.minGroup ? 'too small' : 'ok' };
  if (row.status !== 'ok') return row;
  const p = rowsOf(inp.probs, L, idx), t = rowsOf(inp.targets, L, idx), pat = idx.map((i) => inp.patients[i]);
  const ev = evaluate(p, t, inp.labels, [...inp.thresholds]);
  row.macroAuroc = weightedBootstrap(pat, weightedMacroAuroc(p, t, idx.length), { replicates: o.replicates, seed: o.seed });
  row.macroAuprc = ev.macroAuprc;
  row.brier = calibration(p, t, inp.labels).macro.brier;
  const k = inp.labels.indexOf(NO_FINDING);
  if (k >= 0) row.underdiagnosis = weightedBootstrap(pat, underdiagnosisStat(p, t, L, k, inp.thresholds[k]), { replicates: o.replicates, seed: o.seed });
  return row;
}

/** Availability pattern names in report order. */
export const AVAILABILITY_PATTERNS = ['both', 'image only', 'table only', 'neither'] as const;

function availabilityRows(inp: ScoreInput, n: number, o: Required<ScoreOptions>): GroupRow[] {
  const by: number[][] = AVAILABILITY_PATTERNS.map(() => []);
  for (let i = 0; i < n; i++) {
    const im = !!inp.hasImage[i], tb = !!inp.hasTab[i];
    by[im && tb ? 0 : im ? 1 : tb ? 2 : 3].push(i);
  }
  // "neither" only when it occurs (the model then sees the CLS token alone).
  return AVAILABILITY_PATTERNS.map((name, g) => ({ name, g })).filter(({ g }) => g < 3 || by[g].length > 0)
    .map(({ name, g }) => groupRow(inp, name, by[g], o));
}

/**
 * Quartile groups of the number of table features present: cut points at the R type-7 quantiles 0.25, 0.5,
 * 0.75 of the counts, Q1 = count <= q1, Q2 = (q1, q2], Q3 = (q2, q3], Q4 = > q3, each named by the counts it
 * holds. With many tied counts a quartile can be empty; empty groups are left out.
 */
function featureQuartileRows(inp: ScoreInput, n: number, o: Required<ScoreOptions>): GroupRow[] {
  const counts = Float64Array.from({ length: n }, (_, i) => inp.tabPresent[i]);
  const sorted = Float64Array.from(counts).sort();
  const q = (x: number) => {
    const h = (n - 1) * x, lo = Math.floor(h), hi = Math.min(n - 1, lo + 1);
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
  };
  if (n === 0) return [];
  const cuts = [q(0.25), q(0.5), q(0.75)];
  const by: number[][] = [[], [], [], []];
  for (let i = 0; i < n; i++) {
    const c = counts[i];
    by[c <= cuts[0] ? 0 : c <= cuts[1] ? 1 : c <= cuts[2] ? 2 : 3].push(i);
  }
  const rows: GroupRow[] = [];
  by.forEach((idx, g) => {
    if (idx.length === 0) return;
    let lo = Infinity, hi = -Infinity;
    for (const i of idx) { lo = Math.min(lo, counts[i]); hi = Math.max(hi, counts[i]); }
    rows.push(groupRow(inp, `Q${g + 1}: ${lo === hi ? lo : `${lo}-${hi}`} of ${inp.numFeatures} features`, idx, o));
  });
  return rows;
}

/** The groups of one attribute, sorted by name with `unknown` (a study without a value) last. */
function subgroupTable(inp: ScoreInput, a: SubgroupAttribute, n: number, o: Required<ScoreOptions>): SubgroupTable {
  if (!a.values) return { attribute: a.name, available: false, reason: a.reason ?? 'not in the data', rows: [] };
  if (a.values.length !== n) throw new Error(`subgroup '${a.name}': ${a.values.length} values for ${n} studies`);
  const by = new Map<string, number[]>();
  a.values.forEach((v, i) => {
    const k = v ?? 'unknown';
    let l = by.get(k);
    if (!l) by.set(k, (l = []));
    l.push(i);
  });
  const names = [...by.keys()].sort((x, y) => (x === 'unknown' ? 1 : y === 'unknown' ? -1 : x < y ? -1 : x > y ? 1 : 0));
  return { attribute: a.name, available: true, rows: names.map((k) => groupRow(inp, k, by.get(k)!, o)) };
}

/** The crossing of two attributes (e.g. sex x race); unavailable when either is. A study unknown in either is 'unknown'. */
export function crossAttributes(a: SubgroupAttribute, b: SubgroupAttribute): SubgroupAttribute {
  const name = `${a.name} x ${b.name}`;
  if (!a.values || !b.values) return { name, values: null, reason: `${!a.values ? a.name : b.name} ${(!a.values ? a.reason : b.reason) ?? 'not in the data'}` };
  const bv = b.values;
  return { name, values: a.values.map((v, i) => (v === null || bv[i] === null ? null : `${v}, ${bv[i]}`)) };
}

/** Score one split: see the file comment. */
export function scoreSplit(inp: ScoreInput, opts: ScoreOptions = {}): SplitReport {
  const o: Required<ScoreOptions> = { replicates: opts.replicates ?? 1000, seed: opts.seed ?? 0, minGroup: opts.minGroup ?? 50 };
  if (!(Number.isInteger(o.minGroup) && o.minGroup >= 1)) throw new Error(`minimum group size must be a positive integer, got ${o.minGroup}`);
  const L = inp.labels.length, n = inp.patients.length;
  if (inp.probs.length !== n * L || inp.targets.length !== n * L) throw new Error(`scoreSplit: ${inp.probs.length} probabilities and ${inp.targets.length} targets for ${n} studies x ${L} labels`);
  if (inp.thresholds.length !== L) throw new Error(`scoreSplit: ${inp.thresholds.length} thresholds for ${L} labels`);
  const all = Array.from({ length: n }, (_, i) => i);
  const discrimination = evaluate(inp.probs, inp.targets, inp.labels, [...inp.thresholds]);
  const boot = { replicates: o.replicates, seed: o.seed };
  const macroAurocCI = n ? weightedBootstrap(inp.patients, weightedMacroAuroc(inp.probs, inp.targets, n), boot) : { estimate: NaN, lo: NaN, hi: NaN, replicates: 0 };
  const aurocCI = inp.labels.map((_, j) => {
    if (!n) return { estimate: NaN, lo: NaN, hi: NaN, replicates: 0 };
    const p = Float64Array.from(all, (i) => inp.probs[i * L + j]), t = Float64Array.from(all, (i) => inp.targets[i * L + j]);
    return weightedBootstrap(inp.patients, weightedMacroAuroc(p, t, n), boot);
  });
  const subgroups = (inp.subgroups ?? []).map((a) => subgroupTable(inp, a, n, o));
  return {
    studies: n, patients: distinct(inp.patients, all), labels: [...inp.labels],
    discrimination, macroAurocCI, aurocCI,
    calibration: calibration(inp.probs, inp.targets, inp.labels),
    ...(inp.rawProbs ? { calibrationBefore: calibration(inp.rawProbs, inp.targets, inp.labels) } : {}),
    availability: availabilityRows(inp, n, o),
    tableFeatures: featureQuartileRows(inp, n, o),
    subgroups,
    bootstrap: { replicates: o.replicates, seed: o.seed, unit: 'patient', minGroup: o.minGroup },
  };
}

/** The headline figures of a report, one line each (what `evaluate` prints). */
export function headlineLines(r: SplitReport): string[] {
  const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const ci = (i: Interval) => `${f(i.estimate)} (95% CI ${f(i.lo)}-${f(i.hi)})`;
  const c = r.calibration.macro, b = r.calibrationBefore?.macro;
  const lines = [
    `studies: ${r.studies} (${r.patients} patients)`,
    `macro AUROC: ${ci(r.macroAurocCI)}`,
    `macro AUPRC: ${f(r.discrimination.macroAuprc)}`,
    `macro F1 at validation thresholds: ${f(r.discrimination.macroF1)}`,
    `macro Brier: ${f(c.brier)}${b ? ` (before calibration ${f(b.brier)})` : ''}`,
    `macro ECE (15 equal-mass bins): ${f(c.ece)}${b ? ` (before ${f(b.ece)})` : ''}`,
    `macro calibration intercept / slope: ${f(c.intercept, 3)} / ${f(c.slope, 3)}${b ? ` (before ${f(b.intercept, 3)} / ${f(b.slope, 3)})` : ''}`,
  ];
  for (const g of r.availability) lines.push(`availability ${g.group}: ${g.studies} studies, macro AUROC ${g.macroAuroc ? ci(g.macroAuroc) : g.status}`);
  return lines;
}
