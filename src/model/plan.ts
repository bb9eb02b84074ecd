/**
 * The plan of a batch: sort the samples into availability groups (both modalities, image only, table only,
 * neither), lay out each group's fusion sequences, and copy the inputs the kernels read into the arena
 * (images, numeric values, masks, row indices), each with one `write`. Host work only; no kernel runs here.
 */
import type { Backend } from '../engine/types.ts';
import type { Batch } from '../engine/batch.ts';
import { hasTabular } from '../engine/batch.ts';
import type { Dims, ModelConfig } from './config.ts';
import type { Acts } from './activations.ts';
import type { Segment } from './layers.ts';

/** One availability group: `count` samples whose fusion sequences hold T tokens. */
export interface Group { count: number; T: number; vis: boolean; tab: boolean }

/** Per-call sizes. */
export interface Plan {
  /** Samples; of them with an image (the vision batch) and with any feature (the tabular batch). */
  B: number; Bv: number; Bt: number;
  /** Fusion rows over all groups. */
  rows: number;
  groups: Group[];
  segs: Segment[];
  /** [B,d] input of the final norm: the CLS outputs in batch order (set by the forward pass). */
  clsIn: number;
}

/**
 * Sort the batch into availability groups, copy its inputs into the arena, return the sizes. With
 * attention masking off (the ablation) every sample is laid out as [cls, Nv vision, Ft tabular] with
 * every key attended; what a sample lacks is a zero-filled token.
 */
export function planBatch(be: Backend, k: Dims, c: ModelConfig, batch: Batch, acts: Acts): Plan {
  const groups = groupSamples(k, c, batch, acts.order);
  const ctx: Ctx = { k, c, batch, acts, offsets: categoryOffsets(c) };
  const segs: Segment[] = [];
  const n = { row: 0, Bv: 0, Bt: 0 };
  let att = 0, s = 0;
  for (const g of groups) {
    if (g.count === 0) continue;
    segs.push({ row: n.row, att, B: g.count, T: g.T });
    for (let i = 0; i < g.count; i++, s++) layOutSample(ctx, g, s, n);
    att += g.count * k.H * g.T * g.T;
  }
  writeInputs(be, k, batch.B, acts, n);
  return { B: batch.B, Bv: n.Bv, Bt: n.Bt, rows: n.row, groups, segs, clsIn: 0 };
}

/** The four groups' sizes and `order` (batch index of each sample in fusion order). */
function groupSamples(k: Dims, c: ModelConfig, batch: Batch, order: Int32Array): Group[] {
  const groupOf = (b: number): number => {
    if (!c.attentionMasking) return 0;
    const v = batch.hasImage[b] !== 0, t = hasTabular(batch.numPresent, batch.catPresent, b, k.Fn, k.Fc);
    return v ? (t ? 0 : 1) : t ? 2 : 3;
  };
  const groups: Group[] = [
    { count: 0, T: 1 + k.Nv + k.Ft, vis: true, tab: true },
    { count: 0, T: 1 + k.Nv, vis: true, tab: false },
    { count: 0, T: 1 + k.Ft, vis: false, tab: true },
    { count: 0, T: 1, vis: false, tab: false },
  ];
  let n = 0;
  for (let g = 0; g < 4; g++) {
    for (let b = 0; b < batch.B; b++) if (groupOf(b) === g) { order[n++] = b; groups[g].count++; }
  }
  return groups;
}

/** What the per-sample steps of a plan share. */
interface Ctx { k: Dims; c: ModelConfig; batch: Batch; acts: Acts; offsets: Int32Array }

/** Lay out fusion-order sample `s` of group `g` from row n.row; advance the row and the encoder batches. */
function layOutSample(ctx: Ctx, g: Group, s: number, n: { row: number; Bv: number; Bt: number }): void {
  const { k, batch, acts } = ctx, b = acts.order[s], h = acts.host, row = n.row;
  h.cls[s] = row;
  h.clsOfBatch[b] = row;
  h.fmask[row] = h.fpresent[row] = 1;
  let r = row + 1;
  const vis = g.vis && batch.hasImage[b] !== 0;
  const tab = g.tab && hasTabular(batch.numPresent, batch.catPresent, b, k.Fn, k.Fc);
  if (vis) {
    h.vis[n.Bv] = r;
    h.img.set(batch.image.subarray(b * k.S * k.S, (b + 1) * k.S * k.S), n.Bv * k.S * k.S);
    n.Bv++;
  }
  if (g.vis) {
    h.fmask.fill(1, r, r + k.Nv);
    h.fpresent.fill(vis ? 1 : 0, r, r + k.Nv);
    r += k.Nv;
  }
  if (tab) {
    h.tab[n.Bt] = r;
    tabularInputs(ctx, b, n.Bt, r);
    n.Bt++;
  } else if (g.tab) {
    h.fmask.fill(1, r, r + k.Ft);
    h.fpresent.fill(0, r, r + k.Ft);
  }
  n.row += g.T;
}

/** Sample b's features as tabular-batch sample `t` (tokens from fusion row r): values, codes, masks. */
function tabularInputs(ctx: Ctx, b: number, t: number, r: number): void {
  const { k, c, batch, acts } = ctx;
  const { numX, tpresent, fpresent, tmask, fmask } = acts.host;
  for (let j = 0; j < k.Fn; j++) {
    const present = batch.numPresent[b * k.Fn + j] !== 0;
    const v = batch.num[b * k.Fn + j];
    if (present && !Number.isFinite(v)) throw new Error(`batch: num[${b}, ${j}] is present but not finite (${v})`);
    numX[t * k.Fn + j] = present ? v : 0;
    tpresent[t * k.Ft + j] = fpresent[r + j] = present ? 1 : 0;
  }
  for (let j = 0; j < k.Fc; j++) {
    const present = batch.catPresent[b * k.Fc + j] !== 0;
    const code = batch.cat[b * k.Fc + j];
    if (present && !(Number.isInteger(code) && code >= 0 && code < c.catCardinalities[j])) {
      throw new Error(`batch: cat[${b}, ${j}] = ${code} is outside the feature's ${c.catCardinalities[j]} categories`);
    }
    acts.host.catRows[t * k.Fc + j] = ctx.offsets[j] + (present ? code : 0);
    tpresent[t * k.Ft + k.Fn + j] = fpresent[r + k.Fn + j] = present ? 1 : 0;
  }
  for (let j = 0; j < k.Ft; j++) tmask[t * k.Ft + j] = fmask[r + j] = c.attentionMasking ? tpresent[t * k.Ft + j] : 1;
}

/** Send what the plan built to the arena, one write per buffer (the same ranges the kernels read). */
function writeInputs(be: Backend, k: Dims, B: number, acts: Acts, n: { row: number; Bv: number; Bt: number }): void {
  const h = acts.host;
  be.write(acts.fusion.mask, h.fmask.subarray(0, n.row));
  be.write(acts.fusion.present, h.fpresent.subarray(0, n.row));
  be.write(acts.tabular.mask, h.tmask.subarray(0, n.Bt * k.Ft));
  be.write(acts.tabular.present, h.tpresent.subarray(0, n.Bt * k.Ft));
  be.write(acts.numX, h.numX.subarray(0, n.Bt * k.Fn));
  be.write(acts.catRows, h.catRows.subarray(0, n.Bt * k.Fc));
  be.write(acts.img, h.img.subarray(0, n.Bv * k.S * k.S));
  be.write(acts.rows.cls, h.cls.subarray(0, B));
  be.write(acts.rows.clsOfBatch, h.clsOfBatch.subarray(0, B));
  be.write(acts.rows.vis, h.vis.subarray(0, n.Bv));
  be.write(acts.rows.tab, h.tab.subarray(0, n.Bt));
}

/** [Fc] the first row of each categorical feature in the shared embedding table. */
export function categoryOffsets(c: ModelConfig): Int32Array {
  const o = new Int32Array(c.catCardinalities.length);
  for (let j = 1; j < o.length; j++) o[j] = o[j - 1] + c.catCardinalities[j - 1];
  return o;
}
