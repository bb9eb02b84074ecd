/**
 * The multimodal model (shared/DESIGN.md, "The model"): a ViT over the image, an FT-Transformer over the
 * tabular features, modality tokens, and a fusion transformer whose CLS output feeds a 14-way head, trained
 * with masked binary cross-entropy.
 *
 * Missing data costs no compute. Per batch, the samples are sorted into four availability groups (both,
 * image only, table only, neither). The vision encoder runs only over the samples with an image (gathered
 * into a compact batch), the tabular encoder only over samples with any feature present. The fusion
 * sequence of a group holds only the modalities the group has: `[cls] ++ vision tokens ++ tabular tokens`,
 * so its length T_g is 1 + Nv + Ft, 1 + Nv, 1 + Ft or 1. Row-wise layers (LayerNorm, Linear, GELU) run once
 * over all groups' rows, attention once per group. Missing features inside a present table are masked
 * keys; their token inputs are zero-filled (maskRows) so NaN or garbage cannot leak.
 */
import type { Backend, FloatArray, Ptr } from '../engine/types.ts';
import type { Batch } from '../engine/batch.ts';
import { LABEL_NAMES, NUM_LABELS, hasTabular } from '../engine/batch.ts';
import { createBackend } from '../engine/index.ts';
import type { BackendKind } from '../engine/index.ts';
import type { Dims, ModelConfig, UncertainPolicy } from './config.ts';
import { dims, forwardFlopsPerSample, resolveConfig } from './config.ts';
import type { LayoutEntry } from './layout.ts';
import { buildLayout, initParams, layoutSize } from './layout.ts';
import { readFileSync } from 'node:fs';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
import { writeFileAtomic } from '../node/files.ts';
import type { BlockActs, BlockScratch, BlockWeights, Segment } from './layers.ts';
import {
  blockBackward, blockForward, featureTokensBackward, featureTokensForward, lastBlockBackward, lastBlockForward,
  linearBackward, linearForward, patchEmbedBackward, patchEmbedForward,
} from './layers.ts';

export interface ModelOptions {
  /** A backend instance (the model allocates in its arena) or a kind for `createBackend`. Default 'auto'. */
  backend?: Backend | BackendKind;
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

export interface LossAndGrad {
  /** Sum of BCE over observed label entries / their count (or the normalizer); 0 if none. */
  loss: number;
  /** Gradients by parameter name: live views of the gradient buffer, valid until the next call. */
  grads: Record<string, FloatArray>;
}

/** Largest number of samples `forward` runs at once (larger batches run in chunks: same logits, bounded memory). */
const FORWARD_CHUNK = 64;

// ---- parameter offsets ---------------------------------------------------------------------------------

interface Weights {
  patchW: Ptr; patchB: Ptr; pos: Ptr; vBlocks: BlockWeights[]; vNormW: Ptr; vNormB: Ptr;
  numW: Ptr; numB: Ptr; embed: Ptr; catB: Ptr; tBlocks: BlockWeights[]; tNormW: Ptr; tNormB: Ptr;
  vScale: Ptr; vShift: Ptr; tScale: Ptr; tShift: Ptr; cls: Ptr; fBlocks: BlockWeights[]; fNormW: Ptr; fNormB: Ptr;
  headW: Ptr; headB: Ptr;
}

function weightsAt(base: Ptr, byName: Map<string, LayoutEntry>, c: ModelConfig): Weights {
  const at = (n: string) => {
    const e = byName.get(n);
    if (!e) throw new Error(`layout has no tensor '${n}'`);
    return base + e.offset;
  };
  const blocks = (prefix: string, depth: number): BlockWeights[] => Array.from({ length: depth }, (_, i) => {
    const p = `${prefix}.blocks.${i}.`;
    return {
      ln1w: at(p + 'ln1.weight'), ln1b: at(p + 'ln1.bias'), qkvw: at(p + 'attn.qkv.weight'), qkvb: at(p + 'attn.qkv.bias'),
      projw: at(p + 'attn.proj.weight'), projb: at(p + 'attn.proj.bias'), ln2w: at(p + 'ln2.weight'), ln2b: at(p + 'ln2.bias'),
      fc1w: at(p + 'mlp.fc1.weight'), fc1b: at(p + 'mlp.fc1.bias'), fc2w: at(p + 'mlp.fc2.weight'), fc2b: at(p + 'mlp.fc2.bias'),
    };
  });
  return {
    patchW: at('vision.patch.weight'), patchB: at('vision.patch.bias'), pos: at('vision.pos'),
    vBlocks: blocks('vision', c.visionDepth), vNormW: at('vision.norm.weight'), vNormB: at('vision.norm.bias'),
    numW: at('tabular.num.weight'), numB: at('tabular.num.bias'), embed: at('tabular.cat.embed'), catB: at('tabular.cat.bias'),
    tBlocks: blocks('tabular', c.tabularDepth), tNormW: at('tabular.norm.weight'), tNormB: at('tabular.norm.bias'),
    vScale: at('fusion.modality.vision.scale'), vShift: at('fusion.modality.vision.shift'),
    tScale: at('fusion.modality.tabular.scale'), tShift: at('fusion.modality.tabular.shift'), cls: at('fusion.cls'),
    fBlocks: blocks('fusion', c.fusionDepth), fNormW: at('fusion.norm.weight'), fNormB: at('fusion.norm.bias'),
    headW: at('head.weight'), headB: at('head.bias'),
  };
}

// ---- activations ---------------------------------------------------------------------------------------

/** One encoder's activations: embedding output, per-block saved tensors, final LayerNorm. */
interface EncoderActs {
  /** [rows,d] embedding output (fusion: the assembled sequence). */
  x0: Ptr;
  /** One set per block when training; one shared set (x2 reused as the running state) in inference. */
  blocks: BlockActs[];
  /** [rows,d] final LayerNorm output and [rows] its statistics (fusion: CLS rows only, [cap,d]). */
  out: Ptr; mean: Ptr; rstd: Ptr;
  /** [rows] key mask. */
  mask: Ptr;
  /** [rows] 1 where the token holds data: rows with 0 are zero-filled (equals `mask` unless masking is off). */
  present: Ptr;
  /** Training only: [rows,d] residual-stream gradient and [rows,d] gradient of `out`. */
  dres: Ptr; dout: Ptr;
}

interface Acts {
  /** Samples this region holds. */
  cap: number;
  training: boolean;
  /** Arena range [start, end) of the region. */
  start: number; end: number;
  img: Ptr; patches: Ptr; numX: Ptr;
  vision: EncoderActs; tabular: EncoderActs; fusion: EncoderActs;
  /** [cap,d] gathered CLS rows before the final norm (fusion depth 0), and gradients. */
  clsIn: Ptr; dclsIn: Ptr; dclsOut: Ptr;
  /** [cap,d] the last fusion block's CLS-row input and attention output (see lastBlockForward). */
  clsX: Ptr; clsAtty: Ptr;
  /** [cap,14] */
  logits: Ptr; targets: Ptr; weights: Ptr; dlogits: Ptr;
  scratch: BlockScratch;
  // Host-side plan of the current batch (no per-call allocation).
  /** Batch index of each sample in fusion order (groups both, image, table, neither). */
  order: Int32Array;
  /** Per fusion-order sample: first fusion row, index in the vision batch, index in the tabular batch (-1 none). */
  rowOf: Int32Array; visOf: Int32Array; tabOf: Int32Array;
  /** Per batch sample: its CLS row in the fusion sequence. */
  clsRow: Int32Array;
  /** [cap*Fc] categorical codes and presence of the tabular batch. */
  codes: Int32Array; catPresent: Uint8Array;
  /**
   * Host copies of the per-batch inputs the plan builds (sent with `be.write`, never through a view, so a
   * backend without synchronous views, WebGPU, works too), in the arena's precision: fusion mask/present
   * [cap*Tf], tabular mask/present [cap*Ft], numX [cap*Fn], targets/weights [cap*14].
   */
  host: { fmask: FloatArray; fpresent: FloatArray; tmask: FloatArray; tpresent: FloatArray; numX: FloatArray; targets: FloatArray; weights: FloatArray };
}

/** Per-call sizes. */
interface Plan {
  B: number; Bv: number; Bt: number; rows: number;
  groups: { count: number; T: number; vis: boolean; tab: boolean }[];
  segs: Segment[];
  /** [B,d] input of the final norm: the CLS outputs in batch order (set by the forward pass). */
  clsIn: Ptr;
}

// ---- the model -----------------------------------------------------------------------------------------

export class Model {
  readonly config: ModelConfig;
  /** Ordered parameter layout (names, shapes, offsets); gradients and optimizer moments share it. */
  readonly layout: readonly LayoutEntry[];
  readonly numParams: number;
  readonly backend: Backend;
  /** Arena offsets of the flat parameter and gradient buffers. */
  readonly paramPtr: Ptr;
  readonly gradPtr: Ptr;
  /** Caller metadata stored in checkpoints. */
  metadata: Record<string, unknown>;
  private readonly k: Dims;
  private readonly byName: Map<string, LayoutEntry>;
  private readonly W: Weights;
  private readonly G: Weights;
  private readonly catOffsets: Int32Array;
  private trainActs: Acts | null = null;
  private inferActs: Acts | null = null;
  /**
   * The backend's memory is read only asynchronously (it has `readAsync`: WebGPU). Then the synchronous
   * API that reads results (forward, loss, lossAndGrad, parameters, ...) throws and names its async form.
   */
  readonly asyncOnly: boolean;
  /** asyncOnly: 4 arena floats for the loss of `lossAndGradAsync` (bceLogitsTo writes it on the device). */
  private readonly lossPtr: Ptr;

  constructor(config: Partial<ModelConfig>, opts: ModelOptions = {}, initial?: ArrayLike<number>) {
    this.config = resolveConfig(config);
    this.k = dims(this.config);
    const b = opts.backend ?? 'auto';
    this.backend = typeof b === 'string' ? createBackend(b) : b;
    this.metadata = { ...(opts.metadata ?? {}) };
    this.layout = Object.freeze(buildLayout(this.config).map((e) => Object.freeze(e)));
    this.numParams = layoutSize(this.layout);
    this.byName = new Map(this.layout.map((e) => [e.name, e]));
    this.backend.reserve(2 * this.numParams + 8);
    this.paramPtr = this.backend.alloc(this.numParams);
    this.gradPtr = this.backend.alloc(this.numParams);
    this.asyncOnly = typeof this.backend.readAsync === 'function';
    // Only on such backends, so the arena layout of the WebAssembly and reference backends is unchanged.
    this.lossPtr = this.asyncOnly ? this.backend.alloc(4) : 0;
    this.W = weightsAt(this.paramPtr, this.byName, this.config);
    this.G = weightsAt(this.gradPtr, this.byName, this.config);
    this.catOffsets = new Int32Array(this.k.Fc);
    for (let j = 1; j < this.k.Fc; j++) this.catOffsets[j] = this.catOffsets[j - 1] + this.config.catCardinalities[j - 1];
    this.setParams(initial ?? initParams(this.layout, opts.seed ?? 0));
    this.backend.fill(this.gradPtr, this.numParams, 0);
  }

  // ---- parameters ------------------------------------------------------------------------------------

  /** Live view of the flat parameters [numParams] (re-take after a call that may grow the arena). */
  paramData(): FloatArray { this.needSync('paramData', 'paramDataAsync'); return this.backend.view(this.paramPtr, this.numParams); }
  /** Live view of the flat gradients [numParams]. */
  gradData(): FloatArray { this.needSync('gradData', 'gradDataAsync'); return this.backend.view(this.gradPtr, this.numParams); }
  /** The flat parameters on any backend: the live view where the backend has one, else a copy read back. */
  async paramDataAsync(): Promise<FloatArray> { return this.readFlat(this.paramPtr); }
  /** The flat gradients on any backend (as paramDataAsync). */
  async gradDataAsync(): Promise<FloatArray> { return this.readFlat(this.gradPtr); }
  /** Parameters by name on any backend (views of paramDataAsync's array). */
  async paramsAsync(): Promise<Record<string, FloatArray>> { return this.byTensor(await this.readFlat(this.paramPtr)); }
  /** Gradients by name on any backend (views of gradDataAsync's array). */
  async gradientsAsync(): Promise<Record<string, FloatArray>> { return this.byTensor(await this.readFlat(this.gradPtr)); }
  private async readFlat(p: Ptr): Promise<FloatArray> {
    const be = this.backend;
    return be.readAsync ? be.readAsync(p, this.numParams) : be.view(p, this.numParams);
  }
  private needSync(what: string, alt: string): void {
    if (this.asyncOnly) {
      throw new Error(`model.${what}(): the ${this.backend.name} backend cannot read its memory synchronously; use \`await model.${alt}(...)\``);
    }
  }
  /** Overwrite every parameter from a flat array in layout order. */
  setParams(flat: ArrayLike<number>): void {
    if (flat.length !== this.numParams) throw new Error(`setParams: expected ${this.numParams} values, got ${flat.length}`);
    this.backend.write(this.paramPtr, flat);
  }
  /** Parameters by name: live views (writing into them changes the model). */
  parameters(): Record<string, FloatArray> { return this.views(this.paramPtr); }
  /** Gradients by name: live views of the gradient buffer. */
  gradients(): Record<string, FloatArray> { return this.views(this.gradPtr); }
  private views(base: Ptr): Record<string, FloatArray> {
    this.needSync(base === this.paramPtr ? 'parameters' : 'gradients', base === this.paramPtr ? 'paramsAsync' : 'gradientsAsync');
    return this.byTensor(this.backend.view(base, this.numParams));
  }
  private byTensor(all: FloatArray): Record<string, FloatArray> {
    const out: Record<string, FloatArray> = Object.create(null);
    for (const e of this.layout) out[e.name] = all.subarray(e.offset, e.offset + e.size);
    return out;
  }

  /** Forward FLOPs of one complete sample; with `training`, forward + backward (3x). For MFU. */
  flopsPerSample(opts: { training?: boolean } = {}): number {
    return forwardFlopsPerSample(this.config) * (opts.training ? 3 : 1);
  }

  /** The number of label entries the loss averages over, under the config's uncertain policy. */
  observedCount(batch: Batch): number {
    return observedLabels(batch.labels, batch.B, this.config.uncertain);
  }

  // ---- the API ---------------------------------------------------------------------------------------

  /** Logits [B,14] (a copy). Large batches run in chunks of 64 samples: the logits are the same. */
  forward(batch: Batch): Float32Array {
    this.needSync('forward', 'forwardAsync');
    this.checkBatch(batch);
    const out = new Float32Array(batch.B * NUM_LABELS);
    for (let a = 0; a < batch.B; a += FORWARD_CHUNK) {
      const part = batch.B <= FORWARD_CHUNK ? batch : sliceBatch(batch, a, Math.min(batch.B, a + FORWARD_CHUNK), this.k.Fn, this.k.Fc);
      const { acts } = this.run(part, false);
      out.set(this.backend.view(acts.logits, part.B * NUM_LABELS), a * NUM_LABELS);
    }
    return out;
  }

  /** The masked BCE of a batch without a backward pass (finite-difference checks, evaluation). */
  loss(batch: Batch, opts: LossOptions = {}): number {
    this.needSync('loss', 'lossAndGradAsync');
    this.checkBatch(batch);
    const { acts } = this.run(batch, false);
    const { norm } = this.targets(acts, batch, opts);
    if (norm === 0) return 0;
    return this.backend.bceLogits(acts.dlogits, acts.logits, acts.targets, acts.weights, batch.B * NUM_LABELS, 0) / norm;
  }

  /** Loss and gradients by name. Zeroes the gradients first; samples without labels add nothing. */
  lossAndGrad(batch: Batch, opts: LossOptions = {}): LossAndGrad {
    this.needSync('lossAndGrad', 'lossAndGradAsync');
    this.checkBatch(batch);
    const be = this.backend;
    const { acts, plan } = this.run(batch, true);
    be.fill(this.gradPtr, this.numParams, 0);
    const { observed, norm } = this.targets(acts, batch, opts);
    let loss = 0;
    if (observed > 0) {
      loss = be.bceLogits(acts.dlogits, acts.logits, acts.targets, acts.weights, batch.B * NUM_LABELS, 1 / norm) / norm;
      this.backward(acts, plan);
    }
    return { loss, grads: this.gradients() };
  }

  // ---- the API on every backend (WebGPU included) -----------------------------------------------------
  // On a backend with synchronous memory these give exactly what the synchronous calls give. On WebGPU the
  // whole step is enqueued on the device and read back once at its end.

  /** As `forward`: logits [B,14]. */
  async forwardAsync(batch: Batch): Promise<Float32Array> {
    const be = this.backend;
    if (!be.readAsync) return this.forward(batch);
    this.checkBatch(batch);
    const out = new Float32Array(batch.B * NUM_LABELS);
    for (let a = 0; a < batch.B; a += FORWARD_CHUNK) {
      const part = batch.B <= FORWARD_CHUNK ? batch : sliceBatch(batch, a, Math.min(batch.B, a + FORWARD_CHUNK), this.k.Fn, this.k.Fc);
      const { acts } = this.run(part, false);
      out.set(await be.readAsync(acts.logits, part.B * NUM_LABELS), a * NUM_LABELS);
    }
    return out;
  }

  /**
   * As `lossAndGrad`, but only the loss comes back: the gradients stay in the arena (at `gradPtr`, for the
   * optimizer kernels), `gradientsAsync()` reads them.
   */
  async lossAndGradAsync(batch: Batch, opts: LossOptions = {}): Promise<{ loss: number }> {
    const be = this.backend;
    if (!be.readAsync) return { loss: this.lossAndGrad(batch, opts).loss };
    if (!be.bceLogitsTo) throw new Error(`model.lossAndGradAsync(): the ${be.name} backend has readAsync but no bceLogitsTo`);
    this.checkBatch(batch);
    const { acts, plan } = this.run(batch, true);
    be.fill(this.gradPtr, this.numParams, 0);
    const { observed, norm } = this.targets(acts, batch, opts);
    if (observed === 0) return { loss: 0 };
    be.bceLogitsTo(this.lossPtr, acts.dlogits, acts.logits, acts.targets, acts.weights, batch.B * NUM_LABELS, 1 / norm);
    this.backward(acts, plan);
    const [sum] = await be.readAsync(this.lossPtr, 1);
    return { loss: sum / norm };
  }

  /** The checkpoint bytes (safetensors) of the current parameters, config and metadata. */
  toSafetensors(): Uint8Array {
    this.needSync('toSafetensors', 'toSafetensorsAsync');
    return encodeCheckpoint(this.config, this.layout, this.paramData(), this.metadata);
  }
  /** As `toSafetensors`, on every backend. */
  async toSafetensorsAsync(): Promise<Uint8Array> {
    return encodeCheckpoint(this.config, this.layout, await this.paramDataAsync(), this.metadata);
  }

  /** Save a checkpoint atomically (a temporary file, then rename). */
  save(path: string): void {
    this.needSync('save', 'saveAsync');
    writeFileAtomic(path, this.toSafetensors());
  }
  /** As `save`, on every backend. */
  async saveAsync(path: string): Promise<void> {
    writeFileAtomic(path, await this.toSafetensorsAsync());
  }

  // ---- internals -------------------------------------------------------------------------------------

  private targets(acts: Acts, batch: Batch, opts: LossOptions): { observed: number; norm: number } {
    const n = batch.B * NUM_LABELS;
    const t = acts.host.targets, w = acts.host.weights;
    const observed = labelTargets(t, w, batch.labels, n, this.config.uncertain);
    this.backend.write(acts.targets, t.subarray(0, n));
    this.backend.write(acts.weights, w.subarray(0, n));
    const norm = opts.normalizer ?? observed;
    if (observed > 0 && !(norm > 0)) throw new Error(`lossAndGrad: normalizer must be positive, got ${norm}`);
    return { observed, norm };
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

  /**
   * Sort the batch into availability groups, copy its inputs into the arena, return the sizes. With
   * attention masking off (the ablation) every sample is laid out as [cls, Nv vision, Ft tabular] with
   * every key attended; what a sample lacks is a zero-filled token.
   */
  private plan(batch: Batch, acts: Acts): Plan {
    const be = this.backend, k = this.k, B = batch.B;
    const masking = this.config.attentionMasking;
    const hasTab = (b: number): boolean => hasTabular(batch.numPresent, batch.catPresent, b, k.Fn, k.Fc);
    const groupOf = (b: number): number => {
      if (!masking) return 0;
      const v = batch.hasImage[b] !== 0, t = hasTab(b);
      return v ? (t ? 0 : 1) : t ? 2 : 3;
    };
    const groups = [
      { count: 0, T: 1 + k.Nv + k.Ft, vis: true, tab: true },
      { count: 0, T: 1 + k.Nv, vis: true, tab: false },
      { count: 0, T: 1 + k.Ft, vis: false, tab: true },
      { count: 0, T: 1, vis: false, tab: false },
    ];
    let n = 0;
    for (let g = 0; g < 4; g++) {
      for (let b = 0; b < B; b++) if (groupOf(b) === g) { acts.order[n++] = b; groups[g].count++; }
    }
    const segs: Segment[] = [];
    let row = 0, att = 0, Bv = 0, Bt = 0, s = 0;
    const { fmask, fpresent, tmask, tpresent, numX } = acts.host;
    for (const g of groups) {
      if (g.count === 0) continue;
      segs.push({ row, att, B: g.count, T: g.T });
      for (let i = 0; i < g.count; i++, s++) {
        const b = acts.order[s];
        acts.rowOf[s] = row;
        acts.clsRow[b] = row;
        fmask[row] = fpresent[row] = 1;
        let r = row + 1;
        const vis = g.vis && batch.hasImage[b] !== 0, tab = g.tab && hasTab(b);
        if (vis) {
          acts.visOf[s] = Bv;
          be.write(acts.img + Bv * k.S * k.S, batch.image.subarray(b * k.S * k.S, (b + 1) * k.S * k.S));
          Bv++;
        } else acts.visOf[s] = -1;
        if (g.vis) {
          fmask.fill(1, r, r + k.Nv);
          fpresent.fill(vis ? 1 : 0, r, r + k.Nv);
          r += k.Nv;
        }
        if (tab) {
          acts.tabOf[s] = Bt;
          for (let j = 0; j < k.Fn; j++) {
            const present = batch.numPresent[b * k.Fn + j] !== 0;
            const v = batch.num[b * k.Fn + j];
            if (present && !Number.isFinite(v)) throw new Error(`batch: num[${b}, ${j}] is present but not finite (${v})`);
            numX[Bt * k.Fn + j] = present ? v : 0;
            tpresent[Bt * k.Ft + j] = fpresent[r + j] = present ? 1 : 0;
          }
          for (let j = 0; j < k.Fc; j++) {
            const present = batch.catPresent[b * k.Fc + j] !== 0;
            const code = batch.cat[b * k.Fc + j];
            if (present && !(Number.isInteger(code) && code >= 0 && code < this.config.catCardinalities[j])) {
              throw new Error(`batch: cat[${b}, ${j}] = ${code} is outside the feature's ${this.config.catCardinalities[j]} categories`);
            }
            acts.codes[Bt * k.Fc + j] = present ? code : 0;
            acts.catPresent[Bt * k.Fc + j] = present ? 1 : 0;
            tpresent[Bt * k.Ft + k.Fn + j] = fpresent[r + k.Fn + j] = present ? 1 : 0;
          }
          for (let j = 0; j < k.Ft; j++) tmask[Bt * k.Ft + j] = fmask[r + j] = masking ? tpresent[Bt * k.Ft + j] : 1;
          Bt++;
        } else {
          acts.tabOf[s] = -1;
          if (g.tab) { fmask.fill(1, r, r + k.Ft); fpresent.fill(0, r, r + k.Ft); }
        }
        row += g.T;
      }
      att += g.count * k.H * g.T * g.T;
    }
    // Every entry below these lengths was set above (the same ranges the kernels read).
    be.write(acts.fusion.mask, fmask.subarray(0, row));
    be.write(acts.fusion.present, fpresent.subarray(0, row));
    be.write(acts.tabular.mask, tmask.subarray(0, Bt * k.Ft));
    be.write(acts.tabular.present, tpresent.subarray(0, Bt * k.Ft));
    be.write(acts.numX, numX.subarray(0, Bt * k.Fn));
    return { B, Bv, Bt, rows: row, groups, segs, clsIn: 0 };
  }

  /** The forward pass over one batch; returns the activations (logits at acts.logits). */
  private run(batch: Batch, training: boolean): { acts: Acts; plan: Plan } {
    const be = this.backend, k = this.k, c = this.config, W = this.W, B = batch.B;
    const d = k.d, H = k.H, hid = k.hidden;
    const acts = this.ensureActs(B, training);
    const p = this.plan(batch, acts);
    const blockSet = (e: EncoderActs, l: number) => e.blocks[training ? l : 0];

    // ---- vision encoder over the samples with an image -------------------------------------------------
    const V = acts.vision;
    if (p.Bv > 0) {
      patchEmbedForward(be, V.x0, acts.patches, acts.img, W.patchW, W.patchB, W.pos, p.Bv, k.S, k.P, d);
      this.encoderForward(V, W.vBlocks, W.vNormW, W.vNormB, p.Bv, k.Nv, training);
    }
    // ---- tabular encoder over the samples with any feature --------------------------------------------
    const T = acts.tabular;
    if (p.Bt > 0) {
      featureTokensForward(be, T.x0, acts.numX, acts.codes, W.numW, W.numB, W.embed, W.catB, this.catOffsets, p.Bt, k.Fn, k.Fc, d);
      be.maskRows(T.x0, T.present, p.Bt * k.Ft, d);
      this.encoderForward(T, W.tBlocks, W.tNormW, W.tNormB, p.Bt, k.Ft, training);
    }
    // ---- fusion: [cls] ++ scale_v*z_v + shift_v ++ scale_t*z_t + shift_t, per group ------------------------
    const F = acts.fusion;
    const full = !c.attentionMasking; // the ablation: both modalities' slots in every sequence
    for (let s = 0; s < B; s++) {
      const r = acts.rowOf[s], vi = acts.visOf[s], ti = acts.tabOf[s];
      be.copy(F.x0 + r * d, W.cls, d);
      let at = r + 1;
      if (vi >= 0) be.affineForward(F.x0 + at * d, V.out + vi * k.Nv * d, W.vScale, W.vShift, k.Nv, d);
      if (vi >= 0 || full) at += k.Nv;
      if (ti >= 0) be.affineForward(F.x0 + at * d, T.out + ti * k.Ft * d, W.tScale, W.tShift, k.Ft, d);
    }
    be.maskRows(F.x0, F.present, p.rows, d);
    let fx = F.x0;
    const L = c.fusionDepth;
    for (let l = 0; l < L - 1; l++) {
      const a = blockSet(F, l);
      blockForward(be, a, fx, F.mask, W.fBlocks[l], p.segs, p.rows, d, H, hid);
      fx = a.x2;
    }
    // ---- the CLS outputs in batch order (the last block computes only them) -> final norm -> head ------
    if (L > 0) {
      const a = blockSet(F, L - 1);
      lastBlockForward(be, a, acts.clsX, acts.clsAtty, fx, F.mask, W.fBlocks[L - 1], p.segs, acts.clsRow, B, p.rows, d, H, hid);
      p.clsIn = a.x2;
    } else {
      for (let b = 0; b < B; b++) be.copy(acts.clsIn + b * d, fx + acts.clsRow[b] * d, d);
      p.clsIn = acts.clsIn;
    }
    be.layernormForward(F.out, F.mean, F.rstd, p.clsIn, W.fNormW, W.fNormB, B, d);
    linearForward(be, acts.logits, F.out, W.headW, W.headB, B, d, NUM_LABELS);
    return { acts, plan: p };
  }

  /**
   * A unimodal encoder's blocks and final LayerNorm over `count` samples of `T` tokens, from E.x0 to E.out
   * (key mask E.mask). Training keeps every block's activations; inference reuses one set.
   */
  private encoderForward(E: EncoderActs, blocks: BlockWeights[], normW: Ptr, normB: Ptr, count: number, T: number, training: boolean): void {
    const be = this.backend, k = this.k, rows = count * T, segs = [{ row: 0, att: 0, B: count, T }];
    let x = E.x0;
    for (let l = 0; l < blocks.length; l++) {
      const a = E.blocks[training ? l : 0];
      blockForward(be, a, x, E.mask, blocks[l], segs, rows, k.d, k.H, k.hidden);
      x = a.x2;
    }
    be.layernormForward(E.out, E.mean, E.rstd, x, normW, normB, rows, k.d);
  }

  /** Backward of `encoderForward`, from E.dout into E.dres (zeroed first) and the blocks' gradients. */
  private encoderBackward(E: EncoderActs, blocks: BlockWeights[], grads: BlockWeights[], normW: Ptr, gNormW: Ptr, gNormB: Ptr, count: number, T: number, scratch: BlockScratch): void {
    const be = this.backend, k = this.k, rows = count * T, segs = [{ row: 0, att: 0, B: count, T }];
    const blockIn = (l: number) => (l === 0 ? E.x0 : E.blocks[l - 1].x2);
    be.fill(E.dres, rows * k.d, 0);
    be.layernormBackward(E.dres, gNormW, gNormB, E.dout, blockIn(blocks.length), normW, E.mean, E.rstd, rows, k.d);
    for (let l = blocks.length - 1; l >= 0; l--) {
      blockBackward(be, E.dres, grads[l], scratch, E.blocks[l], blockIn(l), E.mask, blocks[l], segs, rows, k.d, k.H, k.hidden);
    }
  }

  /** Backward of `run`, from acts.dlogits; accumulates into the gradient buffer. */
  private backward(acts: Acts, p: Plan): void {
    const be = this.backend, k = this.k, c = this.config, W = this.W, G = this.G, B = p.B;
    const d = k.d, H = k.H, hid = k.hidden, S = acts.scratch;
    const V = acts.vision, T = acts.tabular, F = acts.fusion;
    const blockIn = (e: EncoderActs, l: number) => (l === 0 ? e.x0 : e.blocks[l - 1].x2);

    // ---- head, final norm, CLS scatter -------------------------------------------------------------------
    linearBackward(be, acts.dclsOut, G.headW, G.headB, acts.dlogits, F.out, W.headW, B, d, NUM_LABELS);
    be.fill(acts.dclsIn, B * d, 0);
    be.layernormBackward(acts.dclsIn, G.fNormW, G.fNormB, acts.dclsOut, p.clsIn, W.fNormW, F.mean, F.rstd, B, d);
    // ---- fusion blocks ------------------------------------------------------------------------------------
    const L = c.fusionDepth;
    if (L > 0) {
      lastBlockBackward(be, F.dres, acts.dclsIn, G.fBlocks[L - 1], S, F.blocks[L - 1], acts.clsAtty, blockIn(F, L - 1), F.mask, W.fBlocks[L - 1], p.segs, acts.clsRow, B, p.rows, d, H, hid);
    } else {
      be.fill(F.dres, p.rows * d, 0);
      for (let b = 0; b < B; b++) be.copy(F.dres + acts.clsRow[b] * d, acts.dclsIn + b * d, d);
    }
    for (let l = L - 2; l >= 0; l--) {
      blockBackward(be, F.dres, G.fBlocks[l], S, F.blocks[l], blockIn(F, l), F.mask, W.fBlocks[l], p.segs, p.rows, d, H, hid);
    }
    be.maskRows(F.dres, F.present, p.rows, d); // rows without data get no gradient (masked ones are already exactly zero)
    // ---- fusion assembly: cls, modality tokens --------------------------------------------------------
    if (p.Bv > 0) be.fill(V.dout, p.Bv * k.Nv * d, 0);
    if (p.Bt > 0) be.fill(T.dout, p.Bt * k.Ft * d, 0);
    for (let s = 0; s < B; s++) {
      const r = acts.rowOf[s], vi = acts.visOf[s], ti = acts.tabOf[s];
      be.accumulate(G.cls, F.dres + r * d, d);
      let at = r + 1;
      if (vi >= 0) be.affineBackward(V.dout + vi * k.Nv * d, G.vScale, G.vShift, F.dres + at * d, V.out + vi * k.Nv * d, W.vScale, k.Nv, d);
      if (vi >= 0 || !c.attentionMasking) at += k.Nv;
      if (ti >= 0) be.affineBackward(T.dout + ti * k.Ft * d, G.tScale, G.tShift, F.dres + at * d, T.out + ti * k.Ft * d, W.tScale, k.Ft, d);
    }
    // ---- vision encoder --------------------------------------------------------------------------------
    if (p.Bv > 0) {
      this.encoderBackward(V, W.vBlocks, G.vBlocks, W.vNormW, G.vNormW, G.vNormB, p.Bv, k.Nv, S);
      patchEmbedBackward(be, G.patchW, G.patchB, G.pos, V.dres, acts.patches, p.Bv, k.Nv, k.PP, d);
    }
    // ---- tabular encoder -------------------------------------------------------------------------------
    if (p.Bt > 0) {
      this.encoderBackward(T, W.tBlocks, G.tBlocks, W.tNormW, G.tNormW, G.tNormB, p.Bt, k.Ft, S);
      be.maskRows(T.dres, T.present, p.Bt * k.Ft, d);
      featureTokensBackward(be, G.numW, G.numB, G.embed, G.catB, T.dres, acts.numX, acts.codes, acts.catPresent, this.catOffsets, p.Bt, k.Fn, k.Fc, d);
    }
  }
}

// ---- entry points ------------------------------------------------------------------------------------------

/** A new model: `config` overrides the defaults (the `small` preset); unknown keys are errors. */
export function createModel(config: Partial<ModelConfig> = {}, opts: ModelOptions = {}): Model {
  return new Model(config, opts);
}

/**
 * Load a checkpoint (a path or the file's bytes). The config comes from the file; `opts.metadata` entries
 * are merged over the file's metadata. Throws a clear message on a malformed or mismatching file.
 */
export function loadModel(source: string | Uint8Array, opts: Omit<ModelOptions, 'seed'> = {}): Model {
  const bytes = typeof source === 'string' ? new Uint8Array(readFileSync(source)) : source;
  let ck;
  try {
    ck = decodeCheckpoint(bytes);
  } catch (e) {
    if (typeof source === 'string' && e instanceof Error) e.message = `${source}: ${e.message}`;
    throw e;
  }
  return new Model(ck.config, { ...opts, metadata: { ...ck.metadata, ...(opts.metadata ?? {}) } }, ck.params);
}

// ---- activation region -----------------------------------------------------------------------------------

function allocActs(be: Backend, k: Dims, c: ModelConfig, cap: number, training: boolean): Acts {
  const d = k.d, hid = k.hidden;
  const rowsV = cap * k.Nv, rowsT = cap * k.Ft, Tf = 1 + k.Nv + k.Ft, rowsF = cap * Tf;
  // Count first, reserve once, then carve (one grow instead of many).
  const sizes: number[] = [];
  const hostArray = (n: number): FloatArray => (be.precision === 'f64' ? new Float64Array(n) : new Float32Array(n));
  const carve = (n: number) => { sizes.push(n); return 0; };
  const layoutPass = (alloc: (n: number) => Ptr): Acts => {
    const blockActs = (rows: number, T: number): BlockActs => {
      return {
        ln1: alloc(rows * d), ln1Mean: alloc(rows), ln1Rstd: alloc(rows), qkv: alloc(rows * 3 * d),
        att: alloc(cap * k.H * T * T), atty: alloc(rows * d), x1: alloc(rows * d), ln2: alloc(rows * d), ln2Mean: alloc(rows), ln2Rstd: alloc(rows),
        fch: alloc(rows * hid), fchGelu: alloc(rows * hid), x2: alloc(rows * d),
      };
    };
    const encoder = (rows: number, T: number, depth: number, outRows: number): EncoderActs => ({
      x0: alloc(rows * d),
      blocks: Array.from({ length: training ? depth : Math.min(depth, 1) }, () => blockActs(rows, T)),
      out: alloc(outRows * d), mean: alloc(outRows), rstd: alloc(outRows),
      mask: alloc(rows), present: alloc(rows),
      dres: training ? alloc(rows * d) : 0, dout: training ? alloc(rows * d) : 0,
    });
    const maxRows = Math.max(rowsV, rowsT, rowsF);
    return {
      cap, training, start: 0, end: 0,
      img: alloc(cap * k.S * k.S), patches: alloc(rowsV * k.PP), numX: alloc(cap * k.Fn),
      vision: encoder(rowsV, k.Nv, c.visionDepth, rowsV),
      tabular: encoder(rowsT, k.Ft, c.tabularDepth, rowsT),
      fusion: encoder(rowsF, Tf, c.fusionDepth, cap),
      clsIn: alloc(cap * d), dclsIn: alloc(cap * d), dclsOut: alloc(cap * d), clsX: alloc(cap * d), clsAtty: alloc(cap * d),
      logits: alloc(cap * NUM_LABELS), targets: alloc(cap * NUM_LABELS), weights: alloc(cap * NUM_LABELS), dlogits: alloc(cap * NUM_LABELS),
      scratch: training
        ? { dln: alloc(maxRows * d), datty: alloc(maxRows * d), dqkv: alloc(maxRows * 3 * d), dfch: alloc(maxRows * hid), dfchGelu: alloc(maxRows * hid) }
        : { dln: 0, datty: 0, dqkv: 0, dfch: 0, dfchGelu: 0 },
      clsRow: new Int32Array(cap), order: new Int32Array(cap), rowOf: new Int32Array(cap), visOf: new Int32Array(cap), tabOf: new Int32Array(cap),
      codes: new Int32Array(cap * k.Fc), catPresent: new Uint8Array(cap * k.Fc),
      host: {
        fmask: hostArray(rowsF), fpresent: hostArray(rowsF), tmask: hostArray(rowsT), tpresent: hostArray(rowsT),
        numX: hostArray(cap * k.Fn), targets: hostArray(cap * NUM_LABELS), weights: hostArray(cap * NUM_LABELS),
      },
    };
  };
  layoutPass(carve);
  be.reserve(sizes.reduce((a, n) => a + ((n + 3) & ~3), 0));
  const start = be.mark();
  const acts = layoutPass((n) => be.alloc(n));
  acts.start = start;
  acts.end = be.mark();
  // The vision encoder's key mask is all ones (every patch is present).
  be.fill(acts.vision.mask, rowsV, 1);
  return acts;
}

// ---- labels ------------------------------------------------------------------------------------------------

/**
 * Targets and 0/1 weights of label entries: 1 and 0 (and soft labels in between) are targets; -1
 * (uncertain) follows the policy; NaN (blank) is never a target. Returns the number of observed entries.
 */
export function labelTargets(t: FloatArray, w: FloatArray, labels: ArrayLike<number>, n: number, policy: UncertainPolicy): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    let target = 0, weight = 0;
    if (Number.isNaN(v)) weight = 0;
    else if (v === -1) {
      if (policy === 'ones') { target = 1; weight = 1; } else if (policy === 'zeros') { target = 0; weight = 1; }
    } else if (v >= 0 && v <= 1) { target = v; weight = 1; } else {
      throw new Error(`batch: label ${v} at entry ${i} is not 1, 0, -1 (uncertain) or NaN (blank)`);
    }
    t[i] = target;
    w[i] = weight;
    count += weight;
  }
  return count;
}

/** Observed label entries of `B` samples [B,14] under a policy. */
export function observedLabels(labels: ArrayLike<number>, B: number, policy: UncertainPolicy): number {
  let count = 0;
  for (let i = 0; i < B * NUM_LABELS; i++) {
    const v = labels[i];
    if (Number.isNaN(v)) continue;
    if (v === -1) { if (policy !== 'ignore') count++; } else count++;
  }
  return count;
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

export { LABEL_NAMES };
