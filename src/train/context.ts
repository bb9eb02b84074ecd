/** What the parts of a training run (loop, evaluation, protocol hooks) share once the run is set up. */
import type { PreparedDataset } from '../data/index.ts';
import type { Model } from '../model/index.ts';
import type { Backend } from '../engine/index.ts';
import type { TrainConfig } from './config.ts';
import type { Logger } from './data.ts';
import type { TaskRunner } from './pool.ts';
import type { RunState } from './run-folder.ts';
import type { DataParallelStep } from './step.ts';
import type { PredictResult } from './replica.ts';

/** Predictions [rows, 14] of the current parameters at the given injected rates, with what each row showed the model. */
export type Predict = (rows: Int32Array, missImage: number, missTab: number) => Promise<PredictResult>;

export interface RunContext {
  /** The config the run trains with (on resume: the run's own). */
  cfg: TrainConfig;
  runDir: string;
  /** Counters; the loop advances them in place. */
  state: RunState;
  ds: PreparedDataset;
  trainRows: Int32Array;
  valRows: Int32Array;
  testRows: Int32Array;
  model: Model<Backend>;
  stepper: DataParallelStep;
  runner: TaskRunner;
  predict: Predict;
  log: Logger;
  /** Optimizer step of the resume file on disk (null: none written yet), so a failure names what survives. */
  savedStep: number | null;
  /** performance.now() of the last save of the resume state (or of the start), for --save-every 0. */
  lastSaveMs: number;
}
