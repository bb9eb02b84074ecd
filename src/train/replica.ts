/**
 * One model replica over a shared data set: what a worker thread (or the main thread with --threads 1)
 * computes. Tasks name sample indices; the replica builds the batch itself from the shared arrays with the
 * run's batch policy (src/train/batch-policy.ts: injection, dropout, imputation, sent once in ReplicaInit)
 * and returns results, with what each evaluated sample showed the model. The parameters
 * come from a SharedArrayBuffer (written by the main thread, or by the workers' step tasks); gradients go
 * to this task's slot of a shared gradient buffer, so nothing big is copied through messages. A step task
 * (StepTask) also runs the optimizer on its share of the blocks (src/train/shards.ts): all its state is in
 * shared memory.
 */
import type { PreparedDataset } from '../data/index.ts';
import { createModel, sigmoidProbabilities } from '../model/index.ts';
import type { Model, ModelConfig } from '../model/index.ts';
import { createBackendAsync } from '../engine/index.ts';
import type { AnyBackendKind, Backend, SyncBackend } from '../engine/index.ts';
import { prepareBatch } from './batch-policy.ts';
import type { BatchPolicy, BatchUse } from './batch-policy.ts';
import type { Shown } from '../engine/batch.ts';
import { ShardWorker, StepAborted, abortStep, checkAborted, clipScale, stepBarrier, stepProgress, workerBlocks } from './shards.ts';
import { cutUnits } from './batching.ts';
import type { UpdateSettings } from './shards.ts';

/** The arrays of a PreparedDataset that workers need (all on SharedArrayBuffers), plus its scalars. */
export type SharedDataset = Pick<PreparedDataset,
  'S' | 'n' | 'labelNames' | 'split' | 'subjectId' | 'studyId' | 'pixels' | 'pixelFile' | 'hasImage' | 'num' | 'numPresent' |
  'cat' | 'catPresent' | 'labels' | 'schema' | 'pixelMean' | 'pixelStd'>;

export interface ReplicaInit {
  model: ModelConfig;
  backend: AnyBackendKind;
  data: SharedDataset;
  /** Float32 [P]: the current parameters, written by the main thread between steps. */
  params: SharedArrayBuffer;
  /** Float32 [units * P]: one gradient slot per unit (micro-batch) of a batch. */
  grads: SharedArrayBuffer;
  /**
   * Int32 [1]: the next unit of the current step to take. The main thread sets it to 0 before a step's grad
   * tasks; each task takes units with Atomics.add until none are left (so a worker never waits for a
   * hand-out between units, and a slower worker simply takes fewer). Absent in a prediction-only replica.
   */
  next?: SharedArrayBuffer;
  /**
   * The sliced optimizer's shared state (src/train/shards.ts), when the workers run the reduction and AdamW:
   * Float32 [P] reduced gradient and moments, Float64 [blocks] block norms, Float64 [units] the units'
   * losses, Int32 [SYNC_INTS] the step's barrier, and the frozen tensors' names.
   */
  optimizer?: {
    reduced: SharedArrayBuffer; m: SharedArrayBuffer; v: SharedArrayBuffer; normParts: SharedArrayBuffer;
    losses: SharedArrayBuffer; sync: SharedArrayBuffer; frozen: string[];
  };
  /** What each sample shows the model (injection, dropout, imputation, label policy, micro-batch), for the whole run. */
  policy: BatchPolicy;
}

export interface GradTask {
  kind: 'grad';
  /** Bumped by the main thread each time it writes new parameters. */
  version: number;
  /** The batch's rows: unit u is cutUnits(rows, policy.microBatch)[u], and its gradient goes to slot u. */
  rows: Int32Array;
  /** Observed-label count of the whole batch: unit gradients then sum to the batch gradient. */
  normalizer: number;
  step: number;
}

/** Predictions of some rows at given injected rates (validation: the training rates; test points: their own). */
export interface PredictTask {
  kind: 'predict';
  version: number;
  indices: Int32Array;
  missImage: number;
  missTab: number;
}

/** What a predict task returns: probabilities [n,14] and which modalities each sample showed. */
export interface PredictResult extends Shown {
  probs: Float32Array;
}

/**
 * A whole optimizer step in one task per worker (the sliced optimizer): take units from the shared counter
 * as a grad task does, wait for the other workers' units, check the batch loss (summed in unit order), sum
 * the units of this worker's blocks (reduce), wait for the other workers' blocks, then clip by the global norm
 * (the block sums added in block order) and run AdamW on its blocks. Every worker computes the same loss and
 * norm from the shared buffers, so all of them skip the update together when one is not finite: no parameter
 * changes, and the main thread reports it. One hand-out and one reply per worker per step.
 */
export interface StepTask {
  kind: 'step';
  grad: Omit<GradTask, 'kind'>;
  /** This task's index and the step's task count: its blocks are workerBlocks(blocks, workers, worker). */
  worker: number;
  workers: number;
  /** Units of this batch. */
  units: number;
  /** The encoders are frozen this step (two-stage warm-up): their gradient is zeroed like a frozen tensor's. */
  encodersFrozen: boolean;
  update: UpdateSettings;
}

export type Task = GradTask | PredictTask | StepTask;

/** When a task ran inside its worker: wall-clock milliseconds (timeOrigin + now, comparable across threads). */
export interface TaskSpan {
  start: number;
  end: number;
}

/** What a grad task returns: the units it took (in the order it took them) and its span. */
export interface GradResult extends TaskSpan {
  units: { unit: number; loss: number; ms: number }[];
}

/**
 * What a step task returns: its units (as a grad task), the batch loss and gradient norm it computed (the
 * same in every task), whether it updated its blocks, and its optimizer work (reduce + update, ms).
 */
export interface StepResult extends GradResult {
  loss: number;
  norm: number;
  applied: boolean;
  optimizerMs: number;
}

/** Wall-clock milliseconds, comparable between threads. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export class Replica {
  readonly model: Model<Backend>;
  private version = -1;
  private readonly params: Float32Array;
  private readonly grads: Float32Array;

  /** A replica over `model` (made by `Replica.create` for the init's backend kind). */
  constructor(readonly init: ReplicaInit, model: Model<Backend>) {
    this.model = model;
    this.params = new Float32Array(init.params);
    this.grads = new Float32Array(init.grads);
  }

  /** A replica on any backend kind, WebGPU included (its device starts asynchronously). */
  static async create(init: ReplicaInit): Promise<Replica> {
    return new Replica(init, createModel(init.model, { backend: await createBackendAsync(init.backend) }));
  }

  private sync(version: number): void {
    if (version === this.version) return;
    this.model.setParams(this.params);
    this.version = version;
  }

  /** The task's batch, prepared by the run's batch policy. */
  private batch(version: number, indices: Int32Array, use: BatchUse) {
    this.sync(version);
    return prepareBatch(this.init.data as PreparedDataset, this.init.policy, indices, use);
  }

  /**
   * The step's units, taken one at a time from the shared counter until none are left; each unit's gradient
   * goes into its slot (on WebGPU the step runs on the device and is read back once).
   */
  async grad(t: GradTask): Promise<GradResult> {
    const start = wallNow();
    return { units: await this.takeUnits(t), start, end: wallNow() };
  }

  /** Units from the shared counter until none are left; in a step task (`sync`), stopped when the step is aborted. */
  private async takeUnits(t: Omit<GradTask, 'kind'>, sync?: Int32Array): Promise<GradResult['units']> {
    if (!this.init.next) throw new Error('this replica has no unit counter (ReplicaInit.next): it was set up for prediction only');
    const units = cutUnits(t.rows, this.init.policy.microBatch), next = new Int32Array(this.init.next);
    const out: GradResult['units'] = [];
    for (let u = Atomics.add(next, 0, 1); u < units.length; u = Atomics.add(next, 0, 1)) {
      if (sync) checkAborted(sync);
      out.push({ unit: u, ...(await this.unit(t, units[u], u)) });
      if (sync) stepProgress(sync);
    }
    return out;
  }

  /** A whole sliced step (StepTask). A failure sets the step's abort flag, so no other worker waits for this one. */
  async step(t: StepTask): Promise<StepResult> {
    const start = wallNow();
    const o = this.init.optimizer;
    if (!o) throw new Error('this replica was not set up for the sliced optimizer (ReplicaInit.optimizer)');
    const sync = new Int32Array(o.sync), losses = new Float64Array(o.losses), parts = new Float64Array(o.normParts);
    try {
      const units = await this.takeUnits(t.grad, sync);
      for (const u of units) losses[u.unit] = u.loss;
      stepBarrier(sync, t.workers, 'units');
      // Unit order, whatever worker took which unit: the loss's bits are fixed, and every task sums the same.
      let loss = 0;
      for (let u = 0; u < t.units; u++) loss += losses[u];
      const result = (norm: number, applied: boolean, optimizerMs: number): StepResult => ({ units, loss, norm, applied, optimizerMs, start, end: wallNow() });
      if (!Number.isFinite(loss)) return result(NaN, false, 0);
      const shard = this.shard(), blocks = workerBlocks(shard.blocks, t.workers, t.worker), t0 = performance.now();
      shard.reduce({ units: t.units, blocks, encodersFrozen: t.encodersFrozen });
      const reduceMs = performance.now() - t0;
      stepProgress(sync);
      stepBarrier(sync, t.workers, 'reduce');
      // Block order, whatever the thread count: the norm's bits are fixed.
      let sq = 0;
      for (let k = 0; k < parts.length; k++) sq += parts[k];
      const norm = Math.sqrt(sq);
      if (!Number.isFinite(norm)) return result(norm, false, reduceMs);
      const t1 = performance.now();
      shard.update({ ...t.update, blocks, scale: clipScale(norm, t.update.clip) });
      return result(norm, true, reduceMs + performance.now() - t1);
    } catch (e) {
      if (!(e instanceof StepAborted)) abortStep(sync);
      throw e;
    }
  }

  private async unit(t: Omit<GradTask, 'kind'>, indices: Int32Array, slot: number): Promise<{ loss: number; ms: number }> {
    const t0 = performance.now();
    const b = this.batch(t.version, indices, { kind: 'train', step: t.step }).batch;
    const P = this.model.numParams, grads = this.grads.subarray(slot * P, (slot + 1) * P), be = this.model.backend;
    let loss: number;
    if (be.synchronous) {
      // One copy from the arena straight into the slot (the asynchronous path reads a copy first).
      loss = (this.model as Model<SyncBackend>).lossAndGrad(b, { normalizer: t.normalizer }).loss;
      grads.set((be as SyncBackend).view(this.model.gradPtr, P));
    } else {
      const r = await this.model.lossAndGradAsync(b, { normalizer: t.normalizer });
      loss = r.loss;
      for (const e of this.model.layout) grads.set(r.grads[e.name], e.offset);
    }
    return { loss, ms: performance.now() - t0 };
  }

  /** The sliced optimizer's block work, on scratch allocated in this replica's arena at first use. */
  private shards?: ShardWorker;
  private shard(): ShardWorker {
    const o = this.init.optimizer, be = this.model.backend;
    if (!o || !be.synchronous) throw new Error('this replica was not set up for the sliced optimizer (it needs a synchronous backend)');
    const frozen = this.model.layout.filter((e) => o.frozen.includes(e.name));
    return (this.shards ??= new ShardWorker(be as SyncBackend, this.model.layout, frozen, {
      params: this.params, grads: this.grads, reduced: new Float32Array(o.reduced), m: new Float32Array(o.m), v: new Float32Array(o.v),
      normParts: new Float64Array(o.normParts),
    }));
  }

  /** Probabilities [n,14], and what each sample showed. */
  async predict(t: PredictTask): Promise<PredictResult> {
    const { batch, shown } = this.batch(t.version, t.indices, { kind: 'eval', missImage: t.missImage, missTab: t.missTab });
    return { probs: sigmoidProbabilities(await this.model.forwardAsync(batch)), ...shown };
  }

  /** Tasks run one at a time: a replica has one set of activations and gradients, and its calls yield. */
  private queue: Promise<unknown> = Promise.resolve();
  run(t: Task): Promise<unknown> {
    const next = this.queue.then(async (): Promise<unknown> => {
      switch (t.kind) {
        case 'grad': return this.grad(t);
        case 'predict': return this.predict(t);
        case 'step': return this.step(t);
      }
    });
    this.queue = next.catch(() => {});
    return next;
  }
}
