/**
 * The forward and backward passes over one planned batch (docs/design.md, "The model"): the vision encoder
 * over the samples with an image, the tabular encoder over the samples with any feature, the fusion sequence
 * assembled per availability group by gather/scatter kernels (one call per batch), the fusion blocks, the
 * final norm and the head. Backward walks the same stages in reverse and accumulates into the gradients.
 */
import type { Backend, Ptr } from '../engine/types.ts';
import { NUM_LABELS } from '../engine/batch.ts';
import type { Dims, ModelConfig } from './config.ts';
import type { Acts, EncoderActs } from './activations.ts';
import type { Plan } from './plan.ts';
import type { Weights } from './weights.ts';
import type { BlockScratch, BlockWeights } from './layers.ts';
import {
  blockBackward, blockForward, featureTokensBackward, featureTokensForward, lastBlockBackward, lastBlockForward,
  linearBackward, linearForward, patchEmbedBackward, patchEmbedForward,
} from './layers.ts';

/** What the passes run on: the backend, the sizes, the parameter and gradient offsets. */
export interface Net {
  be: Backend; k: Dims; c: ModelConfig; W: Weights; G: Weights;
}

/** The forward pass over a planned batch; logits land at acts.logits, p.clsIn is set. */
export function forwardPass(n: Net, acts: Acts, p: Plan, training: boolean): void {
  const { be, k, c, W } = n, d = k.d, B = p.B, R = acts.rows;
  // ---- vision encoder over the samples with an image -------------------------------------------------
  const V = acts.vision;
  if (p.Bv > 0) {
    patchEmbedForward(be, V.x0, acts.patches, acts.img, W.patchW, W.patchB, W.pos, p.Bv, k.S, k.P, d);
    encoderForward(n, V, W.vBlocks, W.vNormW, W.vNormB, p.Bv, k.Nv, training);
  }
  // ---- tabular encoder over the samples with any feature --------------------------------------------
  const T = acts.tabular;
  if (p.Bt > 0) {
    featureTokensForward(be, T.x0, acts.numX, acts.catRows, W.numW, W.numB, W.embed, W.catB, p.Bt, k.Fn, k.Fc, d);
    be.maskRows(T.x0, T.present, p.Bt * k.Ft, d);
    encoderForward(n, T, W.tBlocks, W.tNormW, W.tNormB, p.Bt, k.Ft, training);
  }
  // ---- fusion: [cls] ++ scale_v*z_v + shift_v ++ scale_t*z_t + shift_t, per group ------------------------
  const F = acts.fusion;
  be.copyRows(F.x0, R.cls, W.cls, R.zeros, B, d); // the CLS token into every sequence
  if (p.Bv > 0) be.affineScatterForward(F.x0, R.vis, V.out, W.vScale, W.vShift, p.Bv, k.Nv, d);
  if (p.Bt > 0) be.affineScatterForward(F.x0, R.tab, T.out, W.tScale, W.tShift, p.Bt, k.Ft, d);
  be.maskRows(F.x0, F.present, p.rows, d); // the ablation's empty slots (and nothing else) become zero
  let fx = F.x0;
  const L = c.fusionDepth;
  for (let l = 0; l < L - 1; l++) {
    const a = F.blocks[training ? l : 0];
    blockForward(be, a, fx, F.mask, W.fBlocks[l], p.segs, p.rows, d, k.H, k.hidden, c.gelu);
    fx = a.x2;
  }
  // ---- the CLS outputs in batch order (the last block computes only them) -> final norm -> head ------
  if (L > 0) {
    const a = F.blocks[training ? L - 1 : 0];
    lastBlockForward(be, a, acts.clsX, acts.clsAtty, fx, F.mask, W.fBlocks[L - 1], p.segs, R.clsOfBatch, B, p.rows, d, k.H, k.hidden, c.gelu);
    p.clsIn = a.x2;
  } else {
    be.copyRows(acts.clsIn, 0, fx, R.clsOfBatch, B, d);
    p.clsIn = acts.clsIn;
  }
  be.layernormForward(F.out, F.mean, F.rstd, p.clsIn, W.fNormW, W.fNormB, B, d);
  linearForward(be, acts.logits, F.out, W.headW, W.headB, B, d, NUM_LABELS);
}

/** Backward of `forwardPass` from acts.dlogits; accumulates into the gradient buffer. */
export function backwardPass(n: Net, acts: Acts, p: Plan): void {
  const { be, k, c, W, G } = n, d = k.d, B = p.B, S = acts.scratch, R = acts.rows;
  const V = acts.vision, T = acts.tabular, F = acts.fusion;
  // ---- head, final norm -----------------------------------------------------------------------------
  linearBackward(be, acts.dclsOut, G.headW, G.headB, acts.dlogits, F.out, W.headW, B, d, NUM_LABELS);
  be.fill(acts.dclsIn, B * d, 0);
  be.layernormBackward(acts.dclsIn, G.fNormW, G.fNormB, acts.dclsOut, p.clsIn, W.fNormW, F.mean, F.rstd, B, d);
  // ---- fusion blocks ------------------------------------------------------------------------------------
  const L = c.fusionDepth;
  if (L > 0) {
    lastBlockBackward(be, F.dres, acts.dclsIn, G.fBlocks[L - 1], S, F.blocks[L - 1], acts.clsAtty, blockIn(F, L - 1), F.mask, W.fBlocks[L - 1], p.segs, R.clsOfBatch, B, p.rows, d, k.H, k.hidden, c.gelu);
  } else {
    be.fill(F.dres, p.rows * d, 0);
    be.copyRows(F.dres, R.clsOfBatch, acts.dclsIn, 0, B, d);
  }
  for (let l = L - 2; l >= 0; l--) {
    blockBackward(be, F.dres, G.fBlocks[l], S, F.blocks[l], blockIn(F, l), F.mask, W.fBlocks[l], p.segs, p.rows, d, k.H, k.hidden, c.gelu);
  }
  be.maskRows(F.dres, F.present, p.rows, d); // rows without data get no gradient (masked ones are already exactly zero)
  // ---- fusion assembly: cls, modality tokens (the forward's scatters, reversed) -------------------------
  be.accumulateRows(G.cls, F.dres, R.cls, B, d);
  if (p.Bv > 0) {
    be.fill(V.dout, p.Bv * k.Nv * d, 0);
    be.affineScatterBackward(V.dout, G.vScale, G.vShift, F.dres, R.vis, V.out, W.vScale, p.Bv, k.Nv, d);
  }
  if (p.Bt > 0) {
    be.fill(T.dout, p.Bt * k.Ft * d, 0);
    be.affineScatterBackward(T.dout, G.tScale, G.tShift, F.dres, R.tab, T.out, W.tScale, p.Bt, k.Ft, d);
  }
  // ---- vision encoder --------------------------------------------------------------------------------
  if (p.Bv > 0) {
    encoderBackward(n, V, W.vBlocks, G.vBlocks, W.vNormW, G.vNormW, G.vNormB, p.Bv, k.Nv, S);
    patchEmbedBackward(be, G.patchW, G.patchB, G.pos, V.dres, acts.patches, p.Bv, k.Nv, k.PP, d);
  }
  // ---- tabular encoder -------------------------------------------------------------------------------
  if (p.Bt > 0) {
    encoderBackward(n, T, W.tBlocks, G.tBlocks, W.tNormW, G.tNormW, G.tNormB, p.Bt, k.Ft, S);
    be.maskRows(T.dres, T.present, p.Bt * k.Ft, d);
    featureTokensBackward(be, G.numW, G.numB, G.embed, G.catB, T.dres, acts.numX, acts.catRows, T.present, p.Bt, k.Fn, k.Fc, d);
  }
}

/** The input of block l of an encoder (its embedding output for l = 0). */
function blockIn(e: EncoderActs, l: number): Ptr {
  return l === 0 ? e.x0 : e.blocks[l - 1].x2;
}

/**
 * A unimodal encoder's blocks and final LayerNorm over `count` samples of `T` tokens, from E.x0 to E.out
 * (key mask E.mask). Training keeps every block's activations; inference reuses one set.
 */
function encoderForward(n: Net, E: EncoderActs, blocks: BlockWeights[], normW: Ptr, normB: Ptr, count: number, T: number, training: boolean): void {
  const { be, k } = n, rows = count * T, segs = [{ row: 0, att: 0, B: count, T }];
  let x = E.x0;
  for (let l = 0; l < blocks.length; l++) {
    const a = E.blocks[training ? l : 0];
    blockForward(be, a, x, E.mask, blocks[l], segs, rows, k.d, k.H, k.hidden, n.c.gelu);
    x = a.x2;
  }
  be.layernormForward(E.out, E.mean, E.rstd, x, normW, normB, rows, k.d);
}

/** Backward of `encoderForward`, from E.dout into E.dres (zeroed first) and the blocks' gradients. */
function encoderBackward(n: Net, E: EncoderActs, blocks: BlockWeights[], grads: BlockWeights[], normW: Ptr, gNormW: Ptr, gNormB: Ptr, count: number, T: number, scratch: BlockScratch): void {
  const { be, k } = n, rows = count * T, segs = [{ row: 0, att: 0, B: count, T }];
  be.fill(E.dres, rows * k.d, 0);
  be.layernormBackward(E.dres, gNormW, gNormB, E.dout, blockIn(E, blocks.length), normW, E.mean, E.rstd, rows, k.d);
  for (let l = blocks.length - 1; l >= 0; l--) {
    blockBackward(be, E.dres, grads[l], scratch, E.blocks[l], blockIn(E, l), E.mask, blocks[l], segs, rows, k.d, k.H, k.hidden, n.c.gelu);
  }
}
