/**
 * Output of `npm run predict`: one JSON document or one CSV table, the same fields for a data set and for a
 * single input. Probabilities are written in full (the float32 value's shortest decimal), so reading them
 * back gives the same float32 bits.
 */
import { csvLine } from '../data/csv.ts';
import type { DatasetPrediction } from './dataset.ts';
import type { Explanation } from './explain.ts';
import type { Prediction } from './predictor.ts';

/** One output record. */
export interface OutputRecord {
  study_id?: number;
  subject_id?: number;
  split?: string;
  /** The image file of a single input. */
  input?: string;
  modalities: { image: boolean; table: boolean };
  features_used: string[];
  features_missing?: string[];
  features_invalid?: { name: string; value: unknown; reason: string }[];
  features_clipped?: string[];
  probabilities: Record<string, number>;
  /** True when nothing entered the model (no image, no usable field): the probabilities are its priors. */
  priors?: true;
  /** With --explain: the modality and feature contributions (features cut to the top ones per finding). */
  explanation?: Explanation & { listed?: number };
  /** Positive calls at the checkpoint's validation thresholds (absent: the checkpoint has none). */
  calls?: Record<string, boolean>;
}

export interface PredictOutput {
  model: string;
  labels: string[];
  /** Whether the probabilities are temperature-calibrated (the checkpoint's temperatures). */
  calibrated?: boolean;
  /** The checkpoint's thresholds by label, when it has them (the calls are probability >= threshold). */
  thresholds?: Record<string, number>;
  /** Data set source, when predicting a folder. */
  data?: { dir: string; split: string; absent_features: string[]; restandardized: string[]; unseen_categories: Record<string, number> };
  predictions: OutputRecord[];
}

/**
 * A probability that is NaN or infinite means the model's arithmetic broke down (weights that overflow); it
 * would print as `null` in JSON and pass for a result. It is an error naming the label and the input.
 */
function checkFinite(probabilities: Record<string, number>, where: string): void {
  for (const [label, p] of Object.entries(probabilities)) {
    if (!Number.isFinite(p)) throw new Error(`the model's probability of ${label} for ${where} is ${p} (its weights overflow or are not numbers); no output written`);
  }
}

/** Records of a data set prediction. */
export function datasetRecords(p: DatasetPrediction, labels: readonly string[]): OutputRecord[] {
  return p.rows.map((r) => {
    const probabilities: Record<string, number> = {};
    labels.forEach((l, k) => { probabilities[l] = r.probabilities[k]; });
    checkFinite(probabilities, `study ${r.studyId}`);
    return {
      study_id: r.studyId, subject_id: r.subjectId, split: r.split, modalities: { image: r.image, table: r.table }, features_used: r.used, probabilities,
      ...(r.calls ? { calls: r.calls } : {}),
    };
  });
}

/**
 * The record of a single-input prediction. With an explanation, `top` (> 0) keeps that many features per
 * finding, largest |contribution| first (0: all).
 */
export function singleRecord(p: Prediction, input?: string, opts: { top?: number } = {}): OutputRecord {
  checkFinite(p.probabilities, input ?? 'the input');
  return {
    ...(input !== undefined ? { input } : {}),
    modalities: p.modalities,
    ...(!p.modalities.image && !p.modalities.table ? { priors: true as const } : {}),
    features_used: p.features.used,
    features_missing: p.features.missing,
    features_invalid: p.features.invalid,
    features_clipped: p.features.clipped,
    probabilities: p.probabilities,
    ...(p.explanation ? { explanation: topFeatures(p.explanation, opts.top ?? 0) } : {}),
    ...(p.calls ? { calls: p.calls } : {}),
  };
}

/** The explanation with each finding's feature list cut to the `top` largest (0: all). */
function topFeatures(e: Explanation, top: number): Explanation & { listed?: number } {
  if (top <= 0) return e;
  const findings = Object.fromEntries(Object.entries(e.features.findings).map(([l, f]) => [l, { ...f, values: f.values.slice(0, top) }]));
  return { ...e, features: { ...e.features, findings }, listed: top };
}

/** JSON, two-space indented, with a final newline. */
export function toJson(out: PredictOutput): string {
  return `${JSON.stringify(out, null, 2)}\n`;
}

/**
 * CSV: study_id, subject_id, split, input, image, table (0/1; both 0: the priors), features_used and
 * features_invalid (semicolon-separated names), then one probability column per label, then, when the
 * checkpoint has thresholds, one `call: <label>` column per label (1 positive, 0 negative). With explanations,
 * flat columns follow per label L: `L:base`, `L:image`, `L:table`, `L:full` (logit scale), `L:p_base` ...
 * `L:p_full` (probability scale), and for each listed feature rank i `L:feature_i`, `L:feature_i_value` (logit
 * scale) and `L:feature_i_se` (empty when exact).
 */
export function toCsv(out: PredictOutput): string {
  const withCalls = out.predictions.some((r) => r.calls);
  const callCols = withCalls ? out.labels.map((l) => `call: ${l}`) : [];
  const explained = out.predictions.filter((r) => r.explanation);
  const ranks = explained.length ? Math.max(...explained.map((r) => Math.max(0, ...Object.values(r.explanation!.features.findings).map((f) => f.values.length)))) : 0;
  const explainCols = explained.length ? out.labels.flatMap((l) => [
    ...['base', 'image', 'table', 'full'].map((c) => `${l}:${c}`), ...['base', 'image', 'table', 'full'].map((c) => `${l}:p_${c}`),
    ...Array.from({ length: ranks }, (_, i) => [`${l}:feature_${i + 1}`, `${l}:feature_${i + 1}_value`, `${l}:feature_${i + 1}_se`]).flat(),
  ]) : [];
  const lines = [csvLine(['study_id', 'subject_id', 'split', 'input', 'image', 'table', 'features_used', 'features_invalid', ...out.labels, ...callCols, ...explainCols])];
  for (const r of out.predictions) {
    const e = r.explanation;
    const explainVals = !explained.length ? [] : out.labels.flatMap((l) => {
      if (!e) return new Array<string>(8 + 3 * ranks).fill('');
      const m = e.modalities[l], p = e.probability[l], f = e.features.findings[l].values;
      return [m.base, m.image, m.table, m.full, p.base, p.image, p.table, p.full,
        ...Array.from({ length: ranks }, (_, i) => (f[i] ? [f[i].name, f[i].value, f[i].se ?? ''] : ['', '', ''])).flat()];
    });
    lines.push(csvLine([
      r.study_id ?? '', r.subject_id ?? '', r.split ?? '', r.input ?? '',
      r.modalities.image ? 1 : 0, r.modalities.table ? 1 : 0,
      r.features_used.join(';'), (r.features_invalid ?? []).map((f) => f.name).join(';'),
      ...out.labels.map((l) => r.probabilities[l]),
      ...(withCalls ? out.labels.map((l) => (r.calls?.[l] ? 1 : 0)) : []),
      ...explainVals,
    ]));
  }
  return `${lines.join('\n')}\n`;
}
