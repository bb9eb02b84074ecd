/**
 * Statistics over stored protocol results: mean and spread over seeds, the area under a degradation curve,
 * and Holm's step-down adjustment of the paired patient-level bootstrap's p-values (the bootstrap itself is
 * eval/bootstrap.ts, shared with the trainer's tests). Pure functions: same input, same output.
 */
import type { Protocol, ResultRow } from './results.ts';

/** The paired patient-level bootstrap lives in eval/; re-exported here for the protocols' public API. */
export { pairedBootstrap, patientGroups, quantileSorted, resampleWeights } from '../eval/bootstrap.ts';
export type { PairedBootstrapInput, PairedBootstrapResult } from '../eval/bootstrap.ts';

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
  /**
   * Defined bootstrap replicates B behind p: p = 2/(B+1) is its floor (no replicate crossed 0), which the
   * reports print as a bound, not as an exact value. Absent in comparisons made before it was recorded.
   */
  replicates?: number;
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
