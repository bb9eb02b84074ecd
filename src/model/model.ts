/**
 * The multimodal model (docs/design.md, "The model"): a ViT over the image, an FT-Transformer over the
 * tabular features, modality tokens, and a fusion transformer whose CLS output feeds a 14-way head, trained
 * with masked binary cross-entropy.
 *
 * Missing data costs no compute. Per batch, the samples are sorted into four availability groups (both,
 * image only, table only, neither; plan.ts). The vision encoder runs only over the samples with an image,
 * the tabular encoder only over samples with any feature present. The fusion sequence of a group holds only
 * the modalities the group has: `[cls] ++ vision tokens ++ tabular tokens`, so its length T_g is
 * 1 + Nv + Ft, 1 + Nv, 1 + Ft or 1. Row-wise layers run once over all groups' rows, attention once per
 * group (passes.ts). Missing features inside a present table are masked keys; their token inputs are
 * zero-filled (maskRows) so NaN or garbage cannot leak.
 *
 * The units: weights.ts (parameter offsets), activations.ts (activation memory), plan.ts (the batch plan),
 * passes.ts (forward and backward), loss.ts (targets, probabilities). This class holds them together and is
 * the API. Every call enqueues kernels; the synchronous methods (typed `this: Model<SyncBackend>`: the
 * WebAssembly and reference backends) read results at once, their `*Async` forms read them through
 * `backend.read` on any backend (WebGPU included). Both forms share everything but the read.
 * File I/O (loadModel(path), save(path)) lives in the Node-only src/node/model.ts.
 */
import type { Backend, FloatArray, Ptr, SyncBackend } from '../engine/types.ts';
import { SCALAR_FLOATS } from '../engine/types.ts';
import type { Batch } from '../engine/batch.ts';
import { LABEL_NAMES, NUM_LABELS } from '../engine/batch.ts';
import { createBackend } from '../engine/index.ts';
import type { BackendKind } from '../engine/index.ts';
import type { Dims, ModelConfig } from './config.ts';
import { dims, forwardFlopsPerSample, resolveConfig } from './config.ts';
import type { LayoutEntry } from './layout.ts';
import { buildLayout, initParams, layoutSize } from './layout.ts';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
import { weightsAt } from './weights.ts';
import type { Acts } from './activations.ts';
import { allocActs } from './activations.ts';
import type { Plan } from './plan.ts';
import { planBatch } from './plan.ts';
import type { Net } from './passes.ts';
import { backwardPass, forwardPass } from './passes.ts';
import { labelTargets, observedLabels } from './loss.ts';

export interface ModelOptions<B extends Backend = Backend> {
  /** A backend instance (the model allocates in its arena) or a kind for `createBackend`. Default 'auto'. */
  backend?: B | BackendKind;
  /** Initialization seed (default 0): the same seed gives the same bits. */
  seed?: number;
  /** Stored in checkpoints (`__metadata__`, JSON-encoded): feature schema, normalization statistics, ... */
  metadata?: Record<string, unknown>;
}

export interface LossOptions {
  /**
   * Divide the summed BCE by this instead of the batch's observed-label count, so that gradients of chunks
   * of a batch, each given the whole batch's count, sum to the whole batch's gradient.
   */
  normalizer?: number;
}

/** What `lossAndGrad` and `lossAndGradAsync` both return. */
export interface LossAndGrad {
  /** Sum of BCE over observed label entries / their count (or the normalizer); 0 if none. */
  loss: number;
  /**
   * Gradients by parameter name: live views of the gradient buffer, valid until the next call
   * (`lossAndGrad`), or views of a copy read back (`lossAndGradAsync`).
   */
  grads: Record<string, FloatArray>;
}

/** Largest number of samples `forward` runs at once (larger batches run in chunks: same logits, bounded memory). */
const FORWARD_CHUNK = 64;

/** The model over a backend `B`; the default, a SyncBackend, is what `createModel` with a kind gives. */
export class Model<B extends Backend = SyncBackend> {
  readonly config: ModelConfig;
  /** Ordered parameter layout (names, shapes, offsets); gradients and optimizer moments share it. */
  readonly layout: readonly LayoutEntry[];
  readonly numParams: number;
  readonly backend: B;
  /** Arena offsets of the flat parameter and gradient buffers. */
  readonly paramPtr: Ptr;
  readonly gradPtr: Ptr;
  /** Caller metadata stored in checkpoints. */
  metadata: Record<string, unknown>;
  private readonly k: Dims;
  private readonly net: Net;
  /** The scalar slot bceLogitsTo writes the loss sum into. */
  private readonly lossPtr: Ptr;
  private trainActs: Acts | null = null;
  private inferActs: Acts | null = null;

  constructor(config: Partial<ModelConfig>, opts: ModelOptions<B> = {}, initial?: ArrayLike<number>) {
    this.config = resolveConfig(config);
    this.k = dims(this.config);
    const b = opts.backend ?? 'auto';
    this.backend = (typeof b === 'string' ? createBackend(b) : b) as B;
    this.metadata = { ...(opts.metadata ?? {}) };
    this.layout = Object.freeze(buildLayout(this.config).map((e) => Object.freeze(e)));
    this.numParams = layoutSize(this.layout);
    const byName = new Map(this.layout.map((e) => [e.name, e]));
    this.backend.reserve(2 * this.numParams + 8);
    this.paramPtr = this.backend.alloc(this.numParams);
    this.gradPtr = this.backend.alloc(this.numParams);
    this.lossPtr = this.backend.alloc(SCALAR_FLOATS);
    this.net = {
      be: this.backend, k: this.k, c: this.config,
      W: weightsAt(this.paramPtr, byName, this.config), G: weightsAt(this.gradPtr, byName, this.config),
    };
    this.setParams(initial ?? initParams(this.layout, opts.seed ?? 0));
    this.backend.fill(this.gradPtr, this.numParams, 0);
  }

  // ---- parameters ------------------------------------------------------------------------------------

  /** Live view of the flat parameters [numParams] (re-take after a call that may grow the arena). */
  paramData(this: Model<SyncBackend>): FloatArray { return this.backend.view(this.paramPtr, this.numParams); }
  /** Live view of the flat gradients [numParams]. */
  gradData(this: Model<SyncBackend>): FloatArray { return this.backend.view(this.gradPtr, this.numParams); }
  /** A copy of the flat parameters, on any backend. */
  paramDataAsync(): Promise<FloatArray> { return this.backend.read(this.paramPtr, this.numParams); }
  /** A copy of the flat gradients, on any backend. */
  gradDataAsync(): Promise<FloatArray> { return this.backend.read(this.gradPtr, this.numParams); }
  /** Parameters by name: live views (writing into them changes the model). */
  parameters(this: Model<SyncBackend>): Record<string, FloatArray> { return this.tensors(this.paramData()); }
  /** Gradients by name: live views of the gradient buffer. */
  gradients(this: Model<SyncBackend>): Record<string, FloatArray> { return this.tensors(this.gradData()); }
  /** Views by parameter name of a flat array in layout order (paramDataAsync's, a checkpoint's, ...). */
  tensors(flat: FloatArray): Record<string, FloatArray> {
    if (flat.length !== this.numParams) throw new Error(`tensors: expected ${this.numParams} values, got ${flat.length}`);
    const out: Record<string, FloatArray> = Object.create(null);
    for (const e of this.layout) out[e.name] = flat.subarray(e.offset, e.offset + e.size);
    return out;
  }
  /** Overwrite every parameter from a flat array in layout order. */
  setParams(flat: ArrayLike<number>): void {
    if (flat.length !== this.numParams) throw new Error(`setParams: expected ${this.numParams} values, got ${flat.length}`);
    this.backend.write(this.paramPtr, flat);
  }

  /** Forward FLOPs of one complete sample; with `training`, forward + backward (3x). For MFU. */
  flopsPerSample(opts: { training?: boolean } = {}): number {
    return forwardFlopsPerSample(this.config) * (opts.training ? 3 : 1);
  }

  /** The number of label entries the loss averages over, under the config's uncertain policy. */
  observedCount(batch: Batch): number {
    return observedLabels(batch.labels, batch.B, this.config.uncertain);
  }

  // ---- the API: each synchronous call and its async form share all but the read ------------------------

  /** Logits [B,14] (a copy). Large batches run in chunks of 64 samples: the logits are the same. */
  forward(this: Model<SyncBackend>, batch: Batch): Float32Array {
    const out = new Float32Array(batch.B * NUM_LABELS);
    for (const part of this.chunks(batch)) out.set(this.backend.view(this.logitsOf(part.batch), part.batch.B * NUM_LABELS), part.at);
    return out;
  }
  /** As `forward`, on any backend. */
  async forwardAsync(batch: Batch): Promise<Float32Array> {
    const out = new Float32Array(batch.B * NUM_LABELS);
    for (const part of this.chunks(batch)) out.set(await this.backend.read(this.logitsOf(part.batch), part.batch.B * NUM_LABELS), part.at);
    return out;
  }

  /**
   * The vision encoder's output tokens [B, Nv, d] (after its final LayerNorm) for B images [B,S,S], normalized
   * as Batch.image: what the fusion receives from the image side. For checking imported or pretrained encoders.
   */
  visionFeatures(this: Model<SyncBackend>, image: Float32Array, B: number): FloatArray {
    const k = this.k;
    if (image.length !== B * k.S * k.S) throw new Error(`visionFeatures: ${image.length} pixels for ${B} images of ${k.S}x${k.S}`);
    // Image only: every sample in one availability group, so the encoder's rows are in batch order.
    const batch: Batch = {
      B, S: k.S, image, hasImage: new Uint8Array(B).fill(1), num: new Float32Array(B * k.Fn), numPresent: new Uint8Array(B * k.Fn),
      cat: new Int32Array(B * k.Fc), catPresent: new Uint8Array(B * k.Fc), labels: new Float32Array(B * NUM_LABELS).fill(NaN),
    };
    this.checkBatch(batch);
    const { acts } = this.run(batch, false);
    return this.backend.view(acts.vision.out, B * k.Nv * k.d).slice(); // a copy, in the arena's precision
  }

  /** The masked BCE of a batch without a backward pass (finite-difference checks, evaluation). */
  loss(this: Model<SyncBackend>, batch: Batch, opts: LossOptions = {}): number {
    const { observed, norm } = this.enqueueLoss(batch, opts, false);
    return observed > 0 ? this.backend.readScalarSync(this.lossPtr) / norm : 0;
  }

  /** Loss and gradients by name. Zeroes the gradients first; samples without labels add nothing. */
  lossAndGrad(this: Model<SyncBackend>, batch: Batch, opts: LossOptions = {}): LossAndGrad {
    const { observed, norm } = this.enqueueLoss(batch, opts, true);
    return { loss: observed > 0 ? this.backend.readScalarSync(this.lossPtr) / norm : 0, grads: this.gradients() };
  }
  /** As `lossAndGrad`, on any backend: the loss and a copy of the gradients read back once. */
  async lossAndGradAsync(batch: Batch, opts: LossOptions = {}): Promise<LossAndGrad> {
    const { observed, norm } = this.enqueueLoss(batch, opts, true);
    const loss = observed > 0 ? (await this.backend.readScalar(this.lossPtr)) / norm : 0;
    return { loss, grads: this.tensors(await this.gradDataAsync()) };
  }

  /**
   * Save a checkpoint to a file (Node: atomically, a temporary file then rename). Synchronous backends; on
   * WebGPU `saveModel(model, path)`. The file writer is installed by the Node entry (src/node/model.ts, which
   * the package's root entry loads); without it (the edge bundle) this names `toSafetensors()` instead.
   */
  save(this: Model<SyncBackend>, path: string): void {
    if (!fileWriter) throw new Error('model.save(path) writes a file: import the Node entry (resilient-fusion), or take the bytes with toSafetensors()');
    fileWriter(path, this.toSafetensors());
  }

  /** The checkpoint bytes (safetensors) of the current parameters, config and metadata. */
  toSafetensors(this: Model<SyncBackend>): Uint8Array {
    return encodeCheckpoint(this.config, this.layout, this.paramData(), this.metadata);
  }
  /** As `toSafetensors`, on any backend. */
  async toSafetensorsAsync(): Promise<Uint8Array> {
    return encodeCheckpoint(this.config, this.layout, await this.paramDataAsync(), this.metadata);
  }

  // ---- internals -------------------------------------------------------------------------------------

  /** The batch in parts of at most FORWARD_CHUNK samples, each with its first logit's index. */
  private *chunks(batch: Batch): Generator<{ batch: Batch; at: number }> {
    this.checkBatch(batch);
    for (let a = 0; a < batch.B; a += FORWARD_CHUNK) {
      const part = batch.B <= FORWARD_CHUNK ? batch : sliceBatch(batch, a, Math.min(batch.B, a + FORWARD_CHUNK), this.k.Fn, this.k.Fc);
      yield { batch: part, at: a * NUM_LABELS };
    }
  }

  /** Enqueue the inference forward pass of a (checked) batch; returns where its logits [B,14] will be. */
  private logitsOf(batch: Batch): Ptr {
    return this.run(batch, false).acts.logits;
  }

  /**
   * Enqueue forward, the loss into the scalar slot and, when `training`, the zeroing of the gradients and the
   * backward pass. Nothing is enqueued past the forward when no label is observed (the loss is then 0).
   */
  private enqueueLoss(batch: Batch, opts: LossOptions, training: boolean): { observed: number; norm: number } {
    this.checkBatch(batch);
    const be = this.backend;
    const { acts, plan } = this.run(batch, training);
    if (training) be.fill(this.gradPtr, this.numParams, 0);
    const n = batch.B * NUM_LABELS;
    const t = acts.host.targets, w = acts.host.weights;
    const observed = labelTargets(t, w, batch.labels, n, this.config.uncertain);
    be.write(acts.targets, t.subarray(0, n));
    be.write(acts.weights, w.subarray(0, n));
    const norm = opts.normalizer ?? observed;
    if (observed > 0 && !(norm > 0)) throw new Error(`lossAndGrad: normalizer must be positive, got ${norm}`);
    if (observed > 0) {
      be.bceLogitsTo(this.lossPtr, acts.dlogits, acts.logits, acts.targets, acts.weights, n, training ? 1 / norm : 0);
      if (training) backwardPass(this.net, acts, plan);
    }
    return { observed, norm };
  }

  /** The forward pass over one batch; returns the activations (logits at acts.logits) and the plan. */
  private run(batch: Batch, training: boolean): { acts: Acts; plan: Plan } {
    const acts = this.ensureActs(batch.B, training);
    const plan = planBatch(this.backend, this.k, this.config, batch, acts);
    forwardPass(this.net, acts, plan, training);
    return { acts, plan };
  }

  private checkBatch(b: Batch): void {
    const k = this.k, B = b.B;
    if (!Number.isInteger(B) || B < 0) throw new Error(`batch: B must be a non-negative integer, got ${B}`);
    if (b.S !== k.S) throw new Error(`batch: image size ${b.S} does not match the model's ${k.S}`);
    const need = (name: string, arr: ArrayLike<number> | undefined, n: number) => {
      if (!arr || arr.length < n) throw new Error(`batch: ${name} has ${arr?.length ?? 0} values, expected ${n}`);
    };
    need('image', b.image, B * k.S * k.S);
    need('hasImage', b.hasImage, B);
    need('num', b.num, B * k.Fn);
    need('numPresent', b.numPresent, B * k.Fn);
    need('cat', b.cat, B * k.Fc);
    need('catPresent', b.catPresent, B * k.Fc);
    need('labels', b.labels, B * NUM_LABELS);
  }

  /**
   * The activation region for `B` samples: one for training (every block's activations saved) and one for
   * inference (one block's worth, reused), each grown when a bigger batch comes and reused otherwise.
   * Inference uses the training region when that one is big enough.
   */
  private ensureActs(B: number, training: boolean): Acts {
    const t = this.trainActs;
    if (training || (t && t.cap >= B)) {
      if (t && t.cap >= B) return t;
      return (this.trainActs = this.grow(t, B, true));
    }
    const a = this.inferActs;
    if (a && a.cap >= B) return a;
    return (this.inferActs = this.grow(a, B, false));
  }
  private grow(old: Acts | null, B: number, training: boolean): Acts {
    const be = this.backend;
    // Reuse the old region's room when nothing was allocated after it; otherwise it is abandoned.
    if (old && be.mark() === old.end) be.release(old.start);
    return allocActs(be, this.k, this.config, Math.max(B, old?.cap ?? 0, 1), training);
  }
}

// ---- entry points ------------------------------------------------------------------------------------------

/** The file writer of `Model.save`, installed by the Node entry; the edge bundle has none. */
let fileWriter: ((path: string, bytes: Uint8Array) => void) | undefined;

/** Install the file writer `Model.save(path)` uses (src/node/model.ts installs the atomic one when imported). */
export function installModelFileWriter(write: (path: string, bytes: Uint8Array) => void): void {
  fileWriter = write;
}

/** A new model: `config` overrides the defaults (the `small` preset); unknown keys are errors. */
export function createModel(config?: Partial<ModelConfig>, opts?: ModelOptions<SyncBackend>): Model<SyncBackend>;
export function createModel<B extends Backend>(config: Partial<ModelConfig>, opts: ModelOptions<B> & { backend: B }): Model<B>;
export function createModel<B extends Backend>(config: Partial<ModelConfig> = {}, opts: ModelOptions<B> = {}): Model<B> {
  return new Model<B>(config, opts);
}

/**
 * A model from checkpoint bytes (safetensors; no file system: src/node/model.ts loads paths). The config
 * comes from the file; `opts.metadata` entries are merged over the file's metadata. Throws a clear message on
 * a malformed or mismatching file (`name` prefixes it: the file's path).
 */
export function modelFromBytes(bytes: Uint8Array, opts?: Omit<ModelOptions<SyncBackend>, 'seed'>, name?: string): Model<SyncBackend>;
export function modelFromBytes<B extends Backend>(bytes: Uint8Array, opts: Omit<ModelOptions<B>, 'seed'> & { backend: B }, name?: string): Model<B>;
export function modelFromBytes<B extends Backend>(bytes: Uint8Array, opts: Omit<ModelOptions<B>, 'seed'> = {}, name?: string): Model<B> {
  let ck;
  try {
    ck = decodeCheckpoint(bytes);
  } catch (e) {
    if (name && e instanceof Error) e.message = `${name}: ${e.message}`;
    throw e;
  }
  return new Model<B>(ck.config, { ...opts, metadata: { ...ck.metadata, ...(opts.metadata ?? {}) } }, ck.params);
}

/** Samples [a, b) of a batch with Fn numeric and Fc categorical features, as views (no copy). */
export function sliceBatch(x: Batch, a: number, b: number, Fn: number, Fc: number): Batch {
  const SS = x.S * x.S;
  return {
    B: b - a, S: x.S,
    image: x.image.subarray(a * SS, b * SS), hasImage: x.hasImage.subarray(a, b),
    num: x.num.subarray(a * Fn, b * Fn), numPresent: x.numPresent.subarray(a * Fn, b * Fn),
    cat: x.cat.subarray(a * Fc, b * Fc), catPresent: x.catPresent.subarray(a * Fc, b * Fc),
    labels: x.labels.subarray(a * NUM_LABELS, b * NUM_LABELS),
  };
}

export { LABEL_NAMES, labelTargets, observedLabels };
