/**
 * The optimizer's parallel half: the flat parameter vector cut into fixed blocks, a number that depends on
 * the model only (never on the thread count), and the per-block work a worker does on its range of blocks.
 *
 * Why fixed blocks: the global gradient norm is a sum of per-block sums of squares added in block order,
 * so its bits cannot depend on how many workers share the blocks. Every other operation (the ordered sum of
 * unit gradients, zeroing frozen tensors, clipping, AdamW) is elementwise and gives the same bits whatever
 * the cut, provided AdamW's 4-lane groups start where the whole-tensor call starts them: block edges that
 * fall inside a tensor are moved up to the tensor's start plus a multiple of 4 (the SIMD kernel and its
 * scalar tail round differently, see assembly/optim.ts).
 */
import type { LayoutEntry } from '../model/index.ts';
import type { Ptr, SyncBackend } from '../engine/index.ts';
import { SCALAR_FLOATS } from '../engine/index.ts';

/** Nominal block length (floats): 64 KiB, so a block and its unit pieces stay in L2 while they are summed. */
export const BLOCK = 1 << 14;

/**
 * Edges of the fixed blocks over [0, P): edges[k] .. edges[k+1] is block k. Nominal edges k * BLOCK, each
 * moved up inside its tensor to a multiple of 4 from the tensor's start (so a block is at most BLOCK + 3).
 */
export function blockEdges(layout: readonly LayoutEntry[], P: number, block = BLOCK): Int32Array {
  const edges = [0];
  let e = 0;
  for (let x = block; x < P; x += block) {
    while (layout[e].offset + layout[e].size <= x) e++;
    const t = layout[e], at = Math.min(t.offset + t.size, t.offset + Math.ceil((x - t.offset) / 4) * 4);
    if (at > edges[edges.length - 1] && at < P) edges.push(at);
  }
  edges.push(P);
  return Int32Array.from(edges);
}

/** Worker k's blocks of `blocks` shared by `workers`: contiguous, sizes within one. */
export function workerBlocks(blocks: number, workers: number, k: number): [number, number] {
  return [Math.floor((k * blocks) / workers), Math.floor(((k + 1) * blocks) / workers)];
}

/** The shared (SharedArrayBuffer) state of the sliced optimizer, as every replica sees it. */
export interface ShardBuffers {
  /** Float32 [P]: the parameters. */
  params: Float32Array;
  /** Float32 [units * P]: one gradient per unit of the batch. */
  grads: Float32Array;
  /** Float32 [P]: the summed (then frozen-zeroed) batch gradient, between the reduce and update phases. */
  reduced: Float32Array;
  /** Float32 [P] each: AdamW moments. */
  m: Float32Array;
  v: Float32Array;
  /** Float64 [blocks]: each block's sum of squares of the reduced gradient. */
  normParts: Float64Array;
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

/**
 * The learning rate and 1-based AdamW step of tensor `e` in an update at rate `lr`, step `t` (1-based):
 * null when the tensor does not move this step (frozen, or an encoder during its warm-up).
 */
export function tensorRate(e: LayoutEntry, frozen: readonly LayoutEntry[], lr: number, t: number, enc?: EncoderRate): { lr: number; t: number } | null {
  if (frozen.includes(e)) return null;
  if (!enc || !isEncoderTensor(e.name)) return { lr, t };
  return enc.scale === 0 ? null : { lr: lr * enc.scale, t: enc.t + 1 };
}

/** Phase 1 of the optimizer on a block range: sum the units in order, zero frozen tensors, block norms. */
export interface ReduceWork {
  /** Units of this batch (a short last batch has fewer). */
  units: number;
  blocks: [number, number];
  /** The encoders are frozen this step (two-stage warm-up): their gradient is zeroed like a frozen tensor's. */
  encodersFrozen?: boolean;
}

/** The AdamW settings of one update. */
export interface UpdateSettings {
  lr: number;
  /** 1-based AdamW step. */
  t: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip (0: off). */
  clip: number;
  /** Two-stage training: the encoders' rate (tensorRate). */
  enc?: EncoderRate;
}

/** Phase 2 on a block range: clip by `scale` (1: none) and AdamW into the shared parameters and moments. */
export interface UpdateWork extends UpdateSettings {
  blocks: [number, number];
  scale: number;
}

/** The clip factor of a gradient of norm `norm` (1: none; clip 0 is off). */
export function clipScale(norm: number, clip: number): number {
  return clip > 0 && norm > clip ? clip / norm : 1;
}

/** Int32 slots of the step's barrier buffer (ShardBuffers' owner, ReplicaInit.optimizer.sync). */
export const SYNC_COUNT = 0;
export const SYNC_GENERATION = 1;
export const SYNC_ABORT = 2;
/** Bumped by every worker after each unit and each reduce: a waiter's time limit counts from its last change. */
export const SYNC_PROGRESS = 3;
export const SYNC_INTS = 4;

/**
 * How long a worker waits at a barrier while no worker of the step makes progress (finishes a unit or its
 * reduce) before it gives up: a backstop only, since a worker that fails sets the abort flag, and so does the
 * main thread when the pool reports a dead worker. A slow unit does not trip it as long as others progress;
 * one unit alone taking longer would.
 */
export const BARRIER_LIMIT_MS = 30 * 60_000;

/** StepAborted's message: how the main thread tells such a failure from the one that caused it (errors reach it as messages). */
export const STEP_ABORTED = 'step aborted: another training worker of this step failed';

/** What a worker throws at a barrier when another worker of the step failed first. */
export class StepAborted extends Error {
  constructor() { super(STEP_ABORTED); }
}

/**
 * Wait until all `parties` tasks of the step have arrived (a reusable generation barrier over `sync`): the
 * last to arrive resets the count, then bumps the generation and wakes the others. Throws StepAborted once
 * the abort flag is set (a worker that fails, or the main thread when the pool reports a dead worker,
 * sets it), and gives up after BARRIER_LIMIT_MS. With one party it returns at once (the 1-thread runner runs
 * on the main thread, where Atomics.wait is not allowed).
 */
export function stepBarrier(sync: Int32Array, parties: number, where: string, limitMs = BARRIER_LIMIT_MS): void {
  if (parties <= 1) return;
  const gen = Atomics.load(sync, SYNC_GENERATION);
  if (Atomics.add(sync, SYNC_COUNT, 1) === parties - 1) {
    Atomics.store(sync, SYNC_COUNT, 0);
    Atomics.add(sync, SYNC_GENERATION, 1);
    Atomics.notify(sync, SYNC_GENERATION);
    return;
  }
  let t0 = Date.now(), seen = Atomics.load(sync, SYNC_PROGRESS);
  while (Atomics.load(sync, SYNC_GENERATION) === gen) {
    checkAborted(sync);
    const now = Date.now(), p = Atomics.load(sync, SYNC_PROGRESS);
    if (p !== seen) { seen = p; t0 = now; }
    if (now - t0 > limitMs) throw new Error(`a training worker waited ${Math.round(limitMs / 1000)} s at the step's ${where} for the other ${parties - 1} worker(s), none of which made progress`);
    Atomics.wait(sync, SYNC_GENERATION, gen, 200);
  }
}

/** A worker's note that it finished a unit or its reduce (the barrier's time limit restarts). */
export function stepProgress(sync: Int32Array): void {
  Atomics.add(sync, SYNC_PROGRESS, 1);
}

/** Throw StepAborted if another worker of the step has failed (checked before each unit). */
export function checkAborted(sync: Int32Array): void {
  if (Atomics.load(sync, SYNC_ABORT) !== 0) throw new StepAborted();
}

/** Ask every worker waiting at a barrier of the step to stop (StepAborted). */
export function abortStep(sync: Int32Array): void {
  Atomics.store(sync, SYNC_ABORT, 1);
  Atomics.notify(sync, SYNC_GENERATION);
}

/**
 * A worker's scratch in its own arena and the block work over it. The engine's kernels run on the arena,
 * so each piece is copied in from shared memory and back (one memcpy each way: cheaper than the kernels'
 * JavaScript twins, and the copies run in parallel like the rest).
 */
export class ShardWorker {
  private readonly edges: Int32Array;
  private stage: Ptr = 0;
  private stageUnits = 0;
  private readonly g: Ptr;
  private readonly p: Ptr;
  private readonly m: Ptr;
  private readonly v: Ptr;
  private readonly sq: Ptr;
  private readonly span: number;

  constructor(
    private readonly be: SyncBackend,
    private readonly layout: readonly LayoutEntry[],
    private readonly frozen: readonly LayoutEntry[],
    private readonly buf: ShardBuffers,
  ) {
    const P = buf.params.length;
    this.edges = blockEdges(layout, P);
    this.span = BLOCK + 4;
    [this.g, this.p, this.m, this.v] = [0, 1, 2, 3].map(() => be.alloc(this.span));
    this.sq = be.alloc(SCALAR_FLOATS);
  }

  get blocks(): number { return this.edges.length - 1; }

  reduce(t: ReduceWork): void {
    const { be, buf, edges, span } = this;
    const P = buf.params.length;
    if (t.units > this.stageUnits) { this.stage = this.be.alloc(span * t.units); this.stageUnits = t.units; }
    for (let k = t.blocks[0]; k < t.blocks[1]; k++) {
      const a = edges[k], n = edges[k + 1] - a;
      for (let u = 0; u < t.units; u++) be.write(this.stage + u * span, buf.grads.subarray(u * P + a, u * P + a + n));
      be.sumBuffers(this.g, this.stage, span, t.units, n);
      for (const e of this.layout) {
        if (!this.frozen.includes(e) && !(t.encodersFrozen && isEncoderTensor(e.name))) continue;
        const lo = Math.max(a, e.offset), hi = Math.min(a + n, e.offset + e.size);
        if (hi > lo) be.fill(this.g + lo - a, hi - lo, 0);
      }
      be.sumSquaresTo(this.sq, this.g, n);
      buf.normParts[k] = be.readScalarSync(this.sq);
      buf.reduced.set(be.view(this.g, n), a);
    }
  }

  update(t: UpdateWork): void {
    const { be, buf, edges } = this;
    for (let k = t.blocks[0]; k < t.blocks[1]; k++) {
      const a = edges[k], b = edges[k + 1], n = b - a;
      be.write(this.g, buf.reduced.subarray(a, b));
      if (t.scale !== 1) be.scale(this.g, n, t.scale);
      be.write(this.p, buf.params.subarray(a, b));
      be.write(this.m, buf.m.subarray(a, b));
      be.write(this.v, buf.v.subarray(a, b));
      for (const e of this.layout) {
        const lo = Math.max(a, e.offset), hi = Math.min(b, e.offset + e.size);
        const r = hi > lo ? tensorRate(e, this.frozen, t.lr, t.t, t.enc) : null;
        if (!r) continue;
        const o = lo - a;
        be.adamw(this.p + o, this.g + o, this.m + o, this.v + o, hi - lo, r.lr, t.beta1, t.beta2, t.eps, e.decay ? t.weightDecay : 0, r.t);
      }
      buf.params.set(be.view(this.p, n), a);
      buf.m.set(be.view(this.m, n), a);
      buf.v.set(be.view(this.v, n), a);
    }
  }
}
