/**
 * The training loop: epochs of data-parallel steps over the seeded permutation, a validation pass, the best
 * checkpoint and early stopping at each epoch's end, and the resume file at each epoch boundary, at a stop, and
 * inside an epoch every --save-every steps (or every SAVE_MINUTES).
 * Every random draw is a function of (seed, epoch, step, sample), so the counters in RunState are all a resume
 * needs.
 */
import { join } from 'node:path';
import { appendJsonLine, trainingProvenance } from './files.ts';
import { saveModel } from '../node/model.ts';
import type { RunContext } from './context.ts';
import { validate } from './evaluation.ts';
import { observedCount } from './batching.ts';
import { Progress } from './progress.ts';
import { permutation } from './random.ts';
import { writeResumeState, writeStateJson } from './run-folder.ts';
import { learningRate } from './schedule.ts';
import type { EncoderRate } from './step.ts';
import type { TrainConfig } from './config.ts';
import type { UncertainPolicy } from '../model/config.ts';

/** Why the loop returned: all epochs done, early stopping, Ctrl-C / the abort signal, or `--max-steps` reached. */
export type StopReason = 'done' | 'early-stop' | 'interrupted' | 'step-limit';

/** Steps per epoch: the last batch of an epoch may be short. */
export function stepsPerEpoch(trainRows: number, batch: number): number {
  return Math.ceil(trainRows / batch);
}

/** Train until the run is done or stops. A stop ('interrupted', 'step-limit') has saved the resume state. */
export async function trainLoop(ctx: RunContext, signal?: AbortSignal): Promise<StopReason> {
  const { cfg, state } = ctx;
  const perEpoch = stepsPerEpoch(ctx.trainRows.length, cfg.batch);
  const progress = new Progress(cfg.progress, perEpoch * cfg.epochs, ctx.log);
  const stop = { interrupted: signal?.aborted ?? false };
  const onStop = () => { stop.interrupted = true; };
  process.on('SIGINT', onStop);
  // Removed again below: the protocol runner shares one signal across dozens of runs.
  signal?.addEventListener('abort', onStop);
  try {
    while (state.epoch < cfg.epochs) {
      const early = await epochSteps(ctx, perEpoch, progress, stop);
      progress.done();
      const reason = early ?? (stop.interrupted ? 'interrupted' : undefined);
      if (reason) {
        await saveLast(ctx);
        return reason;
      }
      if (await endEpoch(ctx)) return 'early-stop';
      // "last" at the epoch boundary: a resume starts the next epoch from here.
      await saveLast(ctx);
    }
    return 'done';
  } finally {
    process.off('SIGINT', onStop);
    signal?.removeEventListener('abort', onStop);
  }
}

/** The remaining steps of the epoch in progress; returns a stop reason if it stopped before the epoch's end. */
async function epochSteps(ctx: RunContext, perEpoch: number, progress: Progress, stop: { interrupted: boolean }): Promise<StopReason | undefined> {
  const { cfg, state, ds, trainRows } = ctx;
  const totalSteps = perEpoch * cfg.epochs;
  const perm = permutation(trainRows.length, cfg.seed, state.epoch);
  const logFile = join(ctx.runDir, 'log.jsonl');
  const t0 = performance.now();
  let samples = 0;
  while (state.batchInEpoch < perEpoch) {
    if (stop.interrupted) return 'interrupted';
    if (cfg.maxSteps > 0 && state.step >= cfg.maxSteps) return 'step-limit';
    const a = state.batchInEpoch * cfg.batch;
    const rows = Int32Array.from(perm.subarray(a, Math.min(a + cfg.batch, trainRows.length)), (p) => trainRows[p]);
    const lr = learningRate(state.step, totalSteps, cfg.lr, cfg.warmup, cfg.minLr);
    const { loss, norm } = await ctx.stepper.run(rows, state.step, lr, {
      normalizer: observedCount(ds.labels, rows, cfg.uncertain as UncertainPolicy),
    }, encoderRate(cfg, state.step, perEpoch)).catch((e: unknown) => {
      progress.done();
      throw new Error(`step ${state.step + 1} (epoch ${state.epoch + 1}) failed: ${e instanceof Error ? e.message : String(e)}; ${survivors(ctx)}`);
    });
    state.step++;
    state.batchInEpoch++;
    state.epochLossSum += loss;
    state.epochBatches++;
    samples += rows.length;
    progress.update(state.step, { epoch: state.epoch + 1, loss, lr, sps: samples / ((performance.now() - t0) / 1000) });
    appendJsonLine(logFile, { step: state.step, epoch: state.epoch + 1, loss, gradNorm: norm, lr });
    if (saveDue(cfg.saveEvery, state.step, ctx.lastSaveMs)) await saveLast(ctx);
  }
  return undefined;
}

/**
 * The encoders' rate at step t (two-stage training): frozen for the first encoderWarmupEpochs epochs, then
 * encoderLrScale times the schedule, with AdamW counting their steps from the unfreeze. Undefined (every
 * tensor alike, the bits of a run without these options) when neither option is set.
 */
export function encoderRate(cfg: Pick<TrainConfig, 'encoderLrScale' | 'encoderWarmupEpochs'>, t: number, perEpoch: number): EncoderRate | undefined {
  if (cfg.encoderLrScale === 1 && cfg.encoderWarmupEpochs === 0) return undefined;
  const frozenSteps = cfg.encoderWarmupEpochs * perEpoch;
  return t < frozenSteps ? { scale: 0, t: 0 } : { scale: cfg.encoderLrScale, t: t - frozenSteps };
}

/** What a failed step leaves behind: the resume state if one was saved, else nothing to resume from. */
function survivors(ctx: RunContext): string {
  return ctx.savedStep === null
    ? `no checkpoint was written (the first is saved after ${ctx.cfg.saveEvery > 0 ? `step ${ctx.cfg.saveEvery}` : `${SAVE_MINUTES} minutes`} or at the end of epoch 1)`
    : `the resume state of step ${ctx.savedStep} in ${ctx.runDir} is intact (--resume ${ctx.runDir} continues from it)`;
}

/** Validation, the best checkpoint and early stopping at an epoch's end; true: stop early. */
async function endEpoch(ctx: RunContext): Promise<boolean> {
  const { cfg, state, runDir } = ctx;
  const val = await validate(ctx);
  const improved = state.bestAuroc === null || val.macroAuroc > state.bestAuroc;
  if (improved) {
    state.bestAuroc = val.macroAuroc;
    state.bestEpoch = state.epoch + 1;
    state.epochsWithoutImprovement = 0;
    ctx.model.setParams(ctx.stepper.params);
    ctx.model.metadata.provenance = trainingProvenance(cfg, state);
    await saveModel(ctx.model, join(runDir, 'model.safetensors'));
  } else state.epochsWithoutImprovement++;
  const meanLoss = state.epochLossSum / Math.max(1, state.epochBatches);
  ctx.log(`epoch ${state.epoch + 1}/${cfg.epochs}: train loss ${meanLoss.toFixed(4)}, val macro AUROC ${val.macroAuroc.toFixed(4)}${improved ? ' (best)' : ''}`);
  appendJsonLine(join(runDir, 'log.jsonl'), { epoch: state.epoch + 1, trainLoss: meanLoss, valMacroAuroc: val.macroAuroc, valMacroAuprc: val.macroAuprc, best: improved });
  state.epoch++;
  state.batchInEpoch = 0;
  state.epochLossSum = 0;
  state.epochBatches = 0;
  if (cfg.patience > 0 && state.epochsWithoutImprovement >= cfg.patience) {
    ctx.log(`early stopping: no better validation macro AUROC for ${cfg.patience} epochs`);
    return true;
  }
  return false;
}

/** Minutes between the saves inside an epoch when --save-every is 0. */
export const SAVE_MINUTES = 5;

/** Is a save inside the epoch due after `step`: every `every` steps, or (0) once SAVE_MINUTES have passed since the last. */
export function saveDue(every: number, step: number, lastSaveMs: number, now = performance.now()): boolean {
  return every > 0 ? step % every === 0 : now - lastSaveMs >= SAVE_MINUTES * 60_000;
}

/** The resume file, last.safetensors (the same parameters as a plain checkpoint) and state.json, in that order. */
export async function saveLast(ctx: RunContext): Promise<void> {
  const { m, v } = await ctx.stepper.moments();
  writeResumeState(ctx.runDir, ctx.state, ctx.stepper.params, m, v);
  ctx.savedStep = ctx.state.step;
  ctx.lastSaveMs = performance.now();
  ctx.model.setParams(ctx.stepper.params);
  await saveModel(ctx.model, join(ctx.runDir, 'last.safetensors'));
  writeStateJson(ctx.runDir, ctx.state);
}
