/**
 * Cells of a protocol run: a (method, protocol, train level, seed) cell's test probabilities at every test
 * level, built from its jobs' stored predictions (one model, a model with one modality's studies answered by
 * the training prevalence, or the late-fusion average of two), and its metrics.
 */
import { LABEL_NAMES } from '../engine/batch.ts';
import { evaluate } from '../eval/index.ts';
import { f32Json } from './job-files.ts';
import type { JobPoint, JobResult } from './job-files.ts';
import type { Jobs } from './jobs.ts';
import { samePoint } from './jobs.ts';
import { USES_DROPOUT_CHOICE, jobName, modelPlans } from './methods.ts';
import type { MethodName, MissPoint, Plan } from './methods.ts';
import type { CellKey, ResultRow, StoredCell } from './results.ts';

function pointOf(r: JobResult, pt: MissPoint): JobPoint {
  const p = r.points.find((q) => samePoint(q, pt));
  if (!p) throw new Error(`run ${r.name} has no test predictions at missImage ${pt.missImage}, missTab ${pt.missTab}`);
  return p;
}

/** A cell's test probabilities at test level t and the per-label F1 thresholds (chosen on validation). */
function cellProbs(plan: Plan, t: number, jobs: Jobs): { probs: Float32Array; thresholds: number[] } {
  const L = LABEL_NAMES.length;
  if (plan.kind === 'model') {
    const r = jobs.get(plan.job), p = pointOf(r, plan.point(t));
    const probs = p.probs.slice();
    if (plan.only) {
      const has = plan.only === 'image' ? p.hasImage : p.hasTab;
      for (let i = 0; i < has.length; i++) if (!has[i]) for (let j = 0; j < L; j++) probs[i * L + j] = r.trainPrevalence[j];
    }
    return { probs, thresholds: r.validation.thresholds };
  }
  const ri = jobs.get(plan.image.job), rt = jobs.get(plan.tabular.job);
  const pi = pointOf(ri, plan.image.point(t)), pt = pointOf(rt, plan.tabular.point(t));
  const n = pi.hasImage.length, probs = new Float32Array(n * L);
  for (let i = 0; i < n; i++) {
    const hi = pi.hasImage[i], ht = pt.hasTab[i];
    for (let j = 0; j < L; j++) {
      const a = pi.probs[i * L + j], b = pt.probs[i * L + j];
      probs[i * L + j] = hi && ht ? (a + b) / 2 : hi ? a : ht ? b : ri.trainPrevalence[j];
    }
  }
  // No validation predictions of the average exist: its thresholds are the mean of the two models' thresholds.
  const thresholds = ri.validation.thresholds.map((x, j) => (x + rt.validation.thresholds[j]) / 2);
  return { probs, thresholds };
}

/** A cell's rows at every test level, and its own-level predictions for the bootstrap. */
export function buildCell(key: CellKey, plan: Plan, levels: readonly number[], jobs: Jobs, drop: number | undefined): StoredCell {
  const targets = jobs.known.ts!.targets;
  const rows: ResultRow[] = [];
  const predictions: { testLevel: number; probs: number[] }[] = [];
  for (const t of levels) {
    const { probs, thresholds } = cellProbs(plan, t, jobs);
    const ev = evaluate(probs, targets, LABEL_NAMES, thresholds);
    rows.push({ ...key, testLevel: t, macroAuroc: ev.macroAuroc, macroAuprc: ev.macroAuprc, macroF1: ev.macroF1, perLabelAuroc: ev.auroc });
    if (t === key.trainLevel) predictions.push({ testLevel: t, probs: f32Json(probs) as number[] });
  }
  const runs = modelPlans(plan).map((m) => jobName(m.job));
  const meta: Record<string, unknown> = { runs };
  // The modality dropout the run used (0 where a modality is removed everywhere and dropout cannot act).
  if (USES_DROPOUT_CHOICE.has(key.method as MethodName)) meta.drop = plan.kind === 'model' ? plan.job.overrides.dropImage : drop;
  return { ...key, rows, predictions, meta };
}
