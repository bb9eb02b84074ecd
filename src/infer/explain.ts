/**
 * Why the model said so (issue 27): Shapley values computed by masking, which masked fusion makes exact. Every
 * subset of inputs is a valid forward pass, so an absent input is the model's own "missing" and there is no
 * imputation baseline.
 *
 * - Modalities: exact Shapley values over the players {image, table}, for each finding, from 4 rows (both,
 *   image only, table only, neither), on the logit scale and on the probability scale. `base` = f(neither),
 *   and base + image + table = full = f(both) (computed in float64 from the float32 outputs: the identity
 *   holds to float64 rounding, far below float32 rounding).
 * - Features: Shapley values over the table features present in the study, the image held as given (present
 *   or absent, as the study has it). Exact (all 2^k subsets as rows) up to `exactMax` = 12 present features;
 *   above, permutation sampling: a seeded, stated number of permutations drawn in antithetic pairs (a
 *   permutation and its reverse), each value with its standard error over the pairs. Both satisfy
 *   efficiency: the values sum to f(all present) - f(none present).
 *
 * No Node.js API and no model call here: `explainRows` lists the masked rows to evaluate, the caller runs
 * them (synchronously or not; Predictor.explain / explainAsync), and `explainFromLogits` combines the logits.
 */
import type { Batch } from '../engine/batch.ts';
import { NUM_LABELS } from '../engine/batch.ts';
import { Rng } from '../engine/rng.ts';

/** The features up to which values are exact by default (2^12 = 4096 rows). */
export const EXACT_MAX = 12;
/** Permutations drawn above EXACT_MAX by default (6 antithetic pairs: 2 + 12(k-1) rows; about 1 s for `small` with 32 features on one core). */
export const DEFAULT_PERMUTATIONS = 12;
/** Most forward rows one explanation may take (its logits alone are 56 bytes a row): more is refused before any work. */
export const MAX_EXPLAIN_ROWS = 1 << 20;
/** Rows evaluated in one batch (bounds memory: `small` holds 64 x 64 floats of image per row). */
export const EXPLAIN_CHUNK = 256;

export interface ExplainOptions {
  /** Present features up to this count get exact values (2^k rows); above it, permutation sampling. Default 12. */
  exactMax?: number;
  /** Permutations when sampling: even, at least 4 (drawn in antithetic pairs). Default 12. */
  permutations?: number;
  /** Seed of the permutations. Default 0. */
  seed?: number;
  /** Feature values at all (false: modalities only, 4 rows). Default true. */
  features?: boolean;
}

/** Exact Shapley values over {image, table} for one finding; base + image + table = full. */
export interface ModalityValues {
  /** f(neither): the model's output with no input at all. */
  base: number;
  /** The image's Shapley value (0 exactly when the study has no image). */
  image: number;
  /** The table's Shapley value (0 exactly when the study has no table feature). */
  table: number;
  /** f(both): the output for the study as given. */
  full: number;
}

/** One present feature's Shapley value for one finding (logit scale). */
export interface FeatureValue {
  name: string;
  value: number;
  /** Standard error of a sampled value (over the antithetic pairs); absent when exact. */
  se?: number;
}

/** The feature values of one finding, largest |value| first; base + sum(values) = full. */
export interface FindingFeatures {
  /** f(image as given, no table feature): the baseline the values move from. */
  base: number;
  /** f(image as given, every present feature). */
  full: number;
  values: FeatureValue[];
}

/** The explanation of one study. */
export interface Explanation {
  /** Logit scale, per finding. */
  modalities: Record<string, ModalityValues>;
  /** Probability scale (Shapley values of the probabilities), per finding. */
  probability: Record<string, ModalityValues>;
  features: {
    method: 'exact' | 'permutation';
    /** The features that were players (present in the study), in token order. */
    present: string[];
    /** The model's features absent from the study: not players, value 0 exactly. */
    absent: string[];
    /** Permutations drawn (permutation method only). */
    permutations?: number;
    seed?: number;
    /** The image during the feature passes: held as the study gives it. */
    image: 'held as given (present)' | 'held as given (absent)';
    /** What the values are measured from, in words. */
    baseline: string;
    /** Logit scale, per finding. */
    findings: Record<string, FindingFeatures>;
  };
  /** Forward rows this explanation took (4 for the modalities, the rest for the features). */
  rows: number;
}

/** One masked row: the image kept or dropped, and which present features are kept (null: all as given). */
export interface MaskedRow {
  image: boolean;
  /** One entry per present feature (in `present` order): 1 kept, 0 masked. */
  keep: Uint8Array | null;
}

/** The plan of an explanation: the rows to evaluate and how their outputs combine. */
export interface ExplainPlan {
  rows: MaskedRow[];
  /** Token indices of the present features: numeric f as f, categorical c as Fn + c. */
  present: number[];
  method: 'exact' | 'permutation';
  /** Exact only: the row of each subset s of the present features (bit j: feature j kept). */
  subsetRow?: Int32Array;
  /** Sampling only: the permutations, each an order of 0..k-1 (the row of prefix j is `prefixRow[p][j]`). */
  perms?: number[][];
  prefixRow?: number[][];
  permutations?: number;
  seed?: number;
}

/**
 * The 4 modality rows at the start of every plan: the study as given; its image (if any) without the table;
 * the table without the image; nothing.
 */
const AS_GIVEN = 0, AS_GIVEN_NO_TABLE = 1, TABLE_ONLY = 2, NEITHER = 3;
/** The modality rows, first in every plan. */
export const MODALITY_ROWS = 4;

/** The present features of one study (row `i` of a batch) as token indices. */
export function presentFeatures(batch: Batch, i = 0): number[] {
  const Fn = batch.num.length / batch.B, Fc = batch.cat.length / batch.B;
  const out: number[] = [];
  for (let f = 0; f < Fn; f++) if (batch.numPresent[i * Fn + f]) out.push(f);
  for (let c = 0; c < Fc; c++) if (batch.catPresent[i * Fc + c]) out.push(Fn + c);
  return out;
}

function checkOptions(o: ExplainOptions): Required<ExplainOptions> {
  const exactMax = o.exactMax ?? EXACT_MAX, permutations = o.permutations ?? DEFAULT_PERMUTATIONS, seed = o.seed ?? 0;
  if (!Number.isInteger(exactMax) || exactMax < 0 || exactMax > 16) throw new Error(`explain: exactMax ${exactMax} is not an integer in [0, 16] (2^16 rows at most)`);
  if (!Number.isInteger(permutations) || permutations < 4 || permutations % 2 !== 0 || permutations > 100000) throw new Error(`explain: permutations ${permutations} is not an even integer in [4, 100000]`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`explain: seed ${seed} is not an integer in [0, 2^32)`);
  return { exactMax, permutations, seed, features: o.features ?? true };
}

/**
 * The rows one study's explanation needs: the 4 modality rows, then the feature rows (image as given): all
 * 2^k subsets of the k present features when k <= exactMax, else for each permutation its prefixes of length
 * 1..k-1. The empty and the full subset are modality rows 1 (image as given, no feature) and 0 (as given),
 * shared, so the feature values and the modality values start from the same two outputs.
 */
export function explainRows(present: readonly number[], hasImage: boolean, options: ExplainOptions = {}): ExplainPlan {
  const o = checkOptions(options);
  const k = present.length;
  const rows: MaskedRow[] = [
    { image: hasImage, keep: null }, { image: hasImage, keep: new Uint8Array(k) },
    { image: false, keep: null }, { image: false, keep: new Uint8Array(k) },
  ];
  if (!o.features || k === 0) return { rows, present: [...present], method: 'exact' };
  if (k <= o.exactMax) {
    const all = (1 << k) - 1;
    const subsetRow = new Int32Array(1 << k);
    for (let s = 0; s <= all; s++) {
      if (s === 0 || s === all) {
        subsetRow[s] = s === 0 ? AS_GIVEN_NO_TABLE : AS_GIVEN;
        continue;
      }
      const keep = new Uint8Array(k);
      for (let j = 0; j < k; j++) keep[j] = (s >> j) & 1;
      subsetRow[s] = rows.length;
      rows.push({ image: hasImage, keep });
    }
    return { rows, present: [...present], method: 'exact', subsetRow };
  }
  const need = MODALITY_ROWS + o.permutations * (k - 1);
  if (need > MAX_EXPLAIN_ROWS) throw new Error(`explain: ${o.permutations} permutations of ${k} features take ${need} forward rows, more than the ${MAX_EXPLAIN_ROWS} allowed; use fewer permutations`);
  const rng = new Rng(o.seed);
  const perms: number[][] = [];
  for (let p = 0; p < o.permutations / 2; p++) {
    const perm = rng.shuffle(Array.from({ length: k }, (_, j) => j));
    perms.push(perm, [...perm].reverse());
  }
  const prefixRow = perms.map((perm) => {
    const idx = [AS_GIVEN_NO_TABLE];
    const keep = new Uint8Array(k);
    for (let j = 0; j < k - 1; j++) {
      keep[perm[j]] = 1;
      idx.push(rows.length);
      rows.push({ image: hasImage, keep: keep.slice() });
    }
    idx.push(AS_GIVEN);
    return idx;
  });
  return { rows, present: [...present], method: 'permutation', perms, prefixRow, permutations: o.permutations, seed: o.seed };
}

/**
 * The batch of rows `from`..`to` of a plan over one study (row `i` of `study`): the image and each present
 * feature copied or masked as the row says. Absent inputs are only flagged absent (their values are ignored).
 */
export function maskedBatch(study: Batch, plan: ExplainPlan, from: number, to: number, i = 0): Batch {
  const B = to - from, SS = study.S * study.S;
  const Fn = study.num.length / study.B, Fc = study.cat.length / study.B;
  const out: Batch = {
    B, S: study.S, image: new Float32Array(B * SS), hasImage: new Uint8Array(B),
    num: new Float32Array(B * Fn), numPresent: new Uint8Array(B * Fn), cat: new Int32Array(B * Fc), catPresent: new Uint8Array(B * Fc),
    labels: new Float32Array(B * NUM_LABELS).fill(NaN),
  };
  const img = study.image.subarray(i * SS, (i + 1) * SS);
  const num = study.num.subarray(i * Fn, (i + 1) * Fn), cat = study.cat.subarray(i * Fc, (i + 1) * Fc);
  for (let r = 0; r < B; r++) {
    const row = plan.rows[from + r];
    if (row.image) {
      out.image.set(img, r * SS);
      out.hasImage[r] = 1;
    }
    out.num.set(num, r * Fn);
    out.cat.set(cat, r * Fc);
    plan.present.forEach((t, j) => {
      if (row.keep !== null && !row.keep[j]) return;
      if (t < Fn) out.numPresent[r * Fn + t] = 1;
      else out.catPresent[r * Fc + t - Fn] = 1;
    });
  }
  return out;
}

/** Two-player exact Shapley values from the 4 values. */
function twoPlayers(both: number, image: number, table: number, neither: number): ModalityValues {
  const phiImage = 0.5 * ((image - neither) + (both - table));
  const phiTable = 0.5 * ((table - neither) + (both - image));
  return { base: neither, image: phiImage, table: phiTable, full: both };
}

/** The Shapley weights m!(k-m-1)!/k! of a coalition of m others, as 1 / (k C(k-1, m)), in float64. */
function shapleyWeights(k: number): Float64Array {
  const w = new Float64Array(k);
  let c = 1; // C(k-1, m)
  for (let m = 0; m < k; m++) {
    w[m] = 1 / (k * c);
    c = (c * (k - 1 - m)) / (m + 1);
  }
  return w;
}

function popcount(s: number): number {
  let n = 0;
  for (; s; s &= s - 1) n++;
  return n;
}

/** Exact Shapley values of k players from v(s) for all 2^k subsets (v indexed by the subset's bits). */
export function exactShapley(v: (s: number) => number, k: number): Float64Array {
  const w = shapleyWeights(k);
  const phi = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const bit = 1 << j;
    let acc = 0;
    for (let s = 0; s < 1 << k; s++) if (!(s & bit)) acc += w[popcount(s)] * (v(s | bit) - v(s));
    phi[j] = acc;
  }
  return phi;
}

/**
 * Combine the logits [rows, 14] of a plan's rows into the explanation. `probs` [4, 14] are the probabilities
 * of the 4 modality rows as the predictor reports them (so `probability[l].full` is the prediction's
 * probability exactly); `names` are the model's feature names in token order, `labels` the finding names
 * in logit order.
 */
export function explainFromLogits(plan: ExplainPlan, logits: Float32Array, probs: Float32Array, names: readonly string[], labels: readonly string[]): Explanation {
  const L = NUM_LABELS;
  if (logits.length !== plan.rows.length * L) throw new Error(`explain: ${logits.length} logits for ${plan.rows.length} rows`);
  if (probs.length !== MODALITY_ROWS * L) throw new Error(`explain: ${probs.length} probabilities for the ${MODALITY_ROWS} modality rows`);
  const at = (row: number, l: number): number => logits[row * L + l];
  const pr = (row: number, l: number): number => probs[row * L + l];
  const modalities: Record<string, ModalityValues> = {}, probability: Record<string, ModalityValues> = {};
  const findings: Record<string, FindingFeatures> = {};
  const k = plan.present.length;
  const hasImage = plan.rows[AS_GIVEN].image;
  for (let l = 0; l < L; l++) {
    const label = labels[l];
    // Image only = the as-given image without the table: when the study has no image, that is "neither".
    modalities[label] = twoPlayers(at(AS_GIVEN, l), at(AS_GIVEN_NO_TABLE, l), at(TABLE_ONLY, l), at(NEITHER, l));
    probability[label] = twoPlayers(pr(AS_GIVEN, l), pr(AS_GIVEN_NO_TABLE, l), pr(TABLE_ONLY, l), pr(NEITHER, l));
    let values: FeatureValue[] = [];
    if (k > 0 && (plan.subsetRow || plan.perms)) {
      if (plan.method === 'exact') {
        const rowOf = plan.subsetRow!;
        const phi = exactShapley((s) => at(rowOf[s], l), k);
        values = plan.present.map((t, j) => ({ name: names[t], value: phi[j] }));
      } else {
        const { mean, se } = sampledShapley(plan, (row) => at(row, l), k);
        values = plan.present.map((t, j) => ({ name: names[t], value: mean[j], se: se[j] }));
      }
      values.sort((a, b) => Math.abs(b.value) - Math.abs(a.value) || (a.name < b.name ? -1 : 1));
    }
    findings[label] = { base: at(AS_GIVEN_NO_TABLE, l), full: at(AS_GIVEN, l), values };
  }
  const present = new Set(plan.present);
  return {
    modalities, probability,
    features: {
      method: plan.method,
      present: plan.present.map((t) => names[t]),
      absent: names.filter((_, t) => !present.has(t)),
      ...(plan.method === 'permutation' ? { permutations: plan.permutations, seed: plan.seed } : {}),
      image: hasImage ? 'held as given (present)' : 'held as given (absent)',
      baseline: `the model's output with the image ${hasImage ? 'as given' : 'absent (as given)'} and no table feature (masked, the model's own missing; no imputation)`,
      findings,
    },
    rows: plan.rows.length,
  };
}

/** Permutation-sampled values: the mean marginal contribution, and its standard error over antithetic pairs. */
function sampledShapley(plan: ExplainPlan, v: (row: number) => number, k: number): { mean: Float64Array; se: Float64Array } {
  const perms = plan.perms!, prefix = plan.prefixRow!;
  const pairs = perms.length / 2;
  const sum = new Float64Array(k), sumSq = new Float64Array(k);
  const pairMean = new Float64Array(k);
  for (let p = 0; p < perms.length; p++) {
    if (p % 2 === 0) pairMean.fill(0);
    const perm = perms[p], idx = prefix[p];
    for (let j = 0; j < k; j++) pairMean[perm[j]] += 0.5 * (v(idx[j + 1]) - v(idx[j]));
    if (p % 2 === 1) {
      for (let f = 0; f < k; f++) {
        sum[f] += pairMean[f];
        sumSq[f] += pairMean[f] * pairMean[f];
      }
    }
  }
  const mean = new Float64Array(k), se = new Float64Array(k);
  for (let f = 0; f < k; f++) {
    mean[f] = sum[f] / pairs;
    const variance = Math.max(0, (sumSq[f] - pairs * mean[f] * mean[f]) / (pairs - 1));
    se[f] = Math.sqrt(variance / pairs);
  }
  return { mean, se };
}

/**
 * Mean |contribution| per feature and finding over many explanations (for an evaluation report), and each
 * modality's mean share by availability pattern (image+table, image only, table only). A feature's mean is
 * over the studies where it was present (`count`).
 */
export interface ContributionSummary {
  features: Record<string, { count: number; meanAbs: Record<string, number> }>;
  /** Mean |image| / (|image| + |table|) and the table's, per pattern, per finding (logit scale; 0/0 counts as 0). */
  modalityShare: Record<'image+table' | 'image only' | 'table only' | 'neither', { count: number; image: Record<string, number>; table: Record<string, number> }>;
}

/** Aggregate explanations (e.g. over a test split): see ContributionSummary. */
export function summarizeContributions(explanations: readonly Explanation[], labels: readonly string[]): ContributionSummary {
  const zero = (): Record<string, number> => Object.fromEntries(labels.map((l) => [l, 0]));
  const features: ContributionSummary['features'] = {};
  const modalityShare = Object.fromEntries((['image+table', 'image only', 'table only', 'neither'] as const).map((p) => [p, { count: 0, image: zero(), table: zero() }])) as ContributionSummary['modalityShare'];
  for (const e of explanations) {
    const img = e.features.image === 'held as given (present)', tab = e.features.present.length > 0;
    const pattern = img && tab ? 'image+table' : img ? 'image only' : tab ? 'table only' : 'neither';
    const share = modalityShare[pattern];
    share.count++;
    for (const l of labels) {
      const m = e.modalities[l];
      const total = Math.abs(m.image) + Math.abs(m.table);
      if (total > 0) {
        share.image[l] += Math.abs(m.image) / total;
        share.table[l] += Math.abs(m.table) / total;
      }
      for (const f of e.features.findings[l].values) {
        const s = (features[f.name] ??= { count: 0, meanAbs: zero() });
        s.meanAbs[l] += Math.abs(f.value);
      }
    }
    for (const name of e.features.present) if (features[name]) features[name].count++;
  }
  for (const s of Object.values(features)) for (const l of labels) s.meanAbs[l] /= Math.max(1, s.count);
  for (const s of Object.values(modalityShare)) for (const l of labels) {
    s.image[l] /= Math.max(1, s.count);
    s.table[l] /= Math.max(1, s.count);
  }
  return { features, modalityShare };
}
