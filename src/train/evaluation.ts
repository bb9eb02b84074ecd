/**
 * Evaluation of a run: predictions through the worker pool, the validation score of each epoch, the final
 * test of the best checkpoint (F1 thresholds from validation), the end-of-run summary, and the protocols'
 * extra test predictions (`testPointPredictions`, called from a `TrainOptions.afterTest` hook).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { calibrateProbabilities, characteristics, crossAttributes, evaluate, fitTemperatures, markdownToHtml, modelCard, nll, reliabilitySvg, scoreSplit, splitReportMd } from '../eval/index.ts';
import type { EvalResult, SplitReport } from '../eval/index.ts';
import { LABEL_NAMES } from '../engine/index.ts';
import { buildLayout, decodeCheckpoint, encodeCheckpoint } from '../model/index.ts';
import { characteristicsFacts, cohortFlowLines, sourceLines, studyAttributes } from '../data/index.ts';
import type { PreparedDataset } from '../data/index.ts';
import { evalTargets, prevalence } from './batching.ts';
import type { TrainConfig } from './config.ts';
import type { Predict, RunContext } from './context.ts';
import { writeFileAtomic } from '../node/files.ts';
import { gitCommit } from '../node/commit.ts';
import type { TaskRunner } from './pool.ts';
import type { PredictResult, PredictTask } from './replica.ts';
import type { Shown } from '../engine/batch.ts';
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

/** How the trainer chooses the thresholds it stores (the `rule` of the checkpoint's `thresholds` entry). */
export const THRESHOLD_RULE = 'per finding, the validation probability (after calibration) that maximizes F1 on the observed labels; the highest such; 0.5 where validation has no positive';

/** What testBest stored in the checkpoint and wrote to metrics.json besides the metrics. */
export interface Calibrated {
  /** Per-label temperatures fitted on validation (absent: --calibrate false). */
  temperatures?: number[];
  /** Mean validation NLL per label before and after (after = before without temperatures). */
  validationNll: { before: number[]; after: number[] };
}

/**
 * Load the best checkpoint, fit the temperatures on validation (unless --calibrate false), choose the
 * thresholds on the calibrated validation probabilities, score test with the evaluation `npm run evaluate`
 * uses (src/eval/report.ts), store thresholds and temperatures in model.safetensors' metadata, write
 * metrics.json, then mark the run finished in state.json (last: a run marked finished always has its metrics).
 */
export async function testBest(ctx: RunContext): Promise<{ validation: EvalResult; test: EvalResult; report: SplitReport }> {
  const { cfg, ds, valRows, testRows, runDir, state } = ctx;
  const ckPath = join(runDir, 'model.safetensors');
  const best = decodeCheckpoint(new Uint8Array(readFileSync(ckPath)));
  ctx.stepper.setParams(best.params);
  const L = LABEL_NAMES.length;
  const valRaw = (await ctx.predict(valRows, cfg.missImage, cfg.missTab)).probs, valTargets = evalTargets(ds.labels, valRows);
  const temperatures = cfg.calibrate ? fitTemperatures(valRaw, valTargets, L) : undefined;
  const valProbs = temperatures ? calibrateProbabilities(valRaw, temperatures) : valRaw;
  const validation = evaluate(valProbs, valTargets, LABEL_NAMES);
  const perLabelNll = (p: Float32Array) => LABEL_NAMES.map((_, j) => nll(columnOf(p, L, j), columnOf(valTargets, L, j)));
  const calibrated: Calibrated = { ...(temperatures ? { temperatures } : {}), validationNll: { before: perLabelNll(valRaw), after: perLabelNll(valProbs) } };
  const { testMissImage, testMissTab } = testMissingness(cfg);
  const testOut = await ctx.predict(testRows, testMissImage, testMissTab), testRaw = testOut.probs;
  const testProbs = temperatures ? calibrateProbabilities(testRaw, temperatures) : testRaw;
  const test = evaluate(testProbs, evalTargets(ds.labels, testRows), LABEL_NAMES, validation.thresholds);
  const report = scoreSplit({
    ...splitFacts(ds, testRows, testOut),
    labels: LABEL_NAMES, probs: testProbs, ...(temperatures ? { rawProbs: testRaw } : {}), targets: evalTargets(ds.labels, testRows),
    thresholds: validation.thresholds,
  }, { seed: cfg.seed });
  const thresholds = { values: validation.thresholds, rule: THRESHOLD_RULE, split: 'validation' };
  const metadata = { ...best.metadata, thresholds, calibration: temperatures ? { method: 'temperature', temperatures } : undefined };
  writeFileAtomic(ckPath, encodeCheckpoint(best.config, buildLayout(best.config), best.params, metadata));
  writeFileAtomic(join(runDir, 'metrics.json'), JSON.stringify({
    bestEpoch: state.bestEpoch, validation, test, testMissImage, testMissTab, thresholds, calibration: calibrated, report,
  }, null, 2) + '\n');
  const all = Int32Array.from({ length: ds.n }, (_, i) => i);
  const card = modelCard({
    kind: 'training run', modelPath: ckPath,
    model: { preset: cfg.preset, parameters: best.params.length, config: { ...best.config }, trainingConfig: { ...cfg }, seed: cfg.seed, commit: gitCommit() },
    data: { dir: ds.report.dir, sources: sourceLines(ds.report), flow: cohortFlowLines(ds.report) },
    characteristics: characteristics(characteristicsFacts(ds, studyAttributes(ds, all))),
    thresholds: { values: validation.thresholds, rule: THRESHOLD_RULE }, temperatures, validationNll: calibrated.validationNll,
    split: 'test', missImage: testMissImage, missTab: testMissTab, uncertain: cfg.uncertain, report, reliabilityImage: 'reliability.svg',
  });
  writeEvaluationFiles(runDir, { report, card: card.markdown, title: `Test evaluation of ${ckPath}` });
  state.finished = true;
  writeStateJson(runDir, state);
  return { validation, test, report };
}

/**
 * The report files of an evaluation, each written atomically into `dir`: reliability.svg, report.md,
 * report.html, model-card.md, model-card.html, and (when given) metrics.json and predictions.csv. Returns
 * the names written.
 */
export function writeEvaluationFiles(dir: string, o: { report: SplitReport; card: string; title: string; metrics?: unknown; predictionsCsv?: string }): string[] {
  const files: [string, string][] = [];
  if (o.metrics !== undefined) files.push(['metrics.json', `${JSON.stringify(o.metrics, null, 2)}\n`]);
  if (o.predictionsCsv !== undefined) files.push(['predictions.csv', o.predictionsCsv]);
  const reportMd = [`# ${o.title}`, '', ...splitReportMd(o.report, 'reliability.svg')].join('\n');
  files.push(
    ['reliability.svg', `${reliabilitySvg(o.report.calibration, 'Reliability diagrams: each point one of 15 equal-mass bins (mean predicted probability, observed fraction), its count above it; dashed: ideal.')}\n`],
    ['report.md', reportMd], ['report.html', markdownToHtml(reportMd, o.title)],
    ['model-card.md', o.card], ['model-card.html', markdownToHtml(o.card, o.title)],
  );
  for (const [name, text] of files) writeFileAtomic(join(dir, name), text);
  return files.map(([name]) => name);
}

function columnOf(m: ArrayLike<number>, L: number, j: number): Float64Array {
  const n = m.length / L, out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = m[i * L + j];
  return out;
}

/** The subgroup attributes of some rows: sex, age band, race, insurance, and sex x race. */
export function subgroupsOf(ds: PreparedDataset, rows: ArrayLike<number>) {
  const a = studyAttributes(ds, rows);
  return [...a, crossAttributes(a[0], a[2])];
}

/**
 * Per-study facts of some rows for the evaluation: patients, what entered the model (`shown`: what the
 * replicas' batch policy reports, or the evaluate command's injection), the table features present, and the
 * subgroup attributes the data set has.
 */
export function splitFacts(ds: PreparedDataset, rows: Int32Array, shown: Shown) {
  const Fn = ds.schema.numeric.length, Fc = ds.schema.categorical.length;
  const tabPresent = new Uint16Array(rows.length);
  rows.forEach((r, i) => {
    if (!shown.hasTab[i]) return;
    let c = 0;
    for (let j = 0; j < Fn; j++) c += ds.numPresent[r * Fn + j];
    for (let j = 0; j < Fc; j++) c += ds.catPresent[r * Fc + j];
    tabPresent[i] = c;
  });
  return {
    patients: Int32Array.from(rows, (r) => ds.subjectId[r]), hasImage: shown.hasImage, hasTab: shown.hasTab, tabPresent, numFeatures: Fn + Fc,
    subgroups: subgroupsOf(ds, rows),
  };
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

/** Macro Brier, ECE, calibration intercept and slope of a test report, with the figures before calibration when fitted. */
export function calibrationLine(r: SplitReport): string {
  const f = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const one = (c: SplitReport['calibration']['macro']) => `Brier ${f(c.brier, 4)}, ECE ${f(c.ece, 4)}, intercept ${f(c.intercept, 3)}, slope ${f(c.slope, 3)}`;
  return `macro ${one(r.calibration.macro)}${r.calibrationBefore ? ` (before: ${one(r.calibrationBefore.macro)})` : ''}`;
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
