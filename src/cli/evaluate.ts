/**
 * `npm run evaluate -- --model RUN/model.safetensors --data DIR [--split test] [--miss-image r --miss-tab r] --out DIR`
 * scores one checkpoint on a split of a data set folder, with the evaluation the trainer's test uses
 * (src/eval/report.ts): discrimination with patient-level bootstrap CIs, calibration, availability patterns,
 * table-feature quartiles and subgroups. Writes into --out: metrics.json, predictions.csv, report.md,
 * report.html, reliability.svg, model-card.md and model-card.html; prints one line per headline figure.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { characteristicsFacts, cohortFlowLines, resolveFeatureSpec, sourceLines, studyAttributes } from '../data/index.ts';
import type { DecoderName } from '../data/index.ts';
import { createBackend } from '../engine/index.ts';
import type { BackendKind } from '../engine/index.ts';
import { LABEL_NAMES, NUM_LABELS } from '../engine/batch.ts';
import { characteristics, headlineLines, modelCard, predictionsCsv, scoreSplit } from '../eval/index.ts';
import { predictDataset, Predictor } from '../infer/index.ts';
import type { SplitChoice } from '../infer/index.ts';
import { loadModel } from '../node/model.ts';
import { gitCommit } from '../node/commit.ts';
import { evalTargets } from '../train/batching.ts';
import { splitFacts, writeEvaluationFiles } from '../train/evaluation.ts';
import { injectMissing } from '../train/missing.ts';
import { UsageError } from '../options/schema.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { EVALUATE_SPEC as SPEC } from './specs.ts';
import { runMain } from './main.ts';
import { DATA_FOLDER_HINT, requirePath } from './paths.ts';

/** The run's config.json next to the checkpoint, when there is one (else undefined; never an error). */
function runConfig(modelPath: string): Record<string, unknown> | undefined {
  const p = join(dirname(resolve(modelPath)), 'config.json');
  if (!existsSync(p)) return undefined;
  try {
    if (statSync(p).size > 1 << 20) return undefined;
    const v = JSON.parse(readFileSync(p, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The --out folder: created if absent; an existing file is refused. */
function outFolder(out: string): string {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`--out ${out}: not a folder (a file)`);
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new UsageError(`--out ${out}: cannot create (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return out;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const { cfg, help } = parseArgs(SPEC, process.argv.slice(2));
  if (help) {
    console.log(helpText(SPEC));
    return 0;
  }
  if (!cfg.model) throw new UsageError('--model is required (a model.safetensors written by `npm run train`; see --help)');
  if (!cfg.data) throw new UsageError('--data is required (the data set folder to score; see --help)');
  if (!cfg.out) throw new UsageError('--out is required (the folder the reports are written to; see --help)');
  requirePath('--model', cfg.model, 'file');
  requirePath('--data', cfg.data, 'folder', DATA_FOLDER_HINT);
  if (cfg.featureSpec) requirePath('--feature-spec', cfg.featureSpec, 'file');
  const { missImage, missTab } = cfg;
  const out = outFolder(cfg.out);

  const model = loadModel(cfg.model, { backend: createBackend((cfg.backend === 'wasm' ? 'auto' : cfg.backend) as BackendKind) });
  let predictor: Predictor<never>;
  try {
    predictor = new Predictor(model) as Predictor<never>;
  } catch (e) {
    throw new Error(`${cfg.model}: ${(e as Error).message}`);
  }
  const spec = predictor.spec;
  const thresholds = spec.thresholds ?? LABEL_NAMES.map(() => 0.5);
  if (!spec.thresholds) console.error(`evaluate: ${cfg.model} stores no thresholds (written before they were stored); calls use 0.5`);
  const p = await predictDataset(predictor, cfg.data, {
    split: cfg.split as SplitChoice,
    featureSpec: cfg.featureSpec ? resolveFeatureSpec(cfg.featureSpec) : undefined,
    cacheDir: cfg.cacheDir || undefined,
    decoder: (cfg.decoder || spec.decoder) as DecoderName,
    threads: cfg.threads || undefined,
    windowHours: cfg.windowHours || undefined,
    allowLateral: cfg.allowLateral,
    batchSize: cfg.batchSize,
    prepareBatch: missImage || missTab ? (b, idx) => injectMissing(b, idx, cfg.seed, missImage, missTab) : undefined,
  });
  const { data, indices } = p;
  if (indices.length === 0) throw new Error(`--data ${cfg.data}: the ${cfg.split} split has no studies`);
  const Fn = spec.numeric.length, Fc = spec.categorical.length, n = indices.length;
  // What entered the model: what each batch showed after the injection (predictDataset records it).
  const { patients, hasImage, hasTab, tabPresent, subgroups } = splitFacts(data, indices, p.shown);
  const targets = evalTargets(data.labels, indices);
  const observed = new Float32Array(n * NUM_LABELS);
  indices.forEach((r, i) => observed.set(data.labels.subarray(r * NUM_LABELS, (r + 1) * NUM_LABELS), i * NUM_LABELS));
  const allRows = Int32Array.from({ length: data.n }, (_, i) => i);
  const report = scoreSplit({
    labels: LABEL_NAMES, probs: p.probs, ...(predictor.calibrated ? { rawProbs: p.rawProbs } : {}), targets, patients,
    hasImage, hasTab, tabPresent, numFeatures: Fn + Fc, thresholds, subgroups,
  }, { replicates: cfg.replicates, seed: cfg.seed, minGroup: cfg.minGroup });

  const runCfg = runConfig(cfg.model);
  const card = modelCard({
    kind: 'evaluation', modelPath: cfg.model,
    model: {
      preset: typeof runCfg?.preset === 'string' ? runCfg.preset : undefined, parameters: model.numParams, config: { ...model.config },
      trainingConfig: runCfg, seed: typeof runCfg?.seed === 'number' ? runCfg.seed : undefined, commit: gitCommit(),
    },
    data: { dir: cfg.data, sources: sourceLines(data.report), flow: cohortFlowLines(data.report) },
    characteristics: characteristics(characteristicsFacts(data, studyAttributes(data, allRows))),
    thresholds: spec.thresholds ? { values: spec.thresholds, rule: thresholdRule(model.metadata) } : null,
    temperatures: spec.temperatures, split: cfg.split, missImage, missTab,
    uncertain: model.config.uncertain, report, reliabilityImage: 'reliability.svg',
  });
  const metrics = {
    model: cfg.model, data: cfg.data, split: cfg.split, missImage, missTab, seed: cfg.seed,
    calibrated: predictor.calibrated, temperatures: spec.temperatures ?? null, thresholds, thresholdsStored: !!spec.thresholds,
    report,
  };
  const csv = predictionsCsv({
    labels: LABEL_NAMES, studyIds: Int32Array.from(indices, (r) => data.studyId[r]), patients, split: cfg.split,
    hasImage, hasTab, tabPresent, observed, probs: p.probs, thresholds,
  });
  const written = writeEvaluationFiles(out, { metrics, predictionsCsv: csv, report, card: card.markdown, title: `Evaluation of ${cfg.model} on ${cfg.data} (${cfg.split})` });
  for (const l of headlineLines(report)) console.log(l);
  console.log(`wrote ${written.join(', ')} to ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

/** The `rule` of the checkpoint's thresholds (checked to be a string by inferenceSpec). */
function thresholdRule(meta: Record<string, unknown>): string {
  const t = meta.thresholds as { rule?: unknown } | undefined;
  return typeof t?.rule === 'string' ? t.rule : '(not recorded)';
}

runMain('evaluate', main);
