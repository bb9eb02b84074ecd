/**
 * The data-parallel trainer (shared/DESIGN.md, "Training and experiments").
 *
 * Each step: the batch (a slice of the epoch's seeded permutation of the training split) is cut into
 * `chunks` contiguous chunks, a number fixed by the config and not by the thread count; each chunk's
 * gradient (normalized by the whole batch's observed-label count) is computed by a replica and written to
 * its slot of a shared buffer; the main thread sums the slots in slot order, clips the global norm, and
 * takes an AdamW step. So the weights are bit-identical for any --threads with the same seed.
 *
 * All randomness is a function of (seed, epoch, step, sample), so a run resumes from (epoch, batch, step)
 * alone, to the same bits as an uninterrupted run.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { generateSynthetic, loadDataset } from '../data/index.ts';
import type { PreparedDataset } from '../data/index.ts';
import { buildLayout, createModel, decodeCheckpoint, presetConfig } from '../model/index.ts';
import type { Model, ModelConfig } from '../model/index.ts';
import { saveModel } from '../node/model.ts';
import { readSafetensors, writeSafetensors } from '../model/safetensors.ts';
import { evaluate } from '../eval/index.ts';
import type { EvalResult } from '../eval/index.ts';
import { createBackendAsync } from '../engine/index.ts';
import type { AnyBackendKind, Backend } from '../engine/index.ts';
import { LABEL_NAMES, hasTabular } from '../engine/index.ts';
import { RUNTIME_KEYS, TRAIN_DEFAULTS } from './config.ts';
import type { TrainConfig } from './config.ts';
import { appendJsonLine, writeFileAtomic } from './files.ts';
import { checkDropout, injectedMissing } from './missing.ts';
import { createRunner } from './pool.ts';
import { DataParallelStep } from './step.ts';
import type { TaskRunner } from './pool.ts';
import type { PredictTask, ReplicaInit, SharedDataset } from './replica.ts';
import { permutation } from './random.ts';
import { evalTargets, imputeStats, observedCount, prevalence, splitRows } from './batching.ts';
import { learningRate } from './schedule.ts';
import { Progress } from './progress.ts';

export interface RunState {
  /** Optimizer steps taken. */
  step: number;
  /** Epoch in progress (0-based) and batches of it already done. */
  epoch: number;
  batchInEpoch: number;
  /** Best validation macro AUROC so far (null before the first evaluation). */
  bestAuroc: number | null;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  /** Sum of batch losses and batch count of the epoch in progress (so a resumed epoch reports its full mean). */
  epochLossSum: number;
  epochBatches: number;
  finished: boolean;
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

export interface TrainResult {
  runDir: string;
  state: RunState;
  interrupted: boolean;
  test?: EvalResult;
  validation?: EvalResult;
  /** With `opts.testPoints`: predictions at each, plus the test split's targets, patients and train prevalence. */
  testPredictions?: TestPredictions[];
  testTargets?: Float32Array;
  testPatients?: Int32Array;
  trainPrevalence?: Float64Array;
}

/** Options for programmatic callers (the protocol runner). */
export interface TrainOptions {
  log?: Logger;
  signal?: AbortSignal;
  testPoints?: TestPoint[];
}

export type Logger = (line: string) => void;

/** Format tag of last.state.safetensors. */
export const RESUME_FORMAT = 'resilient-fusion-resume/1';

async function prepareData(cfg: TrainConfig, threads: number, log: Logger): Promise<{ ds: PreparedDataset; dir: string }> {
  let dir = cfg.data;
  if (!dir) {
    dir = resolve(cfg.synthDir);
    if (!existsSync(join(dir, 'mimic-cxr-jpg'))) {
      log(`generating the synthetic data set in ${dir} (seed 0) ...`);
      await generateSynthetic({ out: dir, patients: cfg.synthPatients || undefined, seed: 0 } as Parameters<typeof generateSynthetic>[0]);
    }
  }
  const preset = presetConfig(cfg.preset as 'tiny' | 'small' | 'base');
  const t0 = performance.now();
  const ds = await loadDataset(dir, {
    imageSize: preset.imageSize,
    cacheDir: cfg.cacheDir || undefined,
    strict: cfg.strict,
    allowLateral: cfg.allowLateral,
    windowHours: cfg.windowHours || undefined,
    threads,
    onProgress: dataProgress(cfg.progress, log),
  });
  log(`data: ${ds.n} studies from ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { ds, dir };
}

/** Data preparation progress: an in-place line on a terminal, a log line per phase and per 10% of decoding otherwise. */
function dataProgress(mode: string, log: Logger): (done: number, total: number, phase: string) => void {
  const bar = mode === 'bar' || (mode === 'auto' && process.stderr.isTTY);
  let lastPhase = '', lastTenth = -1, lastDraw = 0;
  return (done, total, phase) => {
    if (mode === 'none') return;
    if (bar) {
      const now = performance.now();
      if (now - lastDraw < 100 && done !== total) return;
      lastDraw = now;
      process.stderr.write(`\r${phase} ${total > 1 ? `${done}/${total}` : ''}\x1b[K${phase === 'decode' && done === total ? '\n' : ''}`);
      return;
    }
    if (phase !== lastPhase) { lastPhase = phase; lastTenth = -1; if (phase !== 'decode') log(`data: reading ${phase}`); }
    if (phase === 'decode' && total > 0) {
      const tenth = Math.floor((10 * done) / total);
      if (tenth > lastTenth) { lastTenth = tenth; log(`data: decoded ${done}/${total} images`); }
    }
  };
}

function modelConfigFor(cfg: TrainConfig, ds: PreparedDataset): ModelConfig {
  return {
    ...presetConfig(cfg.preset as 'tiny' | 'small' | 'base'),
    imageSize: ds.S,
    numFeatures: ds.schema.numeric.length,
    catCardinalities: ds.schema.categorical.map((c) => c.vocab.length),
    uncertain: cfg.uncertain as 'ignore' | 'ones' | 'zeros',
    attentionMasking: cfg.attentionMasking,
  } as ModelConfig;
}

/** The metadata a checkpoint carries for prediction: feature schema, normalization, labels. */
function checkpointMetadata(ds: PreparedDataset): Record<string, unknown> {
  return { schema: ds.schema, normalization: { pixelMean: ds.pixelMean, pixelStd: ds.pixelStd, imageSize: ds.S }, labels: ds.labelNames };
}

function shareDataset(ds: PreparedDataset): SharedDataset {
  const { S, n, labelNames, split, subjectId, studyId, pixels, hasImage, num, numPresent, cat, catPresent, labels, schema, pixelMean, pixelStd } = ds;
  return { S, n, labelNames, split, subjectId, studyId, pixels, hasImage, num, numPresent, cat, catPresent, labels, schema, pixelMean, pixelStd };
}

/** Train (or resume) a run. Returns when the run finishes, stops early, or is interrupted. */
export async function train(cfg: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const log = opts.log ?? console.log, signal = opts.signal;
  checkDropout({ image: cfg.dropImage, tab: cfg.dropTab, feature: cfg.dropFeature });
  const threads = cfg.threads > 0 ? cfg.threads : availableParallelism();
  if (cfg.chunks < 1 || !Number.isInteger(cfg.chunks)) throw new Error(`--chunks must be a positive integer, got ${cfg.chunks}`);
  if (cfg.batch < 1 || !Number.isInteger(cfg.batch)) throw new Error(`--batch must be a positive integer, got ${cfg.batch}`);

  // ---- the run folder -----------------------------------------------------------------------------------
  let runDir: string;
  let state: RunState;
  let resumeFile: ReturnType<typeof readSafetensors> | undefined;
  if (cfg.resume) {
    runDir = resolve(cfg.resume);
    if (!existsSync(join(runDir, 'config.json')) || !existsSync(join(runDir, 'last.state.safetensors'))) {
      throw new Error(`--resume ${runDir}: not an interrupted run folder (it needs config.json and last.state.safetensors)`);
    }
    const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as TrainConfig;
    for (const k of Object.keys(saved) as (keyof TrainConfig)[]) {
      if (RUNTIME_KEYS.includes(k)) continue;
      // A value other than the default was given on this command line and contradicts the run's own.
      if (JSON.stringify(saved[k]) !== JSON.stringify(cfg[k]) && JSON.stringify(cfg[k]) !== JSON.stringify(TRAIN_DEFAULTS[k])) {
        throw new Error(`--resume: option '${k}' differs from the run's config.json (${JSON.stringify(saved[k])}); a resumed run keeps its config`);
      }
    }
    for (const k of RUNTIME_KEYS) (saved as Record<string, unknown>)[k] = cfg[k];
    cfg = saved;
    resumeFile = readSafetensors(readFileSync(join(runDir, 'last.state.safetensors')));
    if (resumeFile.metadata.format !== RESUME_FORMAT) throw new Error(`--resume: ${join(runDir, 'last.state.safetensors')} is not a resume state (format ${resumeFile.metadata.format})`);
    state = JSON.parse(resumeFile.metadata.state) as RunState;
    if (state.finished) {
      log(`run ${runDir} already finished`);
      return { runDir, state, interrupted: false };
    }
    log(`resuming ${runDir} at step ${state.step} (epoch ${state.epoch + 1}, batch ${state.batchInEpoch})`);
  } else {
    const name = cfg.name || `${cfg.preset}-s${cfg.seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    runDir = resolve(cfg.out, name);
    if (existsSync(join(runDir, 'state.json'))) throw new Error(`run folder ${runDir} already holds a run; use --resume ${runDir} or another --name`);
    state = { step: 0, epoch: 0, batchInEpoch: 0, bestAuroc: null, bestEpoch: -1, epochsWithoutImprovement: 0, epochLossSum: 0, epochBatches: 0, finished: false };
  }
  // A new run's folder is made once its data set has loaded, so a bad --data leaves nothing behind.
  const makeRunFolder = () => {
    if (cfg.resume) return;
    mkdirSync(runDir, { recursive: true });
    writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  };
  const logFile = join(runDir, 'log.jsonl');

  // ---- data, model, optimizer state ---------------------------------------------------------------------
  const { ds } = await prepareData(cfg, threads, log);
  makeRunFolder();
  const trainRows = splitRows(ds, 0), valRows = splitRows(ds, 1), testRows = splitRows(ds, 2);
  if (trainRows.length === 0) throw new Error('the training split is empty');
  log(`splits: train ${trainRows.length}, validate ${valRows.length}, test ${testRows.length}`);
  const mcfg = modelConfigFor(cfg, ds);
  const meta = checkpointMetadata(ds);
  const model: Model<Backend> = createModel(mcfg, { backend: await createBackendAsync(cfg.backend as AnyBackendKind), seed: cfg.seed, metadata: meta });
  const P = model.numParams;
  const be = model.backend;
  if (!resumeFile && cfg.initFrom) await initFromCheckpoints(model, cfg.initFrom, log);
  const frozen = frozenEntries(model, cfg.freeze);
  const paramsSab = new SharedArrayBuffer(P * 4);
  const gradsSab = new SharedArrayBuffer(P * 4 * cfg.chunks);
  const init: ReplicaInit = {
    model: model.config, backend: cfg.backend as AnyBackendKind, data: shareDataset(ds), params: paramsSab, grads: gradsSab,
    impute: cfg.impute ? imputeStats(ds, trainRows) : undefined,
  };
  const runner: TaskRunner = createRunner(init, threads);
  const stepper = await DataParallelStep.create(model, runner, new Float32Array(paramsSab), new Float32Array(gradsSab), cfg.chunks, cfg, frozen);
  const params = stepper.params;
  if (resumeFile) {
    const t = resumeFile.tensors;
    for (const name of ['params', 'm', 'v']) {
      if (!t[name] || t[name].data.length !== P) throw new Error(`--resume: the resume state holds no '${name}' of ${P} values; was the data set or preset changed?`);
    }
    stepper.setParams(t.params.data);
    stepper.setMoments(t.m.data, t.v.data);
  }
  log(`model: ${cfg.preset}, ${P} parameters, backend ${be.name}, ${threads} thread(s), ${cfg.chunks} chunks per batch`);

  const stepsPerEpoch = Math.ceil(trainRows.length / cfg.batch);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const testMissImage = cfg.testMissImage >= 0 ? cfg.testMissImage : cfg.missImage;
  const testMissTab = cfg.testMissTab >= 0 ? cfg.testMissTab : cfg.missTab;

  async function predict(rows: Int32Array, missImage: number, missTab: number): Promise<Float32Array> {
    const L = LABEL_NAMES.length, out = new Float32Array(rows.length * L);
    const jobs: Promise<void>[] = [];
    for (let a = 0; a < rows.length; a += cfg.evalBatch) {
      const idx = rows.slice(a, Math.min(rows.length, a + cfg.evalBatch));
      const task: PredictTask = { kind: 'predict', version: stepper.version, indices: idx, seed: cfg.seed, missImage, missTab };
      jobs.push(runner.run<Float32Array>(task).then((p) => out.set(p, a * L)));
    }
    await Promise.all(jobs);
    return out;
  }

  const saveLast = async () => {
    // One atomic file holds everything a resume needs (parameters, AdamW moments, the counters that
    // determine every later random draw), so a crash can never pair parameters with another step's state.
    const { m, v } = await stepper.moments();
    writeFileAtomic(join(runDir, 'last.state.safetensors'), writeSafetensors(
      { params: { shape: [P], data: params }, m: { shape: [P], data: m }, v: { shape: [P], data: v } },
      { format: RESUME_FORMAT, state: JSON.stringify(state) },
    ));
    // The same parameters as a plain model checkpoint, and the state for people to read.
    model.setParams(params);
    await saveModel(model, join(runDir, 'last.safetensors'));
    writeFileAtomic(join(runDir, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  };

  const progress = new Progress(cfg.progress, totalSteps, log);
  let interrupted = signal?.aborted ?? false;
  const onSigint = () => { interrupted = true; };
  process.on('SIGINT', onSigint);
  signal?.addEventListener('abort', onSigint);
  try {
    while (state.epoch < cfg.epochs) {
      const perm = permutation(trainRows.length, cfg.seed, state.epoch);
      const t0 = performance.now();
      let samples = 0;
      for (; state.batchInEpoch < stepsPerEpoch; ) {
        if (interrupted || (cfg.maxSteps > 0 && state.step >= cfg.maxSteps)) {
          interrupted = true;
          break;
        }
        const a = state.batchInEpoch * cfg.batch;
        const rows = Int32Array.from(perm.subarray(a, Math.min(a + cfg.batch, trainRows.length)), (p) => trainRows[p]);
        const lr = learningRate(state.step, totalSteps, cfg.lr, cfg.warmup, cfg.minLr);
        const { loss, norm } = await stepper.run(rows, state.step, lr, {
          normalizer: observedCount(ds.labels, rows, cfg.uncertain), seed: cfg.seed,
          dropout: { image: cfg.dropImage, tab: cfg.dropTab, feature: cfg.dropFeature },
          missImage: cfg.missImage, missTab: cfg.missTab,
        }).catch((e: unknown) => {
          throw new Error(`step ${state.step + 1} (epoch ${state.epoch + 1}) failed: ${e instanceof Error ? e.message : String(e)}; the last checkpoint in ${runDir} is intact`);
        });
        state.step++;
        state.batchInEpoch++;
        state.epochLossSum += loss;
        state.epochBatches++;
        samples += rows.length;
        const sps = samples / ((performance.now() - t0) / 1000);
        progress.update(state.step, { epoch: state.epoch + 1, loss, lr, sps });
        appendJsonLine(logFile, { step: state.step, epoch: state.epoch + 1, loss, gradNorm: norm, lr });
      }
      if (interrupted) break;
      progress.done();
      // ---- validation, best checkpoint, early stopping ---------------------------------------------------
      const vp = await predict(valRows, cfg.missImage, cfg.missTab);
      const val = evaluate(vp, evalTargets(ds.labels, valRows), LABEL_NAMES);
      const improved = state.bestAuroc === null || val.macroAuroc > state.bestAuroc;
      if (improved) {
        state.bestAuroc = val.macroAuroc;
        state.bestEpoch = state.epoch;
        state.epochsWithoutImprovement = 0;
        model.setParams(params);
        await saveModel(model, join(runDir, 'model.safetensors'));
      } else state.epochsWithoutImprovement++;
      const meanLoss = state.epochLossSum / Math.max(1, state.epochBatches);
      log(`epoch ${state.epoch + 1}/${cfg.epochs}: train loss ${meanLoss.toFixed(4)}, val macro AUROC ${val.macroAuroc.toFixed(4)}${improved ? ' (best)' : ''}`);
      appendJsonLine(logFile, { epoch: state.epoch + 1, trainLoss: meanLoss, valMacroAuroc: val.macroAuroc, valMacroAuprc: val.macroAuprc, best: improved });
      state.epoch++;
      state.batchInEpoch = 0;
      state.epochLossSum = 0;
      state.epochBatches = 0;
      if (cfg.patience > 0 && state.epochsWithoutImprovement >= cfg.patience) {
        log(`early stopping: no better validation macro AUROC for ${cfg.patience} epochs`);
        break;
      }
      // "last" at the epoch boundary: a resume starts the next epoch from here.
      await saveLast();
    }
    if (interrupted) {
      await saveLast();
      log(`interrupted at step ${state.step}: saved ${join(runDir, 'last.safetensors')}; continue with --resume ${runDir}`);
      return { runDir, state, interrupted: true };
    }
    // ---- test with the best checkpoint, thresholds from validation ----------------------------------------
    stepper.setParams(decodeCheckpoint(new Uint8Array(readFileSync(join(runDir, 'model.safetensors')))).params);
    const val = evaluate(await predict(valRows, cfg.missImage, cfg.missTab), evalTargets(ds.labels, valRows), LABEL_NAMES);
    const test = evaluate(await predict(testRows, testMissImage, testMissTab), evalTargets(ds.labels, testRows), LABEL_NAMES, val.thresholds);
    let testPredictions: TestPredictions[] | undefined;
    if (opts.testPoints) {
      testPredictions = [];
      for (const tp of opts.testPoints) {
        const probs = await predict(testRows, tp.missImage, tp.missTab);
        const hasImage = new Uint8Array(testRows.length), hasTab = new Uint8Array(testRows.length);
        const Fn = ds.schema.numeric.length, Fc = ds.schema.categorical.length;
        testRows.forEach((r, i) => {
          hasImage[i] = ds.hasImage[r] && !injectedMissing(cfg.seed, 'image', r, tp.missImage) ? 1 : 0;
          hasTab[i] = hasTabular(ds.numPresent, ds.catPresent, r, Fn, Fc) && !injectedMissing(cfg.seed, 'tab', r, tp.missTab) ? 1 : 0;
        });
        testPredictions.push({ ...tp, probs, hasImage, hasTab });
      }
    }
    writeFileAtomic(join(runDir, 'metrics.json'), JSON.stringify({ bestEpoch: state.bestEpoch + 1, validation: val, test, testMissImage, testMissTab }, null, 2) + '\n');
    // state.json last: a run marked finished always has its metrics.
    state.finished = true;
    writeFileAtomic(join(runDir, 'state.json'), JSON.stringify(state, null, 2) + '\n');
    log(`test (best epoch ${state.bestEpoch + 1}): macro AUROC ${test.macroAuroc.toFixed(4)}, macro AUPRC ${test.macroAuprc.toFixed(4)}, macro F1 ${test.macroF1.toFixed(4)}`);
    return {
      runDir, state, interrupted: false, test, validation: val, testPredictions,
      testTargets: evalTargets(ds.labels, testRows), testPatients: Int32Array.from(testRows, (r) => ds.subjectId[r]),
      trainPrevalence: prevalence(ds.labels, trainRows),
    };
  } finally {
    process.off('SIGINT', onSigint);
    await runner.close();
  }
}

/** Tensors whose names start with one of the comma-separated prefixes (unknown prefixes are errors). */
function frozenEntries(model: Model<Backend>, spec: string) {
  const prefixes = spec.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of prefixes) {
    if (!model.layout.some((e) => e.name.startsWith(p))) throw new Error(`--freeze: no parameter name starts with '${p}'`);
  }
  return model.layout.filter((e) => prefixes.some((p) => e.name.startsWith(p)));
}

/** --init-from "path=prefix,prefix;path2=prefix": copy matching tensors (same name and shape) from checkpoints. */
async function initFromCheckpoints(model: Model<Backend>, spec: string, log: Logger): Promise<void> {
  const flat = Float32Array.from(await model.paramDataAsync());
  for (const part of spec.split(';').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) throw new Error(`--init-from: expected path=prefix[,prefix], got '${part}'`);
    const path = part.slice(0, eq), prefixes = part.slice(eq + 1).split(',').map((p) => p.trim()).filter(Boolean);
    const ck = decodeCheckpoint(new Uint8Array(readFileSync(path)));
    const byName = new Map(buildLayout(ck.config).map((e) => [e.name, e]));
    let copied = 0;
    for (const e of model.layout) {
      if (!prefixes.some((p) => e.name.startsWith(p))) continue;
      const src = byName.get(e.name);
      if (!src || src.shape.join('x') !== e.shape.join('x')) {
        throw new Error(`--init-from ${path}: tensor ${e.name} ${src ? `has shape [${src.shape}] not [${e.shape}]` : 'is missing'}`);
      }
      flat.set(ck.params.subarray(src.offset, src.offset + src.size), e.offset);
      copied++;
    }
    if (copied === 0) throw new Error(`--init-from ${path}: no tensor matches ${prefixes.join(', ')}`);
    log(`initialized ${copied} tensors from ${path} (${prefixes.join(', ')})`);
  }
  model.setParams(flat);
}
