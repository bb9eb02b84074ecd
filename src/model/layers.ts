/**
 * The layers of the model as free functions over arena offsets, in forward/backward pairs (llm.c style):
 * outputs first, then saved activations, inputs, weights, dimensions. Backward functions accumulate (+=)
 * into parameter gradients; where a function overwrites an input gradient instead (a scratch buffer), its
 * doc says so. Nothing here allocates: every buffer comes from the model's arena plan.
 */
import type { Backend, GemmEpilogue, Ptr } from '../engine/types.ts';
import type { GeluForm } from './config.ts';

/**
 * A run of samples that share a sequence length: attention is called once per segment.
 * `row` is the first token row, `att` the element offset of its probabilities inside the att buffer.
 */
export interface Segment {
  /** First token row of the segment in the [N, d] activations. */
  row: number;
  /** Element offset of the segment's [B,H,T,T] probabilities within a block's att buffer. */
  att: number;
  /** Samples. */
  B: number;
  /** Tokens per sample. */
  T: number;
}

// ---- Linear ----------------------------------------------------------------------------------------------

/**
 * out [N,OC] = inp [N,IC] · weight [OC,IC]^T + bias [OC] (bias 0 = none), plus residual [N,OC] when one is
 * given (it may be `out` itself: accumulate in place; else out = residual + ... without copying it first).
 * `epilogue`: a GELU fused into the GEMM's output pass (GemmEpilogue).
 */
export function linearForward(be: Backend, out: Ptr, inp: Ptr, weight: Ptr, bias: Ptr, N: number, IC: number, OC: number, residual: Ptr = 0, epilogue?: GemmEpilogue): void {
  be.gemm(out, inp, weight, bias, N, OC, IC, { transB: true, accumulate: residual !== 0, residual: residual || undefined, epilogue });
}

/**
 * Backward of `linearForward`. dinp [N,IC] = dout·weight (OVERWRITTEN unless `accumulateInput`; 0 = not
 * needed), then `dinpEpilogue` on it (the gradient through a GELU before the layer: GemmEpilogue
 * 'geluGrad'); dweight [OC,IC] += dout^T·inp; dbias [OC] += column sums of dout [N,OC] (0 = none).
 */
export function linearBackward(be: Backend, dinp: Ptr, dweight: Ptr, dbias: Ptr, dout: Ptr, inp: Ptr, weight: Ptr, N: number, IC: number, OC: number, accumulateInput = false, dinpEpilogue?: GemmEpilogue): void {
  if (dinp) be.gemm(dinp, dout, weight, 0, N, IC, OC, { accumulate: accumulateInput, epilogue: dinpEpilogue });
  be.gemm(dweight, dout, inp, 0, OC, IC, N, { transA: true, accumulate: true });
  if (dbias) be.biasGrad(dbias, dout, N, OC);
}

// ---- the pre-LN transformer block ------------------------------------------------------------------------

/** Offsets of one block's tensors (parameters, or their gradients: same names). */
export interface BlockWeights {
  ln1w: Ptr; ln1b: Ptr; qkvw: Ptr; qkvb: Ptr; projw: Ptr; projb: Ptr;
  ln2w: Ptr; ln2b: Ptr; fc1w: Ptr; fc1b: Ptr; fc2w: Ptr; fc2b: Ptr;
}

/** The activations a block saves for its backward pass (N token rows). */
export interface BlockActs {
  /** [N,d] LN1 output, [N] its mean and 1/std. */
  ln1: Ptr; ln1Mean: Ptr; ln1Rstd: Ptr;
  /** [N,3d] q | k | v. */
  qkv: Ptr;
  /** [sum over segments of B*H*T*T] softmax probabilities. */
  att: Ptr;
  /** [N,d] attention output, before proj. */
  atty: Ptr;
  /** [N,d] residual after attention. */
  x1: Ptr;
  /** [N,d] LN2 output, [N] its mean and 1/std. */
  ln2: Ptr; ln2Mean: Ptr; ln2Rstd: Ptr;
  /** [N,hidden] fc1 output and its GELU. */
  fch: Ptr; fchGelu: Ptr;
  /** [N,d] block output (may be the block's own input buffer in inference). */
  x2: Ptr;
}

/** Scratch of the backward pass, shared by every block of an encoder. */
export interface BlockScratch {
  /** [N,d] gradient of an LN output. */
  dln: Ptr;
  /** [N,d] gradient of the attention output. */
  datty: Ptr;
  /** [N,3d] */
  dqkv: Ptr;
  /** [N,hidden] gradient of fc1's output (fc2's input gradient times GELU', one fused GEMM). */
  dfch: Ptr;
}

/**
 * The MLP's first layer with its GELU in the config's form (ModelConfig.gelu), one GEMM: pre [N,hidden] =
 * inp·weight^T + bias (saved for backward), act = GELU(pre) from the GEMM's output pass.
 */
function fc1Forward(be: Backend, form: GeluForm, pre: Ptr, act: Ptr, inp: Ptr, weight: Ptr, bias: Ptr, N: number, d: number, hidden: number): void {
  linearForward(be, pre, inp, weight, bias, N, d, hidden, 0, { op: 'gelu', form, out: act });
}

/**
 * Backward of the MLP (fc2 over the GELU over fc1) from dout [N,d]: dpre [N,hidden] = GELU'(pre)·(dout·fc2w)
 * in one GEMM (overwritten), dln [N,d] = dpre·fc1w (overwritten); the four parameter gradients +=.
 */
function mlpBackward(be: Backend, form: GeluForm, dln: Ptr, dpre: Ptr, g: BlockWeights, dout: Ptr, a: BlockActs, w: BlockWeights, N: number, d: number, hidden: number): void {
  linearBackward(be, dpre, g.fc2w, g.fc2b, dout, a.fchGelu, w.fc2w, N, hidden, d, false, { op: 'geluGrad', form, pre: a.fch });
  linearBackward(be, dln, g.fc1w, g.fc1b, dpre, a.ln2, w.fc1w, N, d, hidden);
}

/**
 * Pre-LN block (docs/design.md): x1 = x + proj(Attn(LN1(x))); x2 = x1 + fc2(GELU(fc1(LN2(x1)))).
 * x [N,d] input; mask [N] key mask (1 present, 0 masked) laid out like the rows; segs split the rows into
 * [B,T] runs for attention; gelu the MLP's form. `a.x2` may be the same buffer as `x` (x is last read before x2 is written).
 */
export function blockForward(be: Backend, a: BlockActs, x: Ptr, mask: Ptr, w: BlockWeights, segs: readonly Segment[], N: number, d: number, H: number, hidden: number, gelu: GeluForm): void {
  be.layernormForward(a.ln1, a.ln1Mean, a.ln1Rstd, x, w.ln1w, w.ln1b, N, d);
  linearForward(be, a.qkv, a.ln1, w.qkvw, w.qkvb, N, d, 3 * d);
  for (const s of segs) be.attentionForward(a.atty + s.row * d, a.att + s.att, a.qkv + s.row * 3 * d, mask + s.row, s.B, s.T, d, H);
  linearForward(be, a.x1, a.atty, w.projw, w.projb, N, d, d, x);
  be.layernormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.x1, w.ln2w, w.ln2b, N, d);
  fc1Forward(be, gelu, a.fch, a.fchGelu, a.ln2, w.fc1w, w.fc1b, N, d, hidden);
  linearForward(be, a.x2, a.fchGelu, w.fc2w, w.fc2b, N, hidden, d, a.x1);
}

/**
 * Backward of `blockForward`. dx [N,d] holds d(loss)/d(x2) on entry and d(loss)/d(x) on return (the
 * residual stream's gradient, updated in place); g += the block's parameter gradients. x [N,d] is the
 * block's input as it was in the forward pass.
 */
export function blockBackward(be: Backend, dx: Ptr, g: BlockWeights, s: BlockScratch, a: BlockActs, x: Ptr, mask: Ptr, w: BlockWeights, segs: readonly Segment[], N: number, d: number, H: number, hidden: number, gelu: GeluForm): void {
  // x2 = x1 + fc2(gelu(fc1(ln2(x1)))): dx passes through the residual unchanged, the MLP adds to it.
  mlpBackward(be, gelu, s.dln, s.dfch, g, dx, a, w, N, d, hidden);
  be.layernormBackward(dx, g.ln2w, g.ln2b, s.dln, a.x1, w.ln2w, a.ln2Mean, a.ln2Rstd, N, d);
  // x1 = x + proj(attn(qkv(ln1(x))))
  linearBackward(be, s.datty, g.projw, g.projb, dx, a.atty, w.projw, N, d, d);
  be.fill(s.dqkv, N * 3 * d, 0);
  for (const sg of segs) be.attentionBackward(s.dqkv + sg.row * 3 * d, s.datty + sg.row * d, a.qkv + sg.row * 3 * d, a.att + sg.att, mask + sg.row, sg.B, sg.T, d, H);
  linearBackward(be, s.dln, g.qkvw, g.qkvb, s.dqkv, a.ln1, w.qkvw, N, d, 3 * d);
  be.layernormBackward(dx, g.ln1w, g.ln1b, s.dln, x, w.ln1w, a.ln1Mean, a.ln1Rstd, N, d);
}

// ---- token embeddings ------------------------------------------------------------------------------------

/**
 * ViT patch embedding: out [B*Nv,d] = patchify(img [B,S,S]) · weight [d,P*P]^T + bias [d] + pos [Nv,d].
 * patches [B*Nv,P*P] is saved for the backward pass.
 */
export function patchEmbedForward(be: Backend, out: Ptr, patches: Ptr, img: Ptr, weight: Ptr, bias: Ptr, pos: Ptr, B: number, S: number, P: number, d: number): void {
  const Nv = (S / P) * (S / P);
  be.patchify(patches, img, B, S, P);
  linearForward(be, out, patches, weight, bias, B * Nv, P * P, d);
  be.biasAdd(out, pos, B, Nv * d); // pos as a [Nv*d] bias over B rows
}

/** dweight [d,P*P] +=, dbias [d] +=, dpos [Nv,d] += from dout [B*Nv,d] (the image gets no gradient). */
export function patchEmbedBackward(be: Backend, dweight: Ptr, dbias: Ptr, dpos: Ptr, dout: Ptr, patches: Ptr, B: number, Nv: number, PP: number, d: number): void {
  be.biasGrad(dpos, dout, B, Nv * d);
  linearBackward(be, 0, dweight, dbias, dout, patches, 0, B * Nv, PP, d);
}

/**
 * FT-Transformer feature tokens (rtdl; Gorishniy et al. 2021): tok [B,Fn+Fc,d], numeric tokens first:
 * x[b,j]·numW[j] + numB[j]; then categorical j: embed[catRows[b,j]] + catB[j], where catRows [B,Fc] (a row
 * index buffer) holds offsets[j] + the code. x [B,Fn] holds 0 for missing features and missing codes point at
 * the feature's code 0, so every row is finite; the caller masks the missing rows. One kernel per batch.
 */
export function featureTokensForward(be: Backend, tok: Ptr, x: Ptr, catRows: Ptr, numW: Ptr, numB: Ptr, embed: Ptr, catB: Ptr, B: number, Fn: number, Fc: number, d: number): void {
  if (Fc === 0) {
    if (Fn > 0) be.numTokensForward(tok, x, numW, numB, B, Fn, d);
    return;
  }
  be.featureTokensForward(tok, x, catRows, numW, numB, embed, catB, B, Fn, Fc, d);
}

/**
 * Backward of `featureTokensForward`: dnumW, dnumB [Fn,d] +=; rows of dembed and dcatB [Fc,d] += from
 * dtok [B,Fn+Fc,d]; present [B,Fn+Fc] (the token mask) skips missing categorical codes (their dtok rows are
 * zero anyway). Without categorical features the numeric sums run over the batch at once (numTokensBackward);
 * with them, sample by sample (featureTokensBackward): the two summation orders the model has always used.
 */
export function featureTokensBackward(be: Backend, dnumW: Ptr, dnumB: Ptr, dembed: Ptr, dcatB: Ptr, dtok: Ptr, x: Ptr, catRows: Ptr, present: Ptr, B: number, Fn: number, Fc: number, d: number): void {
  if (Fc === 0) {
    if (Fn > 0) be.numTokensBackward(dnumW, dnumB, dtok, x, B, Fn, d);
    return;
  }
  be.featureTokensBackward(dnumW, dnumB, dembed, dcatB, dtok, x, catRows, present, B, Fn, Fc, d);
}

// ---- the last block of the fusion encoder: only the CLS rows continue after attention -------------------

/**
 * The fusion encoder's last block. Only the CLS outputs feed the head, so after attention (which needs every
 * token as a key) the block continues on the CLS rows alone: proj, the residual, LN2 and the MLP run over B
 * rows instead of N. rows [B] (a row index buffer, see Backend.copyRows) are the CLS row of each output
 * sample; clsX, clsAtty [B,d] receive the
 * gathered block input and attention output; the output is a.x2's first B rows [B,d], in the order of `rows`.
 * The other rows of x1, ln2, fch, fchGelu, x2 are not computed.
 */
export function lastBlockForward(be: Backend, a: BlockActs, clsX: Ptr, clsAtty: Ptr, x: Ptr, mask: Ptr, w: BlockWeights, segs: readonly Segment[], rows: Ptr, B: number, N: number, d: number, H: number, hidden: number, gelu: GeluForm): void {
  be.layernormForward(a.ln1, a.ln1Mean, a.ln1Rstd, x, w.ln1w, w.ln1b, N, d);
  linearForward(be, a.qkv, a.ln1, w.qkvw, w.qkvb, N, d, 3 * d);
  for (const s of segs) be.attentionForward(a.atty + s.row * d, a.att + s.att, a.qkv + s.row * 3 * d, mask + s.row, s.B, s.T, d, H);
  be.copyRows(clsX, 0, x, rows, B, d);
  be.copyRows(clsAtty, 0, a.atty, rows, B, d);
  linearForward(be, a.x1, clsAtty, w.projw, w.projb, B, d, d, clsX);
  be.layernormForward(a.ln2, a.ln2Mean, a.ln2Rstd, a.x1, w.ln2w, w.ln2b, B, d);
  fc1Forward(be, gelu, a.fch, a.fchGelu, a.ln2, w.fc1w, w.fc1b, B, d, hidden);
  linearForward(be, a.x2, a.fchGelu, w.fc2w, w.fc2b, B, hidden, d, a.x1);
}

/**
 * Backward of `lastBlockForward`. dcls [B,d] holds d(loss)/d(output) on entry (it is overwritten as
 * scratch); dx [N,d] receives (overwritten, not accumulated) d(loss)/d(x) for every row; g += the block's
 * parameter gradients.
 */
export function lastBlockBackward(be: Backend, dx: Ptr, dcls: Ptr, g: BlockWeights, s: BlockScratch, a: BlockActs, clsAtty: Ptr, x: Ptr, mask: Ptr, w: BlockWeights, segs: readonly Segment[], rows: Ptr, B: number, N: number, d: number, H: number, hidden: number, gelu: GeluForm): void {
  // On the B CLS rows: x2 = x1 + fc2(gelu(fc1(ln2(x1)))), x1 = x + proj(atty).
  mlpBackward(be, gelu, s.dln, s.dfch, g, dcls, a, w, B, d, hidden);
  be.layernormBackward(dcls, g.ln2w, g.ln2b, s.dln, a.x1, w.ln2w, a.ln2Mean, a.ln2Rstd, B, d);
  linearBackward(be, s.dln, g.projw, g.projb, dcls, clsAtty, w.projw, B, d, d);
  // Scatter to all rows: the residual and the attention output get gradient on the CLS rows only.
  be.fill(dx, N * d, 0);
  be.fill(s.datty, N * d, 0);
  be.copyRows(dx, rows, dcls, 0, B, d);
  be.copyRows(s.datty, rows, s.dln, 0, B, d);
  // x1 = x + proj(attn(qkv(ln1(x)))) over every row.
  be.fill(s.dqkv, N * 3 * d, 0);
  for (const sg of segs) be.attentionBackward(s.dqkv + sg.row * 3 * d, s.datty + sg.row * d, a.qkv + sg.row * 3 * d, a.att + sg.att, mask + sg.row, sg.B, sg.T, d, H);
  linearBackward(be, s.dln, g.qkvw, g.qkvb, s.dqkv, a.ln1, w.qkvw, N, d, 3 * d);
  be.layernormBackward(dx, g.ln1w, g.ln1b, s.dln, x, w.ln1w, a.ln1Mean, a.ln1Rstd, N, d);
}
