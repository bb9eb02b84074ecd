/**
 * One data-parallel optimizer step (shared by the trainer and the training benchmark).
 *
 * The batch is cut into units of `microBatch` samples (a number fixed by the config, never by the thread
 * count). On the WebAssembly backend the whole step is one task per working thread (a StepTask,
 * src/train/replica.ts): each takes units from a shared counter until none are left and computes each
 * unit's gradient into that unit's slot of a shared buffer (no hand-out per unit, and the balance adapts to
 * units of unequal cost, e.g. with images missing); then, after a barrier, each worker runs the optimizer on
 * its range of fixed parameter blocks (src/train/shards.ts): reduce (sum the unit slots in unit order, zero
 * frozen tensors, one sum of squares per block); after a second barrier, clip by the global norm (the block
 * sums added in block order) and AdamW straight into the shared parameters and moments. The batch loss (the
 * units' losses in unit order) and the norm are checked finite in every worker before any parameter changes.
 * So the bits do not depend on --threads, and the main thread only hands out one task per worker and reads
 * the replies: one round trip per step instead of one per phase.
 *
 * WebGPU and the Float64 reference backend keep the whole-model step on the main thread (`sliced` false):
 * WebGPU's optimizer runs on the device, and the reference keeps its Float64 master copy in its arena. There
 * the workers run grad tasks (the units only) and the main thread the rest.
 */
import type { Model } from '../model/index.ts';
import type { Backend } from '../engine/index.ts';
import type { LayoutEntry } from '../model/index.ts';
import type { Ptr } from '../engine/index.ts';
import { SCALAR_FLOATS } from '../engine/index.ts';
import { unitsPerBatch } from './batching.ts';
import type { DropoutRates } from './missing.ts';
import type { TaskRunner } from './pool.ts';
import { wallNow } from './replica.ts';
import type { GradResult, GradTask, ReplicaInit, StepResult, StepTask, Task, TaskSpan } from './replica.ts';
import { STEP_ABORTED, SYNC_ABORT, SYNC_COUNT, SYNC_INTS, abortStep, blockEdges, clipScale, isEncoderTensor, tensorRate } from './shards.ts';
import type { EncoderRate } from './shards.ts';

export { isEncoderTensor } from './shards.ts';
export type { EncoderRate } from './shards.ts';

export interface OptimizerSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip (0: off). */
  clip: number;
}

export interface StepInputs {
  /** Observed-label count of the whole batch (what the rest of the batch shows is the replicas' policy). */
  normalizer: number;
}

/**
 * A step's phase of tasks (one task per worker: whole steps, or the units' gradients on the main-thread step)
 * as the main thread saw it, for the benchmark.
 * Times are wall-clock milliseconds (`wallNow`, comparable between threads).
 */
export interface PhaseTiming {
  /** When the main thread began handing the phase's tasks out, when it had handed out its first, and all. */
  sent: number;
  firstHandedOut: number;
  handedOut: number;
  /** Each task: its span inside the worker, its work (ms), and when its reply reached the main thread. */
  tasks: { start: number; end: number; work: number; received: number }[];
  /** When the last reply had arrived. */
  done: number;
}

/** Where the last step's time went, for the benchmark (bench/train.ts). */
export interface StepProfile {
  units: number;
  /** Each unit's batch + forward + backward + copy to its slot, as its worker measured it (ms). */
  unitMs: number[];
  /** The step's one phase of tasks (sliced: whole steps; else: the units' gradients). */
  grad: PhaseTiming;
  /** Sliced: each task's optimizer work (reduce + update of its blocks), ms. */
  optimizerMs?: number[];
  /** The main thread's own work after the phase (the whole optimizer when not sliced), ms. */
  mainMs: number;
}

/**
 * Hand `tasks` out, wait for every reply, and time the phase. `onFailure` runs at the first failed task (the
 * step's abort: workers waiting at a barrier for the failed one stop); the error thrown is the first that is
 * not such an abort.
 */
async function phase<R extends TaskSpan>(runner: TaskRunner, tasks: Task[], work: (r: R) => number, onFailure?: () => void): Promise<{ results: R[]; timing: PhaseTiming }> {
  const sent = wallNow(), received: number[] = [];
  let firstHandedOut = 0;
  const replies = tasks.map((t, i) => {
    const reply = runner.run<R>(t).then((r) => { received[i] = wallNow(); return r; }, (e: unknown) => { onFailure?.(); throw e; });
    if (i === 0) firstHandedOut = wallNow();
    return reply;
  });
  const handedOut = wallNow();
  const settled = await Promise.allSettled(replies);
  const failed = settled.filter((x): x is PromiseRejectedResult => x.status === 'rejected').map((x) => x.reason as unknown);
  if (failed.length) throw failed.find((e) => !(e instanceof Error && e.message.includes(STEP_ABORTED))) ?? failed[0];
  const results = settled.map((x) => (x as PromiseFulfilledResult<R>).value);
  const done = wallNow();
  return { results, timing: { sent, firstHandedOut, handedOut, done, tasks: results.map((r, i) => ({ start: r.start, end: r.end, work: work(r), received: received[i] })) } };
}

/** Whether a backend runs the sliced optimizer in the workers (Float32 and synchronous: WebAssembly). */
export function slicedOptimizer(be: Backend): boolean {
  return be.precision === 'f32' && be.synchronous;
}

/** The shared buffers of a step, as ReplicaInit fields. */
export type StepBuffers = Pick<ReplicaInit, 'params' | 'grads' | 'optimizer'> & { next: SharedArrayBuffer };

/** The shared buffers of a step for `maxUnits` units per batch, as ReplicaInit fields. */
export function stepBuffers(model: Model<Backend>, maxUnits: number, frozen: readonly LayoutEntry[]): StepBuffers {
  const P = model.numParams;
  const sab = (floats: number, bytes = 4) => new SharedArrayBuffer(floats * bytes);
  return {
    params: sab(P), grads: sab(P * maxUnits), next: sab(1),
    optimizer: slicedOptimizer(model.backend)
      ? {
        reduced: sab(P), m: sab(P), v: sab(P), normParts: sab(blockEdges(model.layout, P).length - 1, 8),
        losses: sab(maxUnits, 8), sync: sab(SYNC_INTS), frozen: frozen.map((e) => e.name),
      }
      : undefined,
  };
}

export class DataParallelStep {
  /** Bumped each time new parameters are published; replicas re-read them when it changes. */
  version = 0;
  /** The shared parameters (Float32 [P]) the replicas read. */
  readonly params: Float32Array;
  /** Time of the last step's phases. */
  profile: StepProfile | undefined;
  private readonly P: number;
  private readonly slots: Float32Array;
  /** The shared unit counter the grad tasks take units from (ReplicaInit.next). */
  private readonly next: Int32Array;
  private readonly sliced?: { m: Float32Array; v: Float32Array; sync: Int32Array };
  /** The main-thread step's arena state: moments, the slots' staging copy, the norm's scalar slot. */
  private readonly whole?: { m: Ptr; v: Ptr; stage: Ptr; normSq: Ptr };

  /**
   * `init` holds the shared buffers (made by `stepBuffers`) that the runner's replicas were given. With
   * `init.optimizer` the workers run the optimizer; else the AdamW moments live in the model's arena.
   */
  constructor(
    private readonly model: Model<Backend>,
    private readonly runner: TaskRunner,
    init: StepBuffers,
    private readonly microBatch: number,
    private readonly opt: OptimizerSettings,
    private readonly frozen: readonly LayoutEntry[] = [],
  ) {
    this.P = model.numParams;
    this.params = new Float32Array(init.params);
    this.slots = new Float32Array(init.grads);
    this.next = new Int32Array(init.next);
    const o = init.optimizer;
    if (o) {
      this.sliced = { m: new Float32Array(o.m), v: new Float32Array(o.v), sync: new Int32Array(o.sync) };
    } else {
      const be = model.backend, P = this.P;
      this.whole = { m: be.alloc(P), v: be.alloc(P), stage: be.alloc(this.slots.length), normSq: be.alloc(SCALAR_FLOATS) };
      be.fill(this.whole.m, P, 0);
      be.fill(this.whole.v, P, 0);
    }
  }

  /** A step whose shared parameters start as the model's (read back asynchronously on WebGPU). */
  static async create(
    model: Model<Backend>, runner: TaskRunner, init: StepBuffers, microBatch: number,
    opt: OptimizerSettings, frozen: readonly LayoutEntry[] = [],
  ): Promise<DataParallelStep> {
    const s = new DataParallelStep(model, runner, init, microBatch, opt, frozen);
    s.params.set(await model.paramDataAsync());
    return s;
  }

  /** Whether the workers run the optimizer (else the main thread does). */
  get slicedOptimizer(): boolean { return this.sliced !== undefined; }

  /** The AdamW moments (first, second), read back. */
  async moments(): Promise<{ m: ArrayLike<number>; v: ArrayLike<number> }> {
    if (this.sliced) return { m: this.sliced.m.slice(), v: this.sliced.v.slice() };
    const be = this.model.backend, w = this.whole!;
    return { m: await be.read(w.m, this.P), v: await be.read(w.v, this.P) };
  }
  setMoments(m: ArrayLike<number>, v: ArrayLike<number>): void {
    if (this.sliced) {
      this.sliced.m.set(m);
      this.sliced.v.set(v);
      return;
    }
    this.model.backend.write(this.whole!.m, m);
    this.model.backend.write(this.whole!.v, v);
  }
  /** Publish parameters (resume, init) to the replicas. */
  setParams(flat: ArrayLike<number>): void {
    this.model.setParams(flat);
    this.params.set(flat);
    this.version++;
  }

  /**
   * One step over `rows` (data set row indices) at 0-based step `t` with learning rate `lr`. Returns the
   * batch loss and the gradient norm before clipping; throws on a non-finite loss or norm, before any
   * parameter changes.
   */
  async run(rows: Int32Array, t: number, lr: number, inp: StepInputs, enc?: EncoderRate): Promise<{ loss: number; norm: number }> {
    const units = unitsPerBatch(rows.length, this.microBatch);
    if (units * this.P > this.slots.length) throw new Error(`a batch of ${rows.length} samples needs ${units} gradient slots; the step has ${this.slots.length / this.P}`);
    // One task per worker that can work; each takes units from the shared counter until none are left.
    Atomics.store(this.next, 0, 0);
    const grad = { version: this.version, rows, normalizer: inp.normalizer, step: t };
    const workers = Math.min(this.runner.threads, units);
    const { loss, norm } = this.sliced ? await this.slicedStep(grad, units, workers, t, lr, enc) : await this.wholeStep(grad, units, workers, t, lr, enc);
    this.version++;
    return { loss, norm };
  }

  /** The units' results of a phase, checked (each unit taken once), with the profile's unit times. */
  private unitsOf(results: GradResult[], units: number): { losses: Float64Array; unitMs: number[] } {
    const losses = new Float64Array(units).fill(NaN), unitMs = new Array<number>(units);
    let taken = 0;
    for (const r of results) for (const u of r.units) { losses[u.unit] = u.loss; unitMs[u.unit] = u.ms; taken++; }
    if (taken !== units) throw new Error(`the grad tasks computed ${taken} units of a batch of ${units}`);
    return { losses, unitMs };
  }

  /** The whole step in the workers (StepTask): one task each, their replies read here. */
  private async slicedStep(grad: StepTask['grad'], units: number, workers: number, t: number, lr: number, enc?: EncoderRate): Promise<{ loss: number; norm: number }> {
    const { opt } = this, sync = this.sliced!.sync;
    Atomics.store(sync, SYNC_COUNT, 0);
    Atomics.store(sync, SYNC_ABORT, 0);
    const update = { lr, t: t + 1, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay, clip: opt.clip, enc };
    const tasks = Array.from({ length: workers }, (_, k): StepTask => ({ kind: 'step', grad, worker: k, workers, units, encodersFrozen: enc?.scale === 0, update }));
    const g = await phase<StepResult>(this.runner, tasks, (r) => r.end - r.start, () => abortStep(sync));
    const t0 = performance.now();
    const { unitMs } = this.unitsOf(g.results, units);
    const { loss, norm } = g.results[0];
    // Every task computed the same loss and norm; each skipped its update when one was not finite.
    if (!Number.isFinite(loss)) throw new Error(`non-finite loss ${loss}`);
    if (!Number.isFinite(norm)) throw new Error(`non-finite gradient norm ${norm}`);
    if (g.results.some((r) => !r.applied || r.loss !== loss || r.norm !== norm)) throw new Error('the step tasks disagree on the loss or the norm, or one did not update its blocks');
    this.profile = { units, unitMs, grad: g.timing, optimizerMs: g.results.map((r) => r.optimizerMs), mainMs: performance.now() - t0 };
    return { loss, norm };
  }

  /**
   * The main-thread step (WebGPU, reference): the workers compute the units (grad tasks); one copy brings the
   * slots into the arena; the sum, norm, clip and AdamW run as kernels there, then the parameters are
   * published to the shared buffer.
   */
  private async wholeStep(grad: StepTask['grad'], units: number, workers: number, t: number, lr: number, enc?: EncoderRate): Promise<{ loss: number; norm: number }> {
    const task: GradTask = { kind: 'grad', ...grad };
    const g = await phase<GradResult>(this.runner, Array.from({ length: workers }, () => task), (r) => r.end - r.start);
    const { losses, unitMs } = this.unitsOf(g.results, units);
    // Unit order, whatever worker took which unit: the loss's bits are fixed.
    let loss = 0;
    for (let u = 0; u < units; u++) loss += losses[u];
    if (!Number.isFinite(loss)) throw new Error(`non-finite loss ${loss}`);
    const { model, P, slots, opt } = this, w = this.whole!;
    const t0 = performance.now();
    const be = model.backend, gPtr = model.gradPtr;
    be.write(w.stage, slots.subarray(0, units * P));
    be.sumBuffers(gPtr, w.stage, P, units, P);
    for (const e of model.layout) {
      if (this.frozen.includes(e) || (enc?.scale === 0 && isEncoderTensor(e.name))) be.fill(gPtr + e.offset, e.size, 0);
    }
    be.sumSquaresTo(w.normSq, gPtr, P);
    const norm = Math.sqrt(await be.readScalar(w.normSq));
    if (!Number.isFinite(norm)) throw new Error(`non-finite gradient norm ${norm}`);
    const scale = clipScale(norm, opt.clip);
    if (scale !== 1) be.scale(gPtr, P, scale);
    const pPtr = model.paramPtr;
    for (const e of model.layout) {
      const r = tensorRate(e, this.frozen, lr, t + 1, enc);
      if (!r) continue;
      be.adamw(pPtr + e.offset, gPtr + e.offset, w.m + e.offset, w.v + e.offset, e.size, r.lr, opt.beta1, opt.beta2, opt.eps, e.decay ? opt.weightDecay : 0, r.t);
    }
    this.params.set(await model.paramDataAsync());
    this.profile = { units, unitMs, grad: g.timing, mainMs: performance.now() - t0 };
    return { loss, norm };
  }
}
