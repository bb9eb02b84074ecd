/**
 * One model replica over a shared data set: what a worker thread (or the main thread with --threads 1)
 * computes. Tasks name sample indices; the replica builds the batch itself from the shared arrays with the
 * run's batch policy (src/train/batch-policy.ts: injection, dropout, imputation, sent once in ReplicaInit)
 * and returns results, with what each evaluated sample showed the model. The parameters
 * come from a SharedArrayBuffer (written by the main thread, or by the workers' optimizer tasks); gradients go
 * to this task's slot of a shared gradient buffer, so nothing big is copied through messages. The optimizer's
 * reduce and update tasks (src/train/shards.ts) run on any replica: their state is all in shared memory.
 */
import type { PreparedDataset } from '../data/index.ts';
import { createModel, sigmoidProbabilities } from '../model/index.ts';
import type { Model, ModelConfig } from '../model/index.ts';
import { createBackendAsync } from '../engine/index.ts';
import type { AnyBackendKind, Backend, SyncBackend } from '../engine/index.ts';
import { prepareBatch } from './batch-policy.ts';
import type { BatchPolicy, BatchUse } from './batch-policy.ts';
import type { Shown } from '../engine/batch.ts';
import { ShardWorker } from './shards.ts';
import { cutUnits } from './batching.ts';
import type { ReduceTask, UpdateTask } from './shards.ts';

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
   * Float32 [P] reduced gradient and moments, Float64 [blocks] block norms, and the frozen tensors' names.
   */
  optimizer?: { reduced: SharedArrayBuffer; m: SharedArrayBuffer; v: SharedArrayBuffer; normParts: SharedArrayBuffer; frozen: string[] };
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

export type Task = GradTask | PredictTask | ReduceTask | UpdateTask;

/** When a task ran inside its worker: wall-clock milliseconds (timeOrigin + now, comparable across threads). */
export interface TaskSpan {
  start: number;
  end: number;
}

/** What a grad task returns: the units it took (in the order it took them) and its span. */
export interface GradResult extends TaskSpan {
  units: { unit: number; loss: number; ms: number }[];
}

/** What an optimizer task returns: its work (ms) and span. */
export interface ShardResult extends TaskSpan {
  ms: number;
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
  private batch(t: GradTask | PredictTask, indices: Int32Array) {
    this.sync(t.version);
    const use: BatchUse = t.kind === 'grad' ? { kind: 'train', step: t.step } : { kind: 'eval', missImage: t.missImage, missTab: t.missTab };
    return prepareBatch(this.init.data as PreparedDataset, this.init.policy, indices, use);
  }

  /**
   * The step's units, taken one at a time from the shared counter until none are left; each unit's gradient
   * goes into its slot (on WebGPU the step runs on the device and is read back once).
   */
  async grad(t: GradTask): Promise<GradResult> {
    const start = wallNow();
    if (!this.init.next) throw new Error('this replica has no unit counter (ReplicaInit.next): it was set up for prediction only');
    const units = cutUnits(t.rows, this.init.policy.microBatch), next = new Int32Array(this.init.next);
    const out: GradResult['units'] = [];
    for (let u = Atomics.add(next, 0, 1); u < units.length; u = Atomics.add(next, 0, 1)) {
      out.push({ unit: u, ...(await this.unit(t, units[u], u)) });
    }
    return { units: out, start, end: wallNow() };
  }

  private async unit(t: GradTask, indices: Int32Array, slot: number): Promise<{ loss: number; ms: number }> {
    const t0 = performance.now();
    const b = this.batch(t, indices).batch;
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
    const { batch, shown } = this.batch(t, t.indices);
    return { probs: sigmoidProbabilities(await this.model.forwardAsync(batch)), ...shown };
  }

  /** Tasks run one at a time: a replica has one set of activations and gradients, and its calls yield. */
  private queue: Promise<unknown> = Promise.resolve();
  run(t: Task): Promise<unknown> {
    const next = this.queue.then(async (): Promise<unknown> => {
      switch (t.kind) {
        case 'grad': return this.grad(t);
        case 'predict': return this.predict(t);
        case 'reduce': return timed(() => this.shard().reduce(t));
        case 'update': return timed(() => this.shard().update(t));
      }
    });
    this.queue = next.catch(() => {});
    return next;
  }
}

/** `f`'s work and span (what the optimizer's tasks return, for the benchmark's profile). */
function timed(f: () => void): ShardResult {
  const start = wallNow(), t0 = performance.now();
  f();
  return { ms: performance.now() - t0, start, end: wallNow() };
}
