/**
 * The patient-level (cluster) bootstrap, the project's one: resample patients with replacement, keeping all
 * of a drawn patient's studies, so correlated images of one patient never look like independent evidence
 * (docs/design.md, "Data"). One draw rule (`drawPatients`: as many draws as patients, patients in `patientGroups`
 * order, one `mulberry32` number per draw) and one interval rule (`quantileSorted`, R type 7) serve both the
 * generic `bootstrapCI` and the protocols' `pairedBootstrap` of a macro AUROC difference.
 */
import { mulberry32 } from '../engine/rng.ts';

/**
 * One replicate's draws: `groups.length` patients drawn with replacement, `visit` called with each drawn
 * patient's studies in draw order.
 */
export function drawPatients(groups: readonly (readonly number[])[], rand: () => number, visit: (studies: readonly number[]) => void): void {
  const G = groups.length;
  for (let k = 0; k < G; k++) visit(groups[Math.floor(rand() * G)]);
}

/**
 * Cluster bootstrap of any statistic: `stat(indices)` computes it on the study indices of one replicate (a
 * drawn patient's studies appear once per draw). Returns the point estimate on all studies, the percentile
 * interval (R type 7, as `pairedBootstrap`) and the defined replicate values in draw order.
 */
export function bootstrapCI(
  groups: ArrayLike<number>,
  stat: (indices: Int32Array) => number,
  opts: { replicates?: number; seed?: number; alpha?: number } = {},
): { estimate: number; lo: number; hi: number; replicates: number[] } {
  const { replicates = 1000, seed = 0, alpha = 0.05 } = opts;
  const members = patientGroups(groups);
  const estimate = stat(Int32Array.from({ length: groups.length }, (_, i) => i));
  const rand = mulberry32(seed);
  const reps: number[] = [];
  const buf: number[] = [];
  for (let r = 0; r < replicates; r++) {
    buf.length = 0;
    drawPatients(members, rand, (m) => { for (const i of m) buf.push(i); });
    const v = stat(Int32Array.from(buf));
    if (!Number.isNaN(v)) reps.push(v);
  }
  const sorted = Float64Array.from(reps).sort();
  return { estimate, lo: quantileSorted(sorted, alpha / 2), hi: quantileSorted(sorted, 1 - alpha / 2), replicates: reps };
}

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
  drawPatients(groups, rand, (g) => {
    for (let j = 0; j < g.length; j++) out[g[j]] += 1;
  });
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
 * docs/design.md "Data"), of the difference in macro AUROC between two methods scored on the same studies. Both
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

/** A point estimate with its patient-level bootstrap percentile interval. */
export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  /** Replicates with a defined value (of those drawn). */
  replicates: number;
}

/**
 * Patient-level bootstrap of a statistic of study weights: `stat(w)` with every study weighing 1 gives the
 * estimate; each replicate draws patients as `resampleWeights` does (the same draws as `pairedBootstrap` for
 * a seed) and the interval is the R type-7 percentile interval of the defined replicate values. Linear in the
 * studies per replicate when the statistic is (`weightedMacroAuroc`, a weighted proportion).
 */
export function weightedBootstrap(
  patients: ArrayLike<number | string>, stat: (w: Float64Array) => number,
  opts: { replicates?: number; seed?: number; alpha?: number } = {},
): Interval {
  const { replicates = 1000, seed = 0, alpha = 0.05 } = opts;
  if (!(Number.isInteger(replicates) && replicates > 0)) throw new Error(`bootstrap: replicates must be a positive integer, got ${replicates}`);
  const n = patients.length;
  const estimate = stat(new Float64Array(n).fill(1));
  const groups = patientGroups(patients), rand = mulberry32(seed), w = new Float64Array(n), reps: number[] = [];
  for (let r = 0; r < replicates; r++) {
    resampleWeights(groups, n, rand, w);
    const v = stat(w);
    if (!Number.isNaN(v)) reps.push(v);
  }
  const sorted = Float64Array.from(reps).sort();
  return { estimate, lo: quantileSorted(sorted, alpha / 2), hi: quantileSorted(sorted, 1 - alpha / 2), replicates: reps.length };
}

/**
 * Macro AUROC under study weights of a row-major [n, L] matrix (targets 0/1 observed, others skipped): each
 * label sorted once, then one linear pass per call. The mean over the labels defined under the weights; with
 * all weights 1 it equals `evaluate(...).macroAuroc`.
 */
export function weightedMacroAuroc(probs: ArrayLike<number>, targets: ArrayLike<number>, n: number): (w: ArrayLike<number>) => number {
  if (n === 0 || probs.length !== targets.length || probs.length % n !== 0) throw new Error(`weightedMacroAuroc: shapes ${probs.length} vs ${targets.length} for ${n} studies`);
  const L = probs.length / n, sorted: SortedLabel[] = [];
  for (let j = 0; j < L; j++) sorted.push(sortLabel(probs, targets, n, L, j));
  return (w) => {
    let s = 0, k = 0;
    for (const sl of sorted) {
      const v = weightedAuroc(sl, w);
      if (!Number.isNaN(v)) { s += v; k++; }
    }
    return k ? s / k : NaN;
  };
}
