/**
 * Evaluation of a run: predictions through the worker pool, the validation score of each epoch, the final
 * test of the best checkpoint (F1 thresholds from validation), the end-of-run summary, and the protocols'
 * extra test predictions (`testPointPredictions`, called from a `TrainOptions.afterTest` hook).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate } from '../eval/index.ts';
import type { EvalResult } from '../eval/index.ts';
import { LABEL_NAMES, hasTabular } from '../engine/index.ts';
import { decodeCheckpoint } from '../model/index.ts';
import { evalTargets, prevalence } from './batching.ts';
import type { TrainConfig } from './config.ts';
import type { Predict, RunContext } from './context.ts';
import { writeFileAtomic } from '../node/files.ts';
import { injectedMissing } from './missing.ts';
import type { TaskRunner } from './pool.ts';
import type { PredictResult, PredictTask } from './replica.ts';
import { writeStateJson } from './run-folder.ts';
import type { RunState } from './run-folder.ts';
import type { DataParallelStep } from './step.ts';

/** Predictions of the stepper's current parameters, `evalBatch` samples per worker task, with what each row showed. */
export function makePredict(runner: TaskRunner, stepper: DataParallelStep, cfg: TrainConfig): Predict {
  return async (rows, missImage, missTab) => {
    const L = LABEL_NAMES.length, n = rows.length;
    const out: PredictResult = { probs: new Float32Array(n * L), hasImage: new Uint8Array(n), hasTab: new Uint8Array(n) };
    const jobs: Promise<void>[] = [];
    for (let a = 0; a < n; a += cfg.evalBatch) {
      const idx = rows.slice(a, Math.min(n, a + cfg.evalBatch));
      const task: PredictTask = { kind: 'predict', version: stepper.version, indices: idx, missImage, missTab };
      jobs.push(runner.run<PredictResult>(task).then((p) => {
        out.probs.set(p.probs, a * L);
        out.hasImage.set(p.hasImage, a);
        out.hasTab.set(p.hasTab, a);
      }));
    }
    await Promise.all(jobs);
    return out;
  };
}

/** Validation metrics of the current parameters (train-time injected missingness). */
export async function validate(ctx: RunContext): Promise<EvalResult> {
  const { cfg, ds, valRows } = ctx;
  return evaluate((await ctx.predict(valRows, cfg.missImage, cfg.missTab)).probs, evalTargets(ds.labels, valRows), LABEL_NAMES);
}

/** Test-time injected missingness (-1 in the config: the training rates). */
export function testMissingness(cfg: TrainConfig): { testMissImage: number; testMissTab: number } {
  return { testMissImage: cfg.testMissImage >= 0 ? cfg.testMissImage : cfg.missImage, testMissTab: cfg.testMissTab >= 0 ? cfg.testMissTab : cfg.missTab };
}

/**
 * Load the best checkpoint, score validation (for the F1 thresholds) and test, write metrics.json, then mark
 * the run finished in state.json (last: a run marked finished always has its metrics).
 */
export async function testBest(ctx: RunContext): Promise<{ validation: EvalResult; test: EvalResult }> {
  const { cfg, ds, testRows, runDir, state } = ctx;
  ctx.stepper.setParams(decodeCheckpoint(new Uint8Array(readFileSync(join(runDir, 'model.safetensors')))).params);
  const validation = await validate(ctx);
  const { testMissImage, testMissTab } = testMissingness(cfg);
  const test = evaluate((await ctx.predict(testRows, testMissImage, testMissTab)).probs, evalTargets(ds.labels, testRows), LABEL_NAMES, validation.thresholds);
  writeFileAtomic(join(runDir, 'metrics.json'), JSON.stringify({ bestEpoch: state.bestEpoch, validation, test, testMissImage, testMissTab }, null, 2) + '\n');
  state.finished = true;
  writeStateJson(runDir, state);
  return { validation, test };
}

/** One test-time missingness setting to evaluate the best checkpoint at (the protocols' test levels). */
export interface TestPoint {
  missImage: number;
  missTab: number;
}

/** Test-split predictions of the best checkpoint at one TestPoint, with what each study had after injection. */
export interface TestPredictions extends TestPoint {
  /** [n,14] probabilities. */
  probs: Float32Array;
  hasImage: Uint8Array;
  hasTab: Uint8Array;
}

/** The protocols' view of a finished run's test split. */
export interface TestPointOutputs {
  predictions: TestPredictions[];
  /** [n,14] test targets, each study's patient (the bootstrap's unit), and the training split's label prevalence. */
  targets: Float32Array;
  patients: Int32Array;
  trainPrevalence: Float64Array;
}

/**
 * Test predictions of the best checkpoint (loaded by testBest) at each point, with each study's modalities
 * after injection. Used by the protocol runner through `TrainOptions.afterTest`; the CLI never needs it.
 */
export async function testPointPredictions(ctx: RunContext, points: readonly TestPoint[]): Promise<TestPointOutputs> {
  const { ds, testRows } = ctx;
  const predictions: TestPredictions[] = [];
  for (const tp of points) {
    // What each study showed comes back from the replicas (the batch policy), not worked out again here.
    const { probs, hasImage, hasTab } = await ctx.predict(testRows, tp.missImage, tp.missTab);
    predictions.push({ missImage: tp.missImage, missTab: tp.missTab, probs, hasImage, hasTab });
  }
  return {
    predictions, targets: evalTargets(ds.labels, testRows), patients: Int32Array.from(testRows, (r) => ds.subjectId[r]),
    trainPrevalence: prevalence(ds.labels, ctx.trainRows),
  };
}

const num = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '  -   ');

/** A per-label table of test metrics (AUROC, AUPRC, F1 at the validation threshold, observed and positive counts). */
export function metricsTable(r: EvalResult): string[] {
  const w = Math.max(5, ...r.labels.map((l) => l.length));
  const lines = [`${'label'.padEnd(w)}  AUROC   AUPRC   F1      observed  positive`];
  r.labels.forEach((l, j) => {
    lines.push(`${l.padEnd(w)}  ${num(r.auroc[j])}  ${num(r.auprc[j])}  ${num(r.f1[j])}  ${String(r.count[j]).padStart(8)}  ${String(r.positives[j]).padStart(8)}`);
  });
  lines.push(`${'macro'.padEnd(w)}  ${num(r.macroAuroc)}  ${num(r.macroAuprc)}  ${num(r.macroF1)}`);
  return lines;
}

/** The end of a run: where it is, its best checkpoint, how long it took, and its test metrics per label. */
export function summaryLines(o: { runDir: string; state: RunState; seconds?: number; test?: EvalResult }): string[] {
  const lines = [
    `run folder: ${o.runDir}`,
    `best checkpoint: ${join(o.runDir, 'model.safetensors')} (epoch ${o.state.bestEpoch}, validation macro AUROC ${o.state.bestAuroc === null ? '-' : o.state.bestAuroc.toFixed(4)})`,
  ];
  if (o.seconds !== undefined) lines.push(`total time: ${formatSeconds(o.seconds)}`);
  if (o.test) lines.push('test metrics (best checkpoint, F1 at thresholds chosen on validation):', ...metricsTable(o.test).map((l) => `  ${l}`));
  return lines;
}

/** Seconds as "1h02m03s", "4m05s" or "6.1 s". */
export function formatSeconds(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  if (sec < 60) return `${sec.toFixed(1)} s`;
  const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = Math.round(sec % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m${String(s).padStart(2, '0')}s` : `${m}m${String(s).padStart(2, '0')}s`;
}
