/**
 * What each sample shows the model, decided in one place. The policy is built once from the run's config
 * (`batchPolicy`) and sent once, when a replica starts (ReplicaInit.policy); a task carries only what changes
 * per step (rows, step, the batch's label count) or per evaluation (the injected rates of a test point).
 *
 * `prepareBatch` is the one function that makes a batch: gather the rows, inject missingness (nested in the
 * rate), apply modality and feature dropout (training only), note what was shown, impute (the early-fusion
 * baseline). Evaluation and the protocols read what was shown from the replicas' answers instead of working it
 * out again.
 *
 * Imputation and dropout (`--impute` with `--drop-image`/`--drop-tab`/`--drop-feature`): dropout acts first and
 * imputation then fills what it removed, so a dropped image is replaced by the training mean image and a dropped
 * feature by its mean or mode -- the imputed model trains on mean-filled inputs at the dropout rate, as it meets
 * them at test time when an input is missing. The "shown" availability is the one before imputation. The
 * protocols' early-fusion baseline sets both dropout rates to 0 (src/protocols/methods.ts); a plain `--impute`
 * keeps the default rates.
 */
import { makeBatch } from '../data/batch.ts';
import type { PreparedDataset } from '../data/index.ts';
import { shownOf } from '../engine/batch.ts';
import type { Batch, Shown } from '../engine/batch.ts';
import type { TrainConfig } from './config.ts';
import { applyDropout, imputeBatch, injectMissing } from './missing.ts';
import type { DropoutRates } from './missing.ts';

/** The early-fusion baseline's fill values: the training mean image [S*S] (normalized) and categorical modes. */
export interface ImputeStats {
  meanImage: Float32Array;
  catModes: Int32Array;
}

/** Everything that decides what a sample shows, fixed for a run. */
export interface BatchPolicy {
  /** Seed of injection and dropout (each decision a pure function of seed, step and sample). */
  seed: number;
  /** Injected missingness of training and validation. */
  missImage: number;
  missTab: number;
  /** Modality and feature dropout of training batches. */
  dropout: DropoutRates;
  /** Present: the early-fusion baseline fills what is missing. */
  impute?: ImputeStats;
  /** Samples per unit of parallel work. */
  microBatch: number;
}

/** The policy of a run's config (`impute`: the fill values computed from its training split, when cfg.impute). */
export function batchPolicy(cfg: TrainConfig, impute?: ImputeStats): BatchPolicy {
  if (cfg.impute && !impute) throw new Error('batchPolicy: --impute needs the training split\'s fill values');
  return {
    seed: cfg.seed, missImage: cfg.missImage, missTab: cfg.missTab,
    dropout: { image: cfg.dropImage, tab: cfg.dropTab, feature: cfg.dropFeature },
    impute: cfg.impute ? impute : undefined, microBatch: cfg.microBatch,
  };
}

/** A policy that shows every sample as it is (no injection, dropout or imputation): benchmarks and tests. */
export function plainPolicy(microBatch: number, seed = 0): BatchPolicy {
  return { seed, missImage: 0, missTab: 0, dropout: { image: 0, tab: 0, feature: 0 }, microBatch };
}

/** A training batch at a step (training injection and dropout), or an evaluation batch at given injected rates (no dropout). */
export type BatchUse = { kind: 'train'; step: number } | { kind: 'eval'; missImage: number; missTab: number };

/** A prepared batch and what it showed. */
export interface PreparedBatch {
  batch: Batch;
  /** Which modalities each sample showed the model, before any imputation. */
  shown: Shown;
}

/**
 * The one way a batch is made: gather, inject, drop, note what is shown, impute. The labels stay as read: the
 * loss applies the label rule (model/loss.ts), and the step's normalizer counts by the same rule on the main
 * thread (observedCount in batching.ts), since every unit needs the whole batch's count before it runs.
 */
export function prepareBatch(data: PreparedDataset, policy: BatchPolicy, rows: Int32Array, use: BatchUse): PreparedBatch {
  const b = makeBatch(data, rows);
  const rates = use.kind === 'train' ? policy : use;
  injectMissing(b, rows, policy.seed, rates.missImage, rates.missTab);
  if (use.kind === 'train') applyDropout(b, rows, policy.seed, use.step, policy.dropout);
  const shown = shownOf(b);
  if (policy.impute) imputeBatch(b, policy.impute.meanImage, policy.impute.catModes);
  return { batch: b, shown };
}
