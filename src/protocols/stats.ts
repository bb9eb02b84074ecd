/**
 * Statistics over stored protocol results: mean and spread over seeds, the area under a degradation curve,
 * the paired patient-level bootstrap of the proposed method against another, and Holm's step-down adjustment.
 * Pure functions: same input, same output (the bootstrap is seeded).
 */
import { mulberry32 } from '../eval/rng.ts';
import type { Protocol, ResultRow } from './results.ts';

/** The per-row metrics that can be summarized. */
export type Metric = 'macroAuroc' | 'macroAuprc' | 'macroF1';

/** Mean and sample standard deviation of the defined (non-NaN) values; std is NaN below two values. */
export function meanStd(values: readonly number[]): { mean: number; std: number; n: number } {
  let n = 0, s = 0;
  for (const v of values) if (!Number.isNaN(v)) { s += v; n++; }
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = s / n;
  let ss = 0;
  for (const v of values) if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : NaN, n };
}

/** One summary cell: a metric's mean ± sample std over seeds for method, protocol, train and test level. */
export interface SummaryRow {
  method: string;
  protocol: Protocol;
  trainLevel: number;
  testLevel: number;
  mean: number;
  /** Sample standard deviation (n - 1); NaN with fewer than two defined seeds. */
  std: number;
  /** Seeds with a defined value (NaN values are not counted). */
  n: number;
  /** The seeds of the group, ascending (including any whose value was NaN). */
  seeds: number[];
}

/**
 * Group rows by method, protocol, train level and test level and summarize `metric` over seeds. Levels are
 * grouped by exact value (the CSV round trip is exact). Two rows with the same key and seed are an error.
 * Output is sorted by protocol, method (first appearance), train level, test level.
 */
export function summarize(rows: readonly ResultRow[], metric: Metric = 'macroAuroc'): SummaryRow[] {
  const groups = new Map<string, { row: ResultRow; vals: Map<number, number> }>();
  const methodOrder = new Map<string, number>();
  for (const r of rows) {
    if (!methodOrder.has(r.method)) methodOrder.set(r.method, methodOrder.size);
    const k = JSON.stringify([r.method, r.protocol, r.trainLevel, r.testLevel]);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { row: r, vals: new Map() }));
    if (g.vals.has(r.seed)) throw new Error(`summarize: duplicate row for ${k} seed ${r.seed}`);
    g.vals.set(r.seed, r[metric]);
  }
  const out: SummaryRow[] = [];
  for (const { row, vals } of groups.values()) {
    const seeds = [...vals.keys()].sort((a, b) => a - b);
    const ms = meanStd(seeds.map((s) => vals.get(s)!));
    out.push({ method: row.method, protocol: row.protocol, trainLevel: row.trainLevel, testLevel: row.testLevel, ...ms, seeds });
  }
  return out.sort((a, b) =>
    a.protocol.localeCompare(b.protocol) || methodOrder.get(a.method)! - methodOrder.get(b.method)! ||
    a.trainLevel - b.trainLevel || a.testLevel - b.testLevel);
}

/** The diagonal of a summary (train level == test level): the protocol's degradation curve. */
export function diagonal(summary: readonly SummaryRow[]): SummaryRow[] {
  return summary.filter((s) => s.trainLevel === s.testLevel);
}

/**
 * Area under a curve by the trapezoid rule over its x values, divided by the x span, so a flat curve at
 * 0.8 gives 0.8 (a mean level of the curve). Points need not be sorted; duplicate x is an error; a single
 * point gives its value; any NaN value gives NaN.
 */
export function curveAuc(points: readonly { x: number; y: number }[]): number {
  if (points.length === 0) return NaN;
  const p = [...points].sort((a, b) => a.x - b.x);
  for (let i = 1; i < p.length; i++) if (p[i].x === p[i - 1].x) throw new Error(`curveAuc: duplicate x ${p[i].x}`);
  if (p.length === 1) return p[0].y;
  let a = 0;
  for (let i = 1; i < p.length; i++) a += ((p[i].y + p[i - 1].y) / 2) * (p[i].x - p[i - 1].x);
  return a / (p[p.length - 1].x - p[0].x);
}

/** Area under one method's degradation curve, per seed and as mean ± std over seeds. */
export interface CurveAuc {
  method: string;
  protocol: Protocol;
  mean: number;
  std: number;
  n: number;
  /** The levels the curves span (every seed must have all of them). */
  levels: number[];
  perSeed: { seed: number; auc: number }[];
}

/**
 * Area under the degradation curve (diagonal: train level == test level) of `metric` for every method and
 * protocol, computed per seed and then summarized. Per seed so the spread is the spread over training runs;
 * the mean equals the AUC of the mean curve, the trapezoid rule being linear. A seed missing a level that
 * another seed has is an error: curves over different spans are not comparable.
 */
export function degradationAucs(rows: readonly ResultRow[], metric: Metric = 'macroAuroc'): CurveAuc[] {
  const groups = new Map<string, { method: string; protocol: Protocol; bySeed: Map<number, { x: number; y: number }[]> }>();
  for (const r of rows) {
    if (r.trainLevel !== r.testLevel) continue;
    const k = JSON.stringify([r.protocol, r.method]);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { method: r.method, protocol: r.protocol, bySeed: new Map() }));
    let pts = g.bySeed.get(r.seed);
    if (!pts) g.bySeed.set(r.seed, (pts = []));
    pts.push({ x: r.trainLevel, y: r[metric] });
  }
  const out: CurveAuc[] = [];
  for (const g of groups.values()) {
    const seeds = [...g.bySeed.keys()].sort((a, b) => a - b);
    const levelsOf = (s: number) => g.bySeed.get(s)!.map((p) => p.x).sort((a, b) => a - b);
    const levels = [...new Set(seeds.flatMap(levelsOf))].sort((a, b) => a - b);
    for (const s of seeds) {
      const l = levelsOf(s);
      if (l.length !== levels.length) {
        throw new Error(`degradationAucs: ${g.method}/${g.protocol} seed ${s} has levels [${l}], others have [${levels}]`);
      }
    }
    const perSeed = seeds.map((seed) => ({ seed, auc: curveAuc(g.bySeed.get(seed)!) }));
    out.push({ method: g.method, protocol: g.protocol, ...meanStd(perSeed.map((p) => p.auc)), levels, perSeed });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Paired patient-level bootstrap

/** Percentile of sorted values, linear interpolation between order statistics (R type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q, lo = Math.floor(h), hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Patients in a deterministic order (numbers ascending, else strings by code unit) with their studies.
 * Sorting makes the resample independent of the order of the studies.
 */
export function patientGroups(patients: ArrayLike<number | string>): number[][] {
  const by = new Map<number | string, number[]>();
  for (let i = 0; i < patients.length; i++) {
    const p = patients[i];
    let l = by.get(p);
    if (!l) by.set(p, (l = []));
    l.push(i);
  }
  const keys = [...by.keys()].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);
  return keys.map((k) => by.get(k)!);
}

/**
 * Study weights of one cluster-bootstrap replicate: draw as many patients as there are, with replacement;
 * every study of a drawn patient gets +1 per draw. So studies of one patient always share a weight.
 */
export function resampleWeights(groups: readonly number[][], nStudies: number, rand: () => number, out = new Float64Array(nStudies)): Float64Array {
  out.fill(0);
  const G = groups.length;
  for (let k = 0; k < G; k++) {
    const g = groups[Math.floor(rand() * G)];
    for (let j = 0; j < g.length; j++) out[g[j]] += 1;
  }
  return out;
}

/**
 * One label's observed studies sorted by score, descending, with tie groups marked, so a weighted AUROC is
 * one linear pass per replicate instead of a sort.
 */
interface SortedLabel {
  idx: Int32Array; // study indices, score descending (ties by index)
  pos: Uint8Array; // target of each, in that order
  groupEnd: Int32Array; // for position i: one past the last position tied with i's score
}

function sortLabel(probs: ArrayLike<number>, targets: ArrayLike<number>, n: number, L: number, j: number): SortedLabel {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = targets[i * L + j];
    if (t !== 0 && t !== 1) continue;
    const s = probs[i * L + j];
    if (!Number.isFinite(s)) throw new Error(`pairedBootstrap: non-finite probability ${s} at study ${i}, label ${j}`);
    ids.push(i);
  }
  ids.sort((a, b) => probs[b * L + j] - probs[a * L + j] || a - b);
  const m = ids.length, idx = Int32Array.from(ids), pos = new Uint8Array(m), groupEnd = new Int32Array(m);
  for (let k = 0; k < m; k++) pos[k] = targets[idx[k] * L + j];
  for (let k = 0; k < m; ) {
    let e = k + 1;
    while (e < m && probs[idx[e] * L + j] === probs[idx[k] * L + j]) e++;
    for (let q = k; q < e; q++) groupEnd[q] = e;
    k = e;
  }
  return { idx, pos, groupEnd };
}

/**
 * AUROC with study weights (a study drawn w times counts w times): the Mann-Whitney statistic with ties
 * counting 1/2, equal to `auroc` of eval/metrics on the index list with repeats. NaN with one class.
 */
function weightedAuroc(sl: SortedLabel, w: ArrayLike<number>): number {
  const { idx, pos, groupEnd } = sl;
  let P = 0, N = 0;
  for (let k = 0; k < idx.length; k++) {
    if (pos[k]) P += w[idx[k]]; else N += w[idx[k]];
  }
  if (P === 0 || N === 0) return NaN;
  // Walk tie groups from the top: each positive beats the negatives below its group, and half of its group's.
  let negBelow = N, u = 0;
  for (let k = 0; k < idx.length; ) {
    const e = groupEnd[k];
    let p = 0, q = 0;
    for (let r = k; r < e; r++) {
      if (pos[r]) p += w[idx[r]]; else q += w[idx[r]];
    }
    negBelow -= q;
    u += p * (negBelow + q / 2);
    k = e;
  }
  return u / (P * N);
}

/** Macro AUROC difference A - B over the labels defined under weights w (same set for A and B: same targets). */
function macroDiff(a: SortedLabel[], b: SortedLabel[], w: ArrayLike<number>): { diff: number; a: number; b: number } {
  let sa = 0, sb = 0, n = 0;
  for (let j = 0; j < a.length; j++) {
    const va = weightedAuroc(a[j], w);
    if (Number.isNaN(va)) continue;
    sa += va;
    sb += weightedAuroc(b[j], w);
    n++;
  }
  if (n === 0) return { diff: NaN, a: NaN, b: NaN };
  return { diff: sa / n - sb / n, a: sa / n, b: sb / n };
}

export interface PairedBootstrapInput {
  /** Probabilities [n, L] of the proposed method, row-major. */
  probsA: ArrayLike<number>;
  /** Probabilities [n, L] of the other method on the same test studies, same order. */
  probsB: ArrayLike<number>;
  /** Targets [n, L]: 0/1 observed; anything else (NaN, -1) is unobserved and skipped. */
  targets: ArrayLike<number>;
  /** Patient id of each of the n studies: the resampling unit. */
  patients: ArrayLike<number | string>;
  /** Bootstrap replicates (default 2000). */
  replicates?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
  /** 1 - confidence of the interval (default 0.05). */
  alpha?: number;
}

export interface PairedBootstrapResult {
  /** Observed macro AUROC of A, of B, and A - B on all studies. */
  macroA: number;
  macroB: number;
  diff: number;
  /** Percentile interval of the replicate differences (R type-7 quantiles). */
  lo: number;
  hi: number;
  /**
   * Two-sided bootstrap p-value with the +1 correction:
   * p = min(1, 2 * min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (B + 1)) over the B defined replicates d*.
   * It is the smallest alpha at which the percentile interval excludes 0; it is never 0, and it is 1 when
   * every replicate difference is 0 (identical predictions).
   */
  p: number;
  /** Replicates with a defined difference, and those dropped (no label with both classes in the draw). */
  replicates: number;
  dropped: number;
  /** The replicate differences, in draw order (defined ones only). */
  diffs: Float64Array;
}

/**
 * Paired bootstrap over test studies, resampling patients (all of a drawn patient's studies come along,
 * DESIGN.md "Data"), of the difference in macro AUROC between two methods scored on the same studies. Both
 * methods are evaluated on each replicate's same draw, so the variation shared by the two (which studies are
 * hard) cancels. Deterministic for a given seed.
 */
export function pairedBootstrap(inp: PairedBootstrapInput): PairedBootstrapResult {
  const { probsA, probsB, targets, patients, replicates = 2000, seed = 0, alpha = 0.05 } = inp;
  const n = patients.length;
  if (n === 0) throw new Error('pairedBootstrap: no studies');
  if (probsA.length !== probsB.length || probsA.length !== targets.length || targets.length % n !== 0) {
    throw new Error(`pairedBootstrap: shapes probsA ${probsA.length}, probsB ${probsB.length}, targets ${targets.length}, ${n} patients`);
  }
  if (!(Number.isInteger(replicates) && replicates > 0)) throw new Error(`pairedBootstrap: replicates must be a positive integer, got ${replicates}`);
  const L = targets.length / n;
  const a: SortedLabel[] = [], b: SortedLabel[] = [];
  for (let j = 0; j < L; j++) {
    a.push(sortLabel(probsA, targets, n, L, j));
    b.push(sortLabel(probsB, targets, n, L, j));
  }
  const ones = new Float64Array(n).fill(1);
  const obs = macroDiff(a, b, ones);
  const groups = patientGroups(patients);
  const rand = mulberry32(seed);
  const w = new Float64Array(n);
  const diffs: number[] = [];
  let le = 0, ge = 0;
  for (let r = 0; r < replicates; r++) {
    resampleWeights(groups, n, rand, w);
    const d = macroDiff(a, b, w).diff;
    if (Number.isNaN(d)) continue;
    diffs.push(d);
    if (d <= 0) le++;
    if (d >= 0) ge++;
  }
  const B = diffs.length;
  const sorted = Float64Array.from(diffs).sort();
  const p = B === 0 ? NaN : Math.min(1, (2 * Math.min(1 + le, 1 + ge)) / (B + 1));
  return {
    macroA: obs.a, macroB: obs.b, diff: obs.diff,
    lo: quantileSorted(sorted, alpha / 2), hi: quantileSorted(sorted, 1 - alpha / 2),
    p, replicates: B, dropped: replicates - B, diffs: Float64Array.from(diffs),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Multiple comparisons

/**
 * Holm–Bonferroni step-down adjustment (Holm 1979). With the m defined p-values sorted ascending
 * p(1) <= ... <= p(m): adj(i) = max over k <= i of min(1, (m - k + 1) p(k)). Returned in the input order;
 * monotone in p, capped at 1. NaN p-values are not part of the family and stay NaN.
 */
export function holm(pValues: readonly number[]): number[] {
  const out = pValues.map(() => NaN);
  const idx = pValues.map((_, i) => i).filter((i) => !Number.isNaN(pValues[i]));
  for (const i of idx) if (!(pValues[i] >= 0 && pValues[i] <= 1)) throw new Error(`holm: p-value ${pValues[i]} outside [0, 1]`);
  idx.sort((i, j) => pValues[i] - pValues[j] || i - j);
  const m = idx.length;
  let run = 0;
  idx.forEach((i, k) => {
    run = Math.max(run, Math.min(1, (m - k) * pValues[i]));
    out[i] = run;
  });
  return out;
}

/** One significance test: the proposed method against `method` at one level of one protocol. */
export interface Comparison {
  protocol: Protocol;
  level: number;
  proposed: string;
  method: string;
  /** Observed macro AUROC difference proposed - method, and its percentile interval. */
  diff: number;
  lo: number;
  hi: number;
  /** Unadjusted two-sided p-value. */
  p: number;
  /** Holm-adjusted p-value within its family (filled by withHolm). */
  pHolm?: number;
}

/**
 * Holm-adjust a list of comparisons. The family is each protocol's comparisons (every other method at every
 * level), as the protocols are separate experiments; pass `family: 'all'` to adjust across everything.
 */
export function withHolm(comparisons: readonly Comparison[], family: 'protocol' | 'all' = 'protocol'): Comparison[] {
  const out = comparisons.map((c) => ({ ...c }));
  const fams = new Map<string, number[]>();
  out.forEach((c, i) => {
    const k = family === 'all' ? '' : c.protocol;
    let l = fams.get(k);
    if (!l) fams.set(k, (l = []));
    l.push(i);
  });
  for (const ids of fams.values()) {
    const adj = holm(ids.map((i) => out[i].p));
    ids.forEach((i, k) => (out[i].pHolm = adj[k]));
  }
  return out;
}
