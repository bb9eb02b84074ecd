/**
 * Activation memory: one arena region per batch capacity, carved once (count, reserve, carve) and reused
 * for every batch that fits. Training keeps every block's activations; inference one block's worth.
 */
import type { Backend, FloatArray, Ptr } from '../engine/types.ts';
import { NUM_LABELS } from '../engine/batch.ts';
import type { Dims, ModelConfig } from './config.ts';
import type { BlockActs, BlockScratch } from './layers.ts';

/** One encoder's activations: embedding output, per-block saved tensors, final LayerNorm. */
export interface EncoderActs {
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

/**
 * Row index buffers of the current batch (exact integers as floats, see Backend.copyRows), [cap] each.
 * They turn the per-sample row moves of the fusion assembly into one gather/scatter kernel per batch.
 */
export interface RowIndex {
  /** Per fusion-order sample: its CLS row in the fusion sequence. */
  cls: Ptr;
  /** Per batch sample: its CLS row (the head's inputs in batch order). */
  clsOfBatch: Ptr;
  /** Per vision-batch sample: the fusion row of its first vision token. */
  vis: Ptr;
  /** Per tabular-batch sample: the fusion row of its first tabular token. */
  tab: Ptr;
  /** All zeros: broadcasting the CLS token to every sequence. */
  zeros: Ptr;
}

/** Host copies of the per-batch inputs (sent with `be.write`), in the arena's precision. */
export interface HostInputs {
  /** Fusion mask/present [cap*Tf], tabular mask/present [cap*Ft], numX [cap*Fn], targets/weights [cap*14]. */
  fmask: FloatArray; fpresent: FloatArray; tmask: FloatArray; tpresent: FloatArray; numX: FloatArray; targets: FloatArray; weights: FloatArray;
  /** [cap*S*S] images of the vision batch, written with one call. */
  img: FloatArray;
  /** [cap*Fc] the catRows buffer's contents. */
  catRows: FloatArray;
  /** The RowIndex buffers' contents. */
  cls: FloatArray; clsOfBatch: FloatArray; vis: FloatArray; tab: FloatArray;
}

export interface Acts {
  /** Samples this region holds. */
  cap: number;
  training: boolean;
  /** Arena range [start, end) of the region. */
  start: number; end: number;
  img: Ptr; patches: Ptr; numX: Ptr;
  /** [cap*Fc] embedding-table row of each categorical feature of the tabular batch (offset + code). */
  catRows: Ptr;
  vision: EncoderActs; tabular: EncoderActs; fusion: EncoderActs;
  /** [cap,d] gathered CLS rows before the final norm (fusion depth 0), and gradients. */
  clsIn: Ptr; dclsIn: Ptr; dclsOut: Ptr;
  /** [cap,d] the last fusion block's CLS-row input and attention output (see lastBlockForward). */
  clsX: Ptr; clsAtty: Ptr;
  /** [cap,14] */
  logits: Ptr; targets: Ptr; weights: Ptr; dlogits: Ptr;
  rows: RowIndex;
  scratch: BlockScratch;
  // Host-side plan of the current batch (no per-call allocation).
  /** Batch index of each sample in fusion order (groups both, image, table, neither). */
  order: Int32Array;
  host: HostInputs;
}

/** Carve the activation region for `cap` samples (training: every block's activations and the gradients). */
export function allocActs(be: Backend, k: Dims, c: ModelConfig, cap: number, training: boolean): Acts {
  // Count first, reserve once, then carve (one grow instead of many).
  const sizes: number[] = [];
  layoutActs(k, c, cap, training, (n) => { sizes.push(n); return 0; }, be.precision);
  be.reserve(sizes.reduce((a, n) => a + ((n + 3) & ~3), 0));
  const start = be.mark();
  const acts = layoutActs(k, c, cap, training, (n) => be.alloc(n), be.precision);
  acts.start = start;
  acts.end = be.mark();
  // The vision encoder's key mask is all ones (every patch is present).
  be.fill(acts.vision.mask, cap * k.Nv, 1);
  be.fill(acts.rows.zeros, cap, 0);
  return acts;
}

/** The region's layout through `alloc` (a counting pass, then the carving pass). */
function layoutActs(k: Dims, c: ModelConfig, cap: number, training: boolean, alloc: (n: number) => Ptr, precision: 'f32' | 'f64'): Acts {
  const d = k.d, hid = k.hidden;
  const rowsV = cap * k.Nv, rowsT = cap * k.Ft, Tf = 1 + k.Nv + k.Ft, rowsF = cap * Tf;
  const host = (n: number): FloatArray => (precision === 'f64' ? new Float64Array(n) : new Float32Array(n));
  const blockActs = (rows: number, T: number): BlockActs => ({
    ln1: alloc(rows * d), ln1Mean: alloc(rows), ln1Rstd: alloc(rows), qkv: alloc(rows * 3 * d),
    att: alloc(cap * k.H * T * T), atty: alloc(rows * d), x1: alloc(rows * d), ln2: alloc(rows * d), ln2Mean: alloc(rows), ln2Rstd: alloc(rows),
    fch: alloc(rows * hid), fchGelu: alloc(rows * hid), x2: alloc(rows * d),
  });
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
    img: alloc(cap * k.S * k.S), patches: alloc(rowsV * k.PP), numX: alloc(cap * k.Fn), catRows: alloc(cap * k.Fc),
    vision: encoder(rowsV, k.Nv, c.visionDepth, rowsV),
    tabular: encoder(rowsT, k.Ft, c.tabularDepth, rowsT),
    fusion: encoder(rowsF, Tf, c.fusionDepth, cap),
    clsIn: alloc(cap * d), dclsIn: alloc(cap * d), dclsOut: alloc(cap * d), clsX: alloc(cap * d), clsAtty: alloc(cap * d),
    logits: alloc(cap * NUM_LABELS), targets: alloc(cap * NUM_LABELS), weights: alloc(cap * NUM_LABELS), dlogits: alloc(cap * NUM_LABELS),
    rows: { cls: alloc(cap), clsOfBatch: alloc(cap), vis: alloc(cap), tab: alloc(cap), zeros: alloc(cap) },
    scratch: training
      ? { dln: alloc(maxRows * d), datty: alloc(maxRows * d), dqkv: alloc(maxRows * 3 * d), dfch: alloc(maxRows * hid) }
      : { dln: 0, datty: 0, dqkv: 0, dfch: 0 },
    order: new Int32Array(cap),
    host: {
      fmask: host(rowsF), fpresent: host(rowsF), tmask: host(rowsT), tpresent: host(rowsT),
      numX: host(cap * k.Fn), targets: host(cap * NUM_LABELS), weights: host(cap * NUM_LABELS),
      img: host(cap * k.S * k.S), catRows: host(cap * k.Fc), cls: host(cap), clsOfBatch: host(cap), vis: host(cap), tab: host(cap),
    },
  };
}
