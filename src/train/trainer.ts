/**
 * The data-parallel trainer (docs/design.md, "Training").
 *
 * Each step: the batch (a slice of the epoch's seeded permutation of the training split) is cut into
 * units of `microBatch` samples, fixed by the config and not by the thread count; each unit's gradient
 * (normalized by the whole batch's observed-label count) is computed by a replica and written to its slot
 * of a shared buffer; the workers then sum the slots in unit order, clip the global norm and take the AdamW
 * step, each on fixed parameter blocks (src/train/step.ts). So the weights are bit-identical for any
 * --threads with the same seed.
 *
 * All randomness is a function of (seed, epoch, step, sample), so a run resumes from (epoch, batch, step)
 * alone, to the same bits as an uninterrupted run.
 *
 * The parts: run-folder.ts (create, resume, state files), data.ts (data set and model config), loop.ts
 * (epochs, validation, early stopping), evaluation.ts (test of the best checkpoint, summary); this file
 * wires them together.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { createModel } from '../model/index.ts';
import type { EvalResult } from '../eval/index.ts';
import { createBackendAsync } from '../engine/index.ts';
import type { AnyBackendKind } from '../engine/index.ts';
import { TRAIN_DEFAULTS, applyOverrides, resolveMicroBatch } from './config.ts';
import type { TrainConfig } from './config.ts';
import type { RunContext } from './context.ts';
import { checkpointMetadata, prepareData, shareDataset } from './data.ts';
import type { Logger } from './data.ts';
import { trainingProvenance } from './files.ts';
import { calibrationLine, makePredict, summaryLines, testBest } from './evaluation.ts';
import { frozenEntries, initFromCheckpoints, initVisionFromTimm, initialModelConfig } from './init.ts';
import { stepsPerEpoch, trainLoop } from './loop.ts';
import type { StopReason } from './loop.ts';
import { createRunner, threadPlan } from './pool.ts';
import type { ReplicaInit } from './replica.ts';
import { RESUME_FILE, checkStateRanges, claimRunFolder, lockRunFolder, openRun, prepareContinuation, readJsonFile, trimLogForResume, writeNewRunConfig } from './run-folder.ts';
import type { OpenRun, RunState } from './run-folder.ts';
import { DataParallelStep, stepBuffers } from './step.ts';
import { batchPolicy } from './batch-policy.ts';
import { imputeStats, splitRows, unitsPerBatch } from './batching.ts';

export type { Logger } from './data.ts';
export type { RunState } from './run-folder.ts';
export { RESUME_FORMAT } from './run-folder.ts';
export type { RunContext } from './context.ts';
export type { StopReason } from './loop.ts';
export { testPointPredictions } from './evaluation.ts';
export type { TestPoint, TestPredictions, TestPointOutputs } from './evaluation.ts';

export interface TrainResult {
  runDir: string;
  state: RunState;
  /** Stopped by Ctrl-C or the abort signal before finishing (resumable). */
  interrupted: boolean;
  /** How the call ended: 'already-finished' for `--resume` on a finished run (nothing done). */
  stop: StopReason | 'already-finished';
  /** Present when the run finished in this call. */
  test?: EvalResult;
  validation?: EvalResult;
  /** Wall time of this call, seconds. */
  seconds: number;
}

/** Options for programmatic callers (the protocol runner). */
export interface TrainOptions {
  log?: Logger;
  signal?: AbortSignal;
  /**
   * Called once a run has finished (metrics written), with the best checkpoint loaded and the worker pool
   * still open: the place for outputs only some callers need (the protocols' `testPointPredictions`).
   */
  afterTest?: (ctx: RunContext) => Promise<void> | void;
  /**
   * The config keys this command line (or its --config file) set. On --resume, such a key whose value differs
   * from the run's config.json is an error, whatever the value (a flag equal to the default is still a flag
   * given); without the set, a value other than the default counts as given.
   */
  given?: ReadonlySet<string>;
}

/** Train (or resume) a run. Returns when the run finishes, stops early, stops at --max-steps, or is interrupted. */
export async function train(cfg: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const t0 = performance.now();
  const log = opts.log ?? console.log;
  // A config built by a program (the library, the protocols) passes the same schema as the command line.
  cfg = applyOverrides(TRAIN_DEFAULTS, cfg, 'train config');
  if (cfg.continue) {
    // A finished run continued into a new folder, which is made an interrupted run and resumed from here.
    const dir = prepareContinuation(cfg, opts.given);
    log(`continuing ${cfg.continue} for epochs up to ${cfg.epochs} in ${dir}`);
    cfg = { ...cfg, resume: dir, name: '' };
  }
  const run = openRun(cfg, opts.given);
  const seconds = () => (performance.now() - t0) / 1000;
  if (run.kind === 'finished') {
    log(`run ${run.runDir} is already finished; nothing to do (--continue ${run.runDir} --epochs E trains it further into a new folder)`);
    const metrics = join(run.runDir, 'metrics.json');
    const test = existsSync(metrics) ? (readJsonFile(metrics, 'metrics file') as { test?: EvalResult } | null)?.test : undefined;
    for (const l of summaryLines({ runDir: run.runDir, state: run.state, test })) log(l);
    return { runDir: run.runDir, state: run.state, interrupted: false, stop: 'already-finished', seconds: seconds() };
  }
  // --micro-batch 0 becomes the preset's number here, so config.json records what the run computes with
  // (a resumed run keeps it even if a later version changes the default).
  run.cfg = { ...run.cfg, microBatch: resolveMicroBatch(run.cfg.preset, run.cfg.microBatch) };
  cfg = run.cfg;
  // The run folder is this process's from here, before the data load: the lock first, then (for a new run)
  // the check that the folder holds no run, so two trainings of one --name cannot both pass it.
  const held: { release?: () => void } = {};
  held.release = run.kind === 'resume' ? lockRunFolder(run.runDir) : claimRunFolder(run.runDir);
  try {
    return await trainOpened(run, cfg, opts, log, seconds, held);
  } finally {
    held.release?.();
  }
}

async function trainOpened(run: OpenRun, cfg: TrainConfig, opts: TrainOptions, log: Logger, seconds: () => number, held: { release?: () => void }): Promise<TrainResult> {
  log(`resolved config: ${JSON.stringify(cfg)}`);
  const ctx = await setUp(run, log, held);
  try {
    const stop = await trainLoop(ctx, opts.signal);
    const { runDir, state } = ctx;
    if (stop === 'interrupted' || stop === 'step-limit') {
      const why = stop === 'interrupted' ? 'interrupted' : `stopped at the step limit (--max-steps ${cfg.maxSteps})`;
      log(`${why} at step ${state.step}: saved ${join(runDir, 'last.safetensors')}; continue with --resume ${runDir}`);
      return { runDir, state, interrupted: stop === 'interrupted', stop, seconds: seconds() };
    }
    const { validation, test, report } = await testBest(ctx);
    log(`test (best epoch ${state.bestEpoch}): macro AUROC ${test.macroAuroc.toFixed(4)}, macro AUPRC ${test.macroAuprc.toFixed(4)}, macro F1 ${test.macroF1.toFixed(4)}`);
    log(`test calibration${report.calibrationBefore ? ' (temperatures fitted on validation)' : ''}: ${calibrationLine(report)}`);
    if (opts.afterTest) await opts.afterTest(ctx);
    for (const l of summaryLines({ runDir, state, seconds: seconds(), test })) log(l);
    return { runDir, state, interrupted: false, stop, test, validation, seconds: seconds() };
  } finally {
    await ctx.runner.close();
  }
}

/** Data, run folder, model, worker pool and optimizer state of an opened run. */
async function setUp(run: OpenRun, log: Logger, held: { release?: () => void }): Promise<RunContext> {
  const { cfg, runDir, state } = run;
  const cores = availableParallelism();
  const plan = threadPlan(cfg.threads, cfg.batch, cfg.microBatch, cores);
  // Said before the data load, which can take minutes on a fresh image cache.
  if (plan.warning) log(plan.warning);
  log(plan.line);
  // Decoding has one image per task and no units: the threads asked for, capped at the cores by
  // decoderThreads (--threads 99999 must not start 99999 decoders).
  const { ds } = await prepareData(cfg, cfg.threads > 0 ? cfg.threads : cores, log);
  if (run.kind === 'new') writeNewRunConfig(runDir, cfg);
  const trainRows = splitRows(ds, 0), valRows = splitRows(ds, 1), testRows = splitRows(ds, 2);
  if (trainRows.length === 0) throw new Error('the training split is empty');
  log(`splits: train ${trainRows.length}, validate ${valRows.length}, test ${testRows.length}`);
  const perEpoch = stepsPerEpoch(trainRows.length, cfg.batch), totalSteps = cfg.epochs * perEpoch;
  if (cfg.warmup > totalSteps) log(`warning: --warmup ${cfg.warmup} is longer than the whole run (${totalSteps} steps: ${cfg.epochs} epochs of ${perEpoch}); the learning rate never reaches --lr ${cfg.lr}`);
  if (run.kind === 'resume') {
    checkStateRanges(state, perEpoch, cfg.epochs, join(runDir, RESUME_FILE));
  }
  const model = createModel(initialModelConfig(cfg, ds), { backend: await createBackendAsync(cfg.backend as AnyBackendKind), seed: cfg.seed, metadata: { ...checkpointMetadata(ds), provenance: trainingProvenance(cfg, state) } });
  const P = model.numParams;
  if (run.kind === 'new' && cfg.initVision) await initVisionFromTimm(model, cfg, ds, log);
  if (run.kind === 'new' && cfg.initFrom) await initFromCheckpoints(model, cfg.initFrom, log);
  const frozen = frozenEntries(model, cfg.freeze);
  const buffers = stepBuffers(model, unitsPerBatch(cfg.batch, cfg.microBatch), frozen);
  const init: ReplicaInit = {
    model: model.config, backend: cfg.backend as AnyBackendKind, data: shareDataset(ds), ...buffers,
    policy: batchPolicy(cfg, cfg.impute ? imputeStats(ds, trainRows) : undefined),
  };
  const runner = createRunner(init, plan.workers);
  try {
    const stepper = await DataParallelStep.create(model, runner, buffers, cfg.microBatch, cfg, frozen);
    if (run.tensors) {
      const t = run.tensors;
      for (const name of ['params', 'm', 'v']) {
        if (!t[name] || t[name].data.length !== P) throw new Error(`--resume: ${join(runDir, RESUME_FILE)} holds no '${name}' of ${P} values (this model's); was the data set or preset changed?`);
      }
      stepper.setParams(t.params.data);
      stepper.setMoments(t.m.data, t.v.data);
    }
    if (run.kind === 'resume') {
      // Only now, with every check of the state passed, is anything in the run folder changed.
      const dropped = trimLogForResume(runDir, state);
      if (dropped) log(`log.jsonl: removed ${dropped} record(s) past the resume point (step ${state.step})`);
      log(`resuming ${runDir} at step ${state.step} (epoch ${state.epoch + 1}, batch ${state.batchInEpoch})`);
    }
    log(`model: ${cfg.preset}, ${P} parameters, backend ${model.backend.name}, optimizer ${stepper.slicedOptimizer ? `in the ${plan.workers} worker(s)` : 'on the main thread'}`);
    return {
      cfg, runDir, state, ds, trainRows, valRows, testRows, model, stepper, runner, predict: makePredict(runner, stepper, cfg), log,
      savedStep: run.kind === 'resume' ? state.step : null,
      lastSaveMs: performance.now(),
    };
  } catch (e) {
    await runner.close();
    throw e;
  }
}
