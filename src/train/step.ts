/**
 * One data-parallel optimizer step (shared by the trainer and the training benchmark): cut the batch into
 * a fixed number of chunks, have the replicas compute each chunk's gradient into its slot, sum the slots
 * in slot order, zero frozen tensors, clip the global norm, AdamW, publish the new parameters.
 */
import type { Model } from '../model/index.ts';
import type { Backend } from '../engine/index.ts';
import type { LayoutEntry } from '../model/index.ts';
import type { Ptr } from '../engine/index.ts';
import { SCALAR_FLOATS } from '../engine/index.ts';
import { cutChunks } from './batching.ts';
import type { DropoutRates } from './missing.ts';
import type { TaskRunner } from './pool.ts';
import type { GradTask } from './replica.ts';

export interface OptimizerSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip (0: off). */
  clip: number;
}

export interface StepInputs {
  /** Observed-label count of the whole batch. */
  normalizer: number;
  seed: number;
  dropout: DropoutRates;
  missImage: number;
  missTab: number;
}

/**
 * The encoders' (vision.*, tabular.*) learning rate in stage 2 of two-stage training: `scale` times the
 * schedule's (0: frozen for this step: gradients zeroed, no AdamW update, moments untouched) and the AdamW
 * step count `t` (0-based) their bias correction uses, counted from when they started moving, so encoders
 * frozen for a warm-up start with the usual first-step size instead of an over-large one.
 */
export interface EncoderRate {
  scale: number;
  t: number;
}

/** Whether a tensor belongs to one of the unimodal encoders (what two-stage training pretrains). */
export function isEncoderTensor(name: string): boolean {
  return name.startsWith('vision.') || name.startsWith('tabular.');
}

export class DataParallelStep {
  /** Bumped each time new parameters are published; replicas re-read them when it changes. */
  version = 0;
  private readonly P: number;
  private readonly mPtr: Ptr;
  private readonly vPtr: Ptr;
  /** [chunks * P] the gradient slots copied into the arena, so the sum, norm and clip run as kernels. */
  private readonly stage: Ptr;
  /** Scalar slot of the squared gradient norm. */
  private readonly normSq: Ptr;

  /**
   * `params` and `slots` are the SharedArrayBuffer views the replicas read and write; AdamW moments live
   * in the model's arena (allocated here, zeroed; `moments()` gives them for checkpoints).
   */
  constructor(
    private readonly model: Model<Backend>,
    private readonly runner: TaskRunner,
    readonly params: Float32Array,
    private readonly slots: Float32Array,
    private readonly chunks: number,
    private readonly opt: OptimizerSettings,
    private readonly frozen: readonly LayoutEntry[] = [],
  ) {
    this.P = model.numParams;
    const be = model.backend;
    this.mPtr = be.alloc(this.P);
    this.vPtr = be.alloc(this.P);
    this.stage = be.alloc(this.P * chunks);
    this.normSq = be.alloc(SCALAR_FLOATS);
    be.fill(this.mPtr, this.P, 0);
    be.fill(this.vPtr, this.P, 0);
  }

  /** A step whose shared parameters start as the model's (read back asynchronously on WebGPU). */
  static async create(
    model: Model<Backend>, runner: TaskRunner, params: Float32Array, slots: Float32Array, chunks: number,
    opt: OptimizerSettings, frozen: readonly LayoutEntry[] = [],
  ): Promise<DataParallelStep> {
    const s = new DataParallelStep(model, runner, params, slots, chunks, opt, frozen);
    params.set(await model.paramDataAsync());
    return s;
  }

  /** The AdamW moments (first, second), read back. */
  async moments(): Promise<{ m: ArrayLike<number>; v: ArrayLike<number> }> {
    const be = this.model.backend;
    return { m: await be.read(this.mPtr, this.P), v: await be.read(this.vPtr, this.P) };
  }
  setMoments(m: ArrayLike<number>, v: ArrayLike<number>): void {
    this.model.backend.write(this.mPtr, m);
    this.model.backend.write(this.vPtr, v);
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
   * parameter changes. `enc` sets the encoders' rate (default: as every other tensor).
   */
  async run(rows: Int32Array, t: number, lr: number, inp: StepInputs, enc?: EncoderRate): Promise<{ loss: number; norm: number }> {
    const { model, P, slots } = this;
    const parts = cutChunks(rows, this.chunks);
    const outs = await Promise.all(parts.map((idx, slot) => this.runner.run<{ loss: number }>({
      kind: 'grad', version: this.version, slot, indices: idx, normalizer: inp.normalizer, step: t, seed: inp.seed,
      dropout: inp.dropout, missImage: inp.missImage, missTab: inp.missTab,
    } satisfies GradTask)));
    let loss = 0;
    for (const o of outs) loss += o.loss;
    if (!Number.isFinite(loss)) throw new Error(`non-finite loss ${loss}`);
    // Sum chunk gradients in slot order (fixed whatever the thread count), then clip and step. One copy
    // brings the slots into the arena; the sum, norm and clip are SIMD kernels (a JS loop took ~3x longer).
    const be = model.backend, gPtr = model.gradPtr;
    be.write(this.stage, slots.subarray(0, parts.length * P));
    be.sumBuffers(gPtr, this.stage, P, parts.length, P);
    for (const e of this.frozen) be.fill(gPtr + e.offset, e.size, 0);
    const encFrozen = enc !== undefined && enc.scale === 0;
    if (encFrozen) for (const e of model.layout) if (isEncoderTensor(e.name)) be.fill(gPtr + e.offset, e.size, 0);
    be.sumSquaresTo(this.normSq, gPtr, P);
    const norm = Math.sqrt(await be.readScalar(this.normSq));
    if (!Number.isFinite(norm)) throw new Error(`non-finite gradient norm ${norm}`);
    const o = this.opt;
    if (o.clip > 0 && norm > o.clip) be.scale(gPtr, P, o.clip / norm);
    const pPtr = model.paramPtr;
    for (const e of model.layout) {
      if (this.frozen.includes(e)) continue;
      let lrE = lr, tE = t;
      if (enc && isEncoderTensor(e.name)) {
        if (encFrozen) continue;
        lrE = lr * enc.scale;
        tE = enc.t;
      }
      be.adamw(pPtr + e.offset, gPtr + e.offset, this.mPtr + e.offset, this.vPtr + e.offset, e.size, lrE, o.beta1, o.beta2, o.eps, e.decay ? o.weightDecay : 0, tE + 1);
    }
    this.params.set(await model.paramDataAsync());
    this.version++;
    return { loss, norm };
  }
}
