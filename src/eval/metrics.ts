/**
 * Classification metrics for incompletely labelled multilabel data. Every metric of a label is computed over
 * that label's observed entries only (targets 0 or 1; NaN or any other value is skipped), and is NaN where
 * it is undefined (AUROC with one class only, AUPRC with no positive). Macro averages skip NaN labels and
 * say how many labels they averaged.
 */

/** Observed (score, target) pairs of one label: targets 0/1 only. */
function observed(scores: ArrayLike<number>, targets: ArrayLike<number>): { s: Float64Array; t: Uint8Array } {
  if (scores.length !== targets.length) throw new Error(`metrics: ${scores.length} scores vs ${targets.length} targets`);
  let n = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] === 0 || targets[i] === 1) n++;
  const s = new Float64Array(n), t = new Uint8Array(n);
  for (let i = 0, j = 0; i < targets.length; i++) {
    if (targets[i] !== 0 && targets[i] !== 1) continue;
    if (!Number.isFinite(scores[i])) throw new Error(`metrics: non-finite score ${scores[i]} at index ${i}`);
    s[j] = scores[i];
    t[j++] = targets[i];
  }
  return { s, t };
}

/** Indices sorted by score, descending (ties keep index order, so the result is deterministic). */
function orderDesc(s: Float64Array): Uint32Array {
  const idx = new Uint32Array(s.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => s[b] - s[a] || a - b);
  return idx;
}

/**
 * Area under the ROC curve = P(score of a random positive > score of a random negative), ties counting 1/2
 * (the Mann-Whitney U statistic with midranks). NaN when the observed entries hold one class only.
 */
export function auroc(scores: ArrayLike<number>, targets: ArrayLike<number>): number {
  const { s, t } = observed(scores, targets);
  let pos = 0;
  for (let i = 0; i < t.length; i++) pos += t[i];
  const neg = t.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  const idx = orderDesc(s);
  // Walk groups of tied scores from the top: each positive beats every negative below its group and
  // half of the negatives inside it.
  let negBelow = neg, u = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i, p = 0, q = 0;
    while (j < idx.length && s[idx[j]] === s[idx[i]]) {
      if (t[idx[j]]) p++; else q++;
      j++;
    }
    negBelow -= q;
    u += p * (negBelow + q / 2);
    i = j;
  }
  return u / (pos * neg);
}

/**
 * Area under the precision-recall curve as average precision, sum over thresholds of
 * (R_k - R_{k-1}) * P_k with tied scores forming one threshold (scikit-learn's definition).
 * NaN when there is no observed positive.
 */
export function auprc(scores: ArrayLike<number>, targets: ArrayLike<number>): number {
  const { s, t } = observed(scores, targets);
  let pos = 0;
  for (let i = 0; i < t.length; i++) pos += t[i];
  if (pos === 0) return NaN;
  const idx = orderDesc(s);
  let tp = 0, seen = 0, ap = 0, prevRecall = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && s[idx[j]] === s[idx[i]]) {
      tp += t[idx[j]];
      j++;
    }
    seen = j;
    const recall = tp / pos;
    ap += (recall - prevRecall) * (tp / seen);
    prevRecall = recall;
    i = j;
  }
  return ap;
}

/** F1 of predicting positive where score >= threshold. NaN when there is no observed entry. */
export function f1At(scores: ArrayLike<number>, targets: ArrayLike<number>, threshold: number): number {
  const { s, t } = observed(scores, targets);
  if (t.length === 0) return NaN;
  let tp = 0, fp = 0, fn = 0;
  for (let i = 0; i < s.length; i++) {
    const p = s[i] >= threshold;
    if (p && t[i]) tp++;
    else if (p) fp++;
    else if (t[i]) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/**
 * The threshold that maximizes F1 on (validation) data: one of the observed scores, taking the highest
 * F1 and, among equals, the highest threshold. 0.5 when there is no observed positive.
 */
export function bestF1Threshold(scores: ArrayLike<number>, targets: ArrayLike<number>): { threshold: number; f1: number } {
  const { s, t } = observed(scores, targets);
  let pos = 0;
  for (let i = 0; i < t.length; i++) pos += t[i];
  if (pos === 0) return { threshold: 0.5, f1: NaN };
  const idx = orderDesc(s);
  let tp = 0, fp = 0, best = -1, thr = 0.5;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && s[idx[j]] === s[idx[i]]) {
      if (t[idx[j]]) tp++; else fp++;
      j++;
    }
    const f1 = (2 * tp) / (tp + fp + pos);
    if (f1 > best) { best = f1; thr = s[idx[i]]; }
    i = j;
  }
  return { threshold: thr, f1: best };
}

/** Per-label and macro metrics of a [n, L] score matrix against [n, L] targets (row-major). */
export interface EvalResult {
  labels: string[];
  auroc: number[];
  auprc: number[];
  f1: number[];
  thresholds: number[];
  /** Observed entries per label, and positives among them. */
  count: number[];
  positives: number[];
  macroAuroc: number;
  macroAuprc: number;
  macroF1: number;
  /** How many labels the macro averages used (labels with a defined value). */
  macroLabels: { auroc: number; auprc: number; f1: number };
}

/** Column j of a row-major [n, L] matrix. */
export function column(m: ArrayLike<number>, L: number, j: number): Float64Array {
  const n = m.length / L, out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = m[i * L + j];
  return out;
}

function meanDefined(v: number[]): { mean: number; n: number } {
  let s = 0, n = 0;
  for (const x of v) if (!Number.isNaN(x)) { s += x; n++; }
  return { mean: n ? s / n : NaN, n };
}

/**
 * Evaluate probabilities [n, L] against targets [n, L] (0/1 observed, anything else skipped). F1 uses the
 * given per-label thresholds (chosen on validation) or, when absent, the F1-optimal ones of this data.
 */
export function evaluate(probs: ArrayLike<number>, targets: ArrayLike<number>, labels: readonly string[], thresholds?: number[]): EvalResult {
  const L = labels.length;
  if (probs.length !== targets.length || probs.length % L !== 0) throw new Error(`evaluate: shapes ${probs.length} vs ${targets.length} for ${L} labels`);
  const r: EvalResult = {
    labels: [...labels], auroc: [], auprc: [], f1: [], thresholds: [], count: [], positives: [],
    macroAuroc: NaN, macroAuprc: NaN, macroF1: NaN, macroLabels: { auroc: 0, auprc: 0, f1: 0 },
  };
  for (let j = 0; j < L; j++) {
    const s = column(probs, L, j), t = column(targets, L, j);
    let c = 0, p = 0;
    for (let i = 0; i < t.length; i++) if (t[i] === 0 || t[i] === 1) { c++; p += t[i]; }
    const thr = thresholds ? thresholds[j] : bestF1Threshold(s, t).threshold;
    r.count.push(c);
    r.positives.push(p);
    r.auroc.push(auroc(s, t));
    r.auprc.push(auprc(s, t));
    r.thresholds.push(thr);
    r.f1.push(p === 0 ? NaN : f1At(s, t, thr));
  }
  const a = meanDefined(r.auroc), b = meanDefined(r.auprc), f = meanDefined(r.f1);
  r.macroAuroc = a.mean;
  r.macroAuprc = b.mean;
  r.macroF1 = f.mean;
  r.macroLabels = { auroc: a.n, auprc: b.n, f1: f.n };
  return r;
}
