/**
 * Calibration of predicted probabilities, per label over its observed entries (targets 0/1; anything else is
 * skipped, as in metrics.ts), following Van Calster et al. (BMC Medicine 2019):
 *
 * - **Brier score**: mean of (p - y)^2.
 * - **ECE** (expected calibration error) over 15 equal-mass bins: the observed entries sorted by p ascending
 *   (ties by index), bin b holding ranks floor(b n / 15) .. floor((b + 1) n / 15) - 1; ECE = sum over bins of
 *   (n_b / n) |mean(y)_b - mean(p)_b|. Empty bins (n < 15) are skipped.
 * - **Calibration slope**: b of the logistic regression logit P(y = 1) = a + b * logit(p) (logistic
 *   recalibration; 1 is ideal, < 1 means over-confident predictions).
 * - **Calibration intercept** (calibration-in-the-large): a of logit P(y = 1) = a + logit(p), the logit
 *   entering as an offset with slope fixed at 1 (0 is ideal, < 0 means the risks are over-estimated).
 *
 * Both regressions are maximum likelihood by Newton's method; a fit that does not converge (one class only,
 * or a perfectly separating logit for the slope) is NaN. `logit(p)` clamps p to [2^-24, 1 - 2^-24], the
 * float32 resolution of a probability near 1, so a saturated float32 probability has a finite logit.
 *
 * Temperature scaling (Guo et al. 2017) per label: probability sigmoid(logit(p) / T), T > 0 fitted on
 * validation by minimizing the negative log-likelihood on the observed labels. The map is strictly monotone,
 * so every rank statistic (AUROC, AUPRC) is unchanged in exact arithmetic.
 *
 * No Node.js API: the predictor (and so the edge bundle) applies temperatures through `calibrateProbabilities`.
 */

/** The number of equal-mass bins of the ECE and the reliability diagram. */
export const ECE_BINS = 15;

/** Smallest probability (and 1 minus the largest) the logit sees: 2^-24, float32's spacing below 1. */
export const LOGIT_EPS = 2 ** -24;

/** log(p / (1 - p)) with p clamped to [LOGIT_EPS, 1 - LOGIT_EPS]. */
export function logit(p: number): number {
  const q = p < LOGIT_EPS ? LOGIT_EPS : p > 1 - LOGIT_EPS ? 1 - LOGIT_EPS : p;
  return Math.log(q / (1 - q));
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Observed (p, y) pairs: targets 0/1 only; a non-finite probability of an observed entry is an error. */
function observedPairs(probs: ArrayLike<number>, targets: ArrayLike<number>): { p: Float64Array; y: Uint8Array } {
  if (probs.length !== targets.length) throw new Error(`calibration: ${probs.length} probabilities vs ${targets.length} targets`);
  const p: number[] = [], y: number[] = [];
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t !== 0 && t !== 1) continue;
    const v = probs[i];
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new Error(`calibration: probability ${v} at index ${i} is not in [0, 1]`);
    p.push(v);
    y.push(t);
  }
  return { p: Float64Array.from(p), y: Uint8Array.from(y) };
}

/** Brier score: mean squared difference of probability and observed label. NaN with no observed entry. */
export function brier(probs: ArrayLike<number>, targets: ArrayLike<number>): number {
  const { p, y } = observedPairs(probs, targets);
  if (p.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i] - y[i]) ** 2;
  return s / p.length;
}

/** Mean negative log-likelihood (natural log) of observed labels; p clamped as in `logit`. NaN with none. */
export function nll(probs: ArrayLike<number>, targets: ArrayLike<number>): number {
  const { p, y } = observedPairs(probs, targets);
  if (p.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - LOGIT_EPS, Math.max(LOGIT_EPS, p[i]));
    s -= y[i] ? Math.log(q) : Math.log(1 - q);
  }
  return s / p.length;
}

/** One bin of a reliability diagram. */
export interface ReliabilityBin {
  /** Observed entries in the bin. */
  count: number;
  /** Mean predicted probability and observed fraction of positives in the bin. */
  meanPredicted: number;
  observed: number;
  /** Smallest and largest probability in the bin. */
  lo: number;
  hi: number;
}

/**
 * The equal-mass bins of observed entries (ranks by p ascending, ties by index): the reliability diagram's
 * points and the ECE's terms. Fewer than `bins` bins when there are fewer entries; none with no entry.
 */
export function reliabilityBins(probs: ArrayLike<number>, targets: ArrayLike<number>, bins = ECE_BINS): ReliabilityBin[] {
  if (!(Number.isInteger(bins) && bins >= 1)) throw new Error(`calibration: bins must be a positive integer, got ${bins}`);
  const { p, y } = observedPairs(probs, targets);
  const n = p.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[a] - p[b] || a - b);
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const s = Math.floor((b * n) / bins), e = Math.floor(((b + 1) * n) / bins);
    if (e <= s) continue;
    let sp = 0, sy = 0;
    for (let k = s; k < e; k++) { sp += p[order[k]]; sy += y[order[k]]; }
    out.push({ count: e - s, meanPredicted: sp / (e - s), observed: sy / (e - s), lo: p[order[s]], hi: p[order[e - 1]] });
  }
  return out;
}

/** Expected calibration error over `bins` equal-mass bins (default 15). NaN with no observed entry. */
export function ece(probs: ArrayLike<number>, targets: ArrayLike<number>, bins = ECE_BINS): number {
  const rb = reliabilityBins(probs, targets, bins);
  let n = 0, s = 0;
  for (const b of rb) { n += b.count; s += b.count * Math.abs(b.observed - b.meanPredicted); }
  return n === 0 ? NaN : s / n;
}

const MAX_NEWTON = 100;

/**
 * Calibration-in-the-large: the intercept a of logit P(y=1) = a + offset(logit p), by Newton's method on the
 * (concave) log-likelihood. NaN with one class only (the optimum is at infinity).
 */
export function calibrationIntercept(probs: ArrayLike<number>, targets: ArrayLike<number>): number {
  const { p, y } = observedPairs(probs, targets);
  let pos = 0;
  for (const v of y) pos += v;
  if (pos === 0 || pos === y.length) return NaN;
  const z = Float64Array.from(p, logit);
  let a = 0;
  for (let it = 0; it < MAX_NEWTON; it++) {
    let g = 0, h = 0;
    for (let i = 0; i < z.length; i++) {
      const m = sigmoid(a + z[i]);
      g += y[i] - m;
      h += m * (1 - m);
    }
    if (!(h > 0)) return NaN;
    const step = g / h;
    a += step;
    if (Math.abs(step) < 1e-12 * (1 + Math.abs(a))) return a;
  }
  return NaN;
}

/**
 * Calibration slope (and the intercept of the same two-parameter fit): logit P(y=1) = a + b logit(p), by
 * Newton's method (IRLS). NaN for both when the fit does not converge (one class, a constant logit, or a
 * logit that separates the classes perfectly).
 */
export function calibrationSlope(probs: ArrayLike<number>, targets: ArrayLike<number>): { slope: number; intercept: number } {
  const { p, y } = observedPairs(probs, targets);
  const none = { slope: NaN, intercept: NaN };
  let pos = 0;
  for (const v of y) pos += v;
  if (pos === 0 || pos === y.length) return none;
  const z = Float64Array.from(p, logit);
  let a = 0, b = 1;
  let prev = logLik(z, y, a, b);
  for (let it = 0; it < MAX_NEWTON; it++) {
    let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
    for (let i = 0; i < z.length; i++) {
      const m = sigmoid(a + b * z[i]), w = m * (1 - m), r = y[i] - m;
      ga += r; gb += r * z[i];
      haa += w; hab += w * z[i]; hbb += w * z[i] * z[i];
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 1e-300)) return none;
    let da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    // Step halving keeps every step an ascent (Newton from b = 1 can overshoot on nearly separable data).
    let ll = logLik(z, y, a + da, b + db);
    for (let k = 0; k < 30 && !(ll >= prev - 1e-12 * Math.abs(prev)); k++) { da /= 2; db /= 2; ll = logLik(z, y, a + da, b + db); }
    a += da; b += db; prev = ll;
    if (Math.abs(da) < 1e-10 * (1 + Math.abs(a)) && Math.abs(db) < 1e-10 * (1 + Math.abs(b))) {
      return Number.isFinite(a) && Number.isFinite(b) ? { slope: b, intercept: a } : none;
    }
  }
  return none;
}

function logLik(z: Float64Array, y: Uint8Array, a: number, b: number): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    const u = a + b * z[i];
    // log sigmoid(u) = -log(1 + e^-u); log(1 - sigmoid(u)) = -log(1 + e^u), computed without overflow.
    s -= y[i] ? softplus(-u) : softplus(u);
  }
  return s;
}

function softplus(u: number): number {
  return u > 30 ? u : u < -30 ? Math.exp(u) : Math.log1p(Math.exp(u));
}

/** The bounds of a fitted temperature: an optimum beyond them is clamped (and a fit on one class gives 1). */
export const TEMPERATURE_RANGE: readonly [number, number] = [0.05, 20];

/**
 * The temperature T minimizing the mean NLL of sigmoid(logit(p) / T) on the observed labels: Newton's method
 * on s = 1 / T (the NLL is convex in s: a logistic regression without intercept on the logit), starting at
 * s = 1, with step halving; s is kept within 1 / TEMPERATURE_RANGE, so an optimum outside (an anti-correlated
 * logit wants s <= 0, which is no temperature) is clamped to the range. 1 when the label has fewer than two
 * observed classes (nothing to fit).
 */
export function fitTemperature(probs: ArrayLike<number>, targets: ArrayLike<number>): number {
  const { p, y } = observedPairs(probs, targets);
  let pos = 0;
  for (const v of y) pos += v;
  if (pos === 0 || pos === y.length) return 1;
  const z = Float64Array.from(p, logit);
  const sMin = 1 / TEMPERATURE_RANGE[1], sMax = 1 / TEMPERATURE_RANGE[0];
  const f = (s: number) => -logLik(z, y, 0, s);
  let s = 1, fs = f(s);
  for (let it = 0; it < MAX_NEWTON; it++) {
    let g = 0, h = 0;
    for (let i = 0; i < z.length; i++) {
      const m = sigmoid(s * z[i]);
      g += (m - y[i]) * z[i];
      h += m * (1 - m) * z[i] * z[i];
    }
    if (!(h > 0)) break;
    let next = Math.min(sMax, Math.max(sMin, s - g / h));
    let fn = f(next);
    for (let k = 0; k < 50 && fn > fs; k++) { next = (s + next) / 2; fn = f(next); }
    if (fn > fs) break;
    const moved = Math.abs(next - s);
    s = next; fs = fn;
    if (moved < 1e-12 * s) break;
  }
  return 1 / s;
}

/**
 * Apply per-label temperatures to a row-major [n, L] probability matrix: sigmoid(logit(p) / T_j), written to
 * `out` (default a Float32Array, as the model's probabilities). The one calibration map of the project: the
 * trainer's validation and test, `evaluate`, `predict`, the demo and the edge bundle all call it.
 */
export function calibrateProbabilities<T extends Float32Array | Float64Array = Float32Array>(
  probs: ArrayLike<number>, temperatures: readonly number[], out?: T,
): T {
  const L = temperatures.length;
  if (L === 0 || probs.length % L !== 0) throw new Error(`calibrateProbabilities: ${probs.length} probabilities for ${L} temperatures`);
  for (const t of temperatures) if (!(t > 0 && Number.isFinite(t))) throw new Error(`calibrateProbabilities: temperature ${t} is not a positive number`);
  const o = (out ?? new Float32Array(probs.length)) as T;
  if (o.length !== probs.length) throw new Error(`calibrateProbabilities: output of ${o.length} for ${probs.length} probabilities`);
  for (let i = 0; i < probs.length; i++) {
    const T = temperatures[i % L];
    o[i] = T === 1 ? probs[i] : sigmoid(logit(probs[i]) / T);
  }
  return o;
}

/** Calibration figures of one label. */
export interface LabelCalibration {
  brier: number;
  ece: number;
  /** Calibration-in-the-large (slope fixed at 1). */
  intercept: number;
  slope: number;
  nll: number;
  bins: ReliabilityBin[];
}

/** Per-label and macro calibration of a [n, L] matrix against [n, L] targets (row-major). */
export interface CalibrationResult {
  labels: string[];
  perLabel: LabelCalibration[];
  /** Means over the labels where each figure is defined. */
  macro: { brier: number; ece: number; intercept: number; slope: number; nll: number };
  /** How the figures are defined (stated in every report). */
  definition: string;
}

/** The sentence every report prints about how calibration is measured. */
export const CALIBRATION_DEFINITION = `Brier score; ECE over ${ECE_BINS} equal-mass bins of the observed entries; `
  + 'calibration intercept = calibration-in-the-large (logistic model of the label with logit(p) as offset, slope fixed at 1; ideal 0); '
  + 'calibration slope = coefficient of logit(p) in the logistic regression of the label on logit(p) (ideal 1) '
  + '(Van Calster et al., BMC Medicine 2019).';

function meanOf(v: number[]): number {
  let s = 0, n = 0;
  for (const x of v) if (!Number.isNaN(x)) { s += x; n++; }
  return n ? s / n : NaN;
}

/** Calibration of every label of a [n, L] probability matrix. */
export function calibration(probs: ArrayLike<number>, targets: ArrayLike<number>, labels: readonly string[]): CalibrationResult {
  const L = labels.length;
  if (probs.length !== targets.length || probs.length % L !== 0) throw new Error(`calibration: shapes ${probs.length} vs ${targets.length} for ${L} labels`);
  const n = probs.length / L;
  const perLabel: LabelCalibration[] = [];
  for (let j = 0; j < L; j++) {
    const p = new Float64Array(n), t = new Float64Array(n);
    for (let i = 0; i < n; i++) { p[i] = probs[i * L + j]; t[i] = targets[i * L + j]; }
    perLabel.push({
      brier: brier(p, t), ece: ece(p, t), intercept: calibrationIntercept(p, t), slope: calibrationSlope(p, t).slope, nll: nll(p, t),
      bins: reliabilityBins(p, t),
    });
  }
  const pick = (k: 'brier' | 'ece' | 'intercept' | 'slope' | 'nll') => meanOf(perLabel.map((c) => c[k]));
  return {
    labels: [...labels], perLabel,
    macro: { brier: pick('brier'), ece: pick('ece'), intercept: pick('intercept'), slope: pick('slope'), nll: pick('nll') },
    definition: CALIBRATION_DEFINITION,
  };
}

/** One temperature per label of a [n, L] validation matrix (`fitTemperature` per column). */
export function fitTemperatures(probs: ArrayLike<number>, targets: ArrayLike<number>, L: number): number[] {
  if (probs.length !== targets.length || probs.length % L !== 0) throw new Error(`fitTemperatures: shapes ${probs.length} vs ${targets.length} for ${L} labels`);
  const n = probs.length / L, out: number[] = [];
  for (let j = 0; j < L; j++) {
    const p = new Float64Array(n), t = new Float64Array(n);
    for (let i = 0; i < n; i++) { p[i] = probs[i * L + j]; t[i] = targets[i * L + j]; }
    out.push(fitTemperature(p, t));
  }
  return out;
}
