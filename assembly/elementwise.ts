import { ld, st, ld4, st4 } from './ptr';
import { madd } from './simd';

// Elementwise kernels: f32x4 over the contiguous dimension, the n&3 (or C&3) tail scalar. Column sums over
// rows (bias_grad, affine_bwd, numtok_bwd) keep up to 16 columns in registers and walk the rows in order
// n = 0..N-1, then add each column's sum to its gradient once: the same order as the reference's
// `s = sum_n ...; grad += s`, independent of the blocking, so results are deterministic.

/** out [n] = a + b. f32x4, n&3 tail scalar; out may alias a or b. Matches ReferenceBackend.add. */
export function f32_add(out: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) st4(out, i, f32x4.add(ld4(a, i), ld4(b, i)));
  for (; i < n; i++) st(out, i, ld(a, i) + ld(b, i));
}

/** dst [n] += src. f32x4, n&3 tail scalar. Matches ReferenceBackend.accumulate. */
export function f32_acc(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) st4(dst, i, f32x4.add(ld4(dst, i), ld4(src, i)));
  for (; i < n; i++) st(dst, i, ld(dst, i) + ld(src, i));
}

/** x [n] *= s. f32x4, n&3 tail scalar. Matches ReferenceBackend.scale. */
export function f32_scale(x: usize, n: i32, s: f32): void {
  const vs = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) st4(x, i, f32x4.mul(ld4(x, i), vs));
  for (; i < n; i++) st(x, i, ld(x, i) * s);
}

/** x [n] = v. f32x4 stores, n&3 tail scalar. Matches ReferenceBackend.fill. */
export function f32_fill(x: usize, n: i32, v: f32): void {
  const vv = f32x4.splat(v);
  let i = 0;
  for (; i + 4 <= n; i += 4) st4(x, i, vv);
  for (; i < n; i++) st(x, i, v);
}

/** dst [n] = src (ranges must not overlap): one bulk-memory copy. Matches ReferenceBackend.copy. */
export function f32_copy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, (<usize>n) << 2);
}

/** out [N,C] += bias [C] on every row. f32x4 over C, C&3 tail scalar. Matches ReferenceBackend.biasAdd. */
export function f32_bias_add(out: usize, bias: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const o = out + ((<usize>(n * C)) << 2);
    let c = 0;
    for (; c + 4 <= C; c += 4) st4(o, c, f32x4.add(ld4(o, c), ld4(bias, c)));
    for (; c < C; c++) st(o, c, ld(o, c) + ld(bias, c));
  }
}

/**
 * dbias [C] += column sums of dout [N,C]. Columns in blocks of 16 (four f32x4 accumulators), then 4, then
 * one at a time; within a block rows are added in order n = 0..N-1 and the sum is added to dbias once.
 * Matches ReferenceBackend.biasGrad (same summation order).
 */
export function f32_bias_grad(dbias: usize, dout: usize, N: i32, C: i32): void {
  const rs = (<usize>C) << 2;
  let c = 0;
  for (; c + 16 <= C; c += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let p = dout + ((<usize>c) << 2);
    for (let n = 0; n < N; n++, p += rs) {
      a0 = f32x4.add(a0, ld4(p, 0)); a1 = f32x4.add(a1, ld4(p, 4));
      a2 = f32x4.add(a2, ld4(p, 8)); a3 = f32x4.add(a3, ld4(p, 12));
    }
    st4(dbias, c, f32x4.add(ld4(dbias, c), a0)); st4(dbias, c + 4, f32x4.add(ld4(dbias, c + 4), a1));
    st4(dbias, c + 8, f32x4.add(ld4(dbias, c + 8), a2)); st4(dbias, c + 12, f32x4.add(ld4(dbias, c + 12), a3));
  }
  for (; c + 4 <= C; c += 4) {
    let a0 = f32x4.splat(0);
    let p = dout + ((<usize>c) << 2);
    for (let n = 0; n < N; n++, p += rs) a0 = f32x4.add(a0, ld4(p, 0));
    st4(dbias, c, f32x4.add(ld4(dbias, c), a0));
  }
  for (; c < C; c++) {
    let s: f32 = 0;
    let p = dout + ((<usize>c) << 2);
    for (let n = 0; n < N; n++, p += rs) s += load<f32>(p);
    st(dbias, c, ld(dbias, c) + s);
  }
}

/**
 * Sum of squares of x [n], accumulated in f64 (gradient-norm clipping). Each f32x4 is promoted to two
 * f64x2 and squared into four f64x2 accumulators (8 floats per step), then combined in a fixed order, then the
 * n&7 tail added in order: the order depends only on n. The f64 sum is stored at `out` (a scalar slot of
 * two floats, 8-byte aligned as every arena allocation is). Matches ReferenceBackend.sumSquaresTo to f64 rounding.
 */
export function f32_sumsq(out: usize, x: usize, n: i32): void {
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0), a2 = f64x2.splat(0), a3 = f64x2.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const v0 = ld4(x, i), v1 = ld4(x, i + 4);
    const l0 = f64x2.promote_low_f32x4(v0), h0 = f64x2.promote_low_f32x4(i32x4.shuffle(v0, v0, 2, 3, 0, 1));
    const l1 = f64x2.promote_low_f32x4(v1), h1 = f64x2.promote_low_f32x4(i32x4.shuffle(v1, v1, 2, 3, 0, 1));
    a0 = f64x2.add(a0, f64x2.mul(l0, l0)); a1 = f64x2.add(a1, f64x2.mul(h0, h0));
    a2 = f64x2.add(a2, f64x2.mul(l1, l1)); a3 = f64x2.add(a3, f64x2.mul(h1, h1));
  }
  const t = f64x2.add(f64x2.add(a0, a1), f64x2.add(a2, a3));
  let s: f64 = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
  for (; i < n; i++) { const v = <f64>ld(x, i); s += v * v; }
  store<f64>(out, s);
}

/**
 * dst [n] = sum over b < count of src0[b*stride + i], added in order b = 0, 1, ... starting from 0
 * (deterministic, independent of thread count). Blocks of 1024 elements keep the dst block in L1 while every
 * buffer is streamed once; f32x4 within a block, n&3 tail scalar. dst may be src0 itself. Matches
 * ReferenceBackend.sumBuffers.
 */
export function f32_sum_buffers(dst: usize, src0: usize, stride: i32, count: i32, n: i32): void {
  const BLOCK = 1024;
  const zero = f32x4.splat(0);
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = min(i0 + BLOCK, n);
    const i4 = i0 + ((i1 - i0) & ~3);
    if (count <= 0) {
      for (let i = i0; i < i1; i++) st(dst, i, 0);
      continue;
    }
    // b = 0: 0 + src (so -0 becomes +0 exactly as in the reference's s = 0; s += ...).
    for (let i = i0; i < i4; i += 4) st4(dst, i, f32x4.add(zero, ld4(src0, i)));
    for (let i = i4; i < i1; i++) st(dst, i, <f32>0 + ld(src0, i));
    for (let b = 1; b < count; b++) {
      const s = src0 + ((<usize>b * <usize>stride) << 2);
      for (let i = i0; i < i4; i += 4) st4(dst, i, f32x4.add(ld4(dst, i), ld4(s, i)));
      for (let i = i4; i < i1; i++) st(dst, i, ld(dst, i) + ld(s, i));
    }
  }
}

/**
 * Rows of x [N,C] whose mask [N] (float, 1 present / 0 masked) is 0 are overwritten with exactly +0 (bulk
 * memory fill), so NaN or garbage in a masked row cannot leak. Matches ReferenceBackend.maskRows.
 */
export function f32_mask_rows(x: usize, mask: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) if (ld(mask, n) == 0) memory.fill(x + ((<usize>(n * C)) << 2), 0, (<usize>C) << 2);
}

/**
 * Modality tokens scattered into their sequences (one call per batch): for sample i < B and token j < T,
 *   out row (outRows[i] + j) = inp row (i*T + j) * scale[C] + shift[C]        (one madd per 4 lanes)
 * inp [B*T, C]; outRows [B] the first destination row of each sample, stored as floats (exact integers), or
 * 0 for the identity (row i*T). f32x4 over C, C&3 tail scalar; every element is the same single madd as the
 * per-row form, so a scatter gives the bits of B separate calls. Matches ReferenceBackend.affineScatterForward.
 */
export function f32_affine_scatter_fwd(out: usize, outRows: usize, inp: usize, scale: usize, shift: usize, B: i32, T: i32, C: i32): void {
  for (let i = 0; i < B; i++) {
    const r0 = outRows ? <i32>ld(outRows, i) : i * T;
    for (let j = 0; j < T; j++) {
      const x = inp + ((<usize>((i * T + j) * C)) << 2), o = out + ((<usize>((r0 + j) * C)) << 2);
      let c = 0;
      for (; c + 4 <= C; c += 4) st4(o, c, madd(ld4(x, c), ld4(scale, c), ld4(shift, c)));
      for (; c < C; c++) st(o, c, ld(x, c) * ld(scale, c) + ld(shift, c));
    }
  }
}

/**
 * Backward of f32_affine_scatter_fwd, accumulating, one call per batch: for each sample i in order 0..B-1,
 * over its T rows (dout rows doutRows[i] + j, or i*T + j when doutRows is 0):
 *   dinp rows i*T.. += dout * scale;  dscale [C] += sum_j dout * inp;  dshift [C] += sum_j dout
 * Each sample's column sums are formed in registers (rows in order) and added to dscale/dshift once, sample
 * after sample: the bits of B per-sample calls. Matches ReferenceBackend.affineScatterBackward.
 */
export function f32_affine_scatter_bwd(dinp: usize, dscale: usize, dshift: usize, dout: usize, doutRows: usize, inp: usize, scale: usize, B: i32, T: i32, C: i32): void {
  const rowBytes = (<usize>(T * C)) << 2;
  for (let i = 0; i < B; i++) {
    const r0 = doutRows ? <i32>ld(doutRows, i) : i * T;
    const off = (<usize>i) * rowBytes;
    affineBackwardRows(dinp + off, dscale, dshift, dout + ((<usize>(r0 * C)) << 2), inp + off, scale, T, C);
  }
}

/**
 * One sample's affine backward over N contiguous rows: dinp [N,C] += dout * scale; dscale, dshift [C] +=
 * column sums. Columns in blocks of 8 (scale and both sums in registers), then 4, then one at a time; rows
 * in order n = 0..N-1, each column's sums added to dscale/dshift once.
 */
function affineBackwardRows(dinp: usize, dscale: usize, dshift: usize, dout: usize, inp: usize, scale: usize, N: i32, C: i32): void {
  const rs = (<usize>C) << 2;
  let c = 0;
  for (; c + 8 <= C; c += 8) {
    const s0 = ld4(scale, c), s1 = ld4(scale, c + 4);
    let k0 = f32x4.splat(0), k1 = f32x4.splat(0), h0 = f32x4.splat(0), h1 = f32x4.splat(0);
    const cb = (<usize>c) << 2;
    let g = dout + cb, x = inp + cb, d = dinp + cb;
    for (let n = 0; n < N; n++, g += rs, x += rs, d += rs) {
      const g0 = ld4(g, 0), g1 = ld4(g, 4);
      st4(d, 0, madd(g0, s0, ld4(d, 0))); st4(d, 4, madd(g1, s1, ld4(d, 4)));
      k0 = madd(g0, ld4(x, 0), k0); k1 = madd(g1, ld4(x, 4), k1);
      h0 = f32x4.add(h0, g0); h1 = f32x4.add(h1, g1);
    }
    st4(dscale, c, f32x4.add(ld4(dscale, c), k0)); st4(dscale, c + 4, f32x4.add(ld4(dscale, c + 4), k1));
    st4(dshift, c, f32x4.add(ld4(dshift, c), h0)); st4(dshift, c + 4, f32x4.add(ld4(dshift, c + 4), h1));
  }
  for (; c + 4 <= C; c += 4) {
    const s0 = ld4(scale, c);
    let k0 = f32x4.splat(0), h0 = f32x4.splat(0);
    const cb = (<usize>c) << 2;
    let g = dout + cb, x = inp + cb, d = dinp + cb;
    for (let n = 0; n < N; n++, g += rs, x += rs, d += rs) {
      const g0 = ld4(g, 0);
      st4(d, 0, madd(g0, s0, ld4(d, 0)));
      k0 = madd(g0, ld4(x, 0), k0);
      h0 = f32x4.add(h0, g0);
    }
    st4(dscale, c, f32x4.add(ld4(dscale, c), k0));
    st4(dshift, c, f32x4.add(ld4(dshift, c), h0));
  }
  for (; c < C; c++) {
    const sc = ld(scale, c);
    let k: f32 = 0, h: f32 = 0;
    const cb = (<usize>c) << 2;
    let g = dout + cb, x = inp + cb, d = dinp + cb;
    for (let n = 0; n < N; n++, g += rs, x += rs, d += rs) {
      const gv = load<f32>(g);
      store<f32>(d, load<f32>(d) + gv * sc);
      k += gv * load<f32>(x);
      h += gv;
    }
    st(dscale, c, ld(dscale, c) + k);
    st(dshift, c, ld(dshift, c) + h);
  }
}

/**
 * Numeric feature tokens (FT-Transformer, Gorishniy et al. 2021): out [N,F,d] = x[N,F] * w[F,d] + b[F,d].
 * One madd per 4 lanes of d, d&3 tail scalar. Matches ReferenceBackend.numTokensForward.
 */
export function f32_numtok_fwd(out: usize, x: usize, w: usize, b: usize, N: i32, F: i32, d: i32): void {
  for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) {
    const xs = ld(x, n * F + f), xv = f32x4.splat(xs);
    const o = out + ((<usize>((n * F + f) * d)) << 2), wf = w + ((<usize>(f * d)) << 2), bf = b + ((<usize>(f * d)) << 2);
    let e = 0;
    for (; e + 4 <= d; e += 4) st4(o, e, madd(xv, ld4(wf, e), ld4(bf, e)));
    for (; e < d; e++) st(o, e, xs * ld(wf, e) + ld(bf, e));
  }
}

/**
 * Numeric tokens backward, accumulating: dw [F,d] += sum_n dout[n,f,:] * x[n,f]; db [F,d] += sum_n dout[n,f,:].
 * Per feature f, columns of d in blocks of 8, then 4, then one at a time, with the sums in registers over
 * rows n = 0..N-1 in order, added to dw/db once. Matches ReferenceBackend.numTokensBackward.
 */
export function f32_numtok_bwd(dw: usize, db: usize, dout: usize, x: usize, N: i32, F: i32, d: i32): void {
  const rs = (<usize>(F * d)) << 2;
  for (let f = 0; f < F; f++) {
    const wf = dw + ((<usize>(f * d)) << 2), bf = db + ((<usize>(f * d)) << 2);
    const g0p = dout + ((<usize>(f * d)) << 2);
    let e = 0;
    for (; e + 8 <= d; e += 8) {
      let k0 = f32x4.splat(0), k1 = f32x4.splat(0), h0 = f32x4.splat(0), h1 = f32x4.splat(0);
      let g = g0p + ((<usize>e) << 2);
      for (let n = 0; n < N; n++, g += rs) {
        const xv = f32x4.splat(ld(x, n * F + f));
        const a = ld4(g, 0), bb = ld4(g, 4);
        k0 = madd(a, xv, k0); k1 = madd(bb, xv, k1);
        h0 = f32x4.add(h0, a); h1 = f32x4.add(h1, bb);
      }
      st4(wf, e, f32x4.add(ld4(wf, e), k0)); st4(wf, e + 4, f32x4.add(ld4(wf, e + 4), k1));
      st4(bf, e, f32x4.add(ld4(bf, e), h0)); st4(bf, e + 4, f32x4.add(ld4(bf, e + 4), h1));
    }
    for (; e + 4 <= d; e += 4) {
      let k0 = f32x4.splat(0), h0 = f32x4.splat(0);
      let g = g0p + ((<usize>e) << 2);
      for (let n = 0; n < N; n++, g += rs) {
        const a = ld4(g, 0);
        k0 = madd(a, f32x4.splat(ld(x, n * F + f)), k0);
        h0 = f32x4.add(h0, a);
      }
      st4(wf, e, f32x4.add(ld4(wf, e), k0));
      st4(bf, e, f32x4.add(ld4(bf, e), h0));
    }
    for (; e < d; e++) {
      let k: f32 = 0, h: f32 = 0;
      let g = g0p + ((<usize>e) << 2);
      for (let n = 0; n < N; n++, g += rs) { const a = load<f32>(g); k += a * ld(x, n * F + f); h += a; }
      st(wf, e, ld(wf, e) + k);
      st(bf, e, ld(bf, e) + h);
    }
  }
}

/**
 * ViT patches: out [B, G*G, P*P] from img [B,S,S], G = S/P, patches row-major over the image, each patch
 * flattened row-major. A pure copy: each patch row of P floats moves with f32x4 loads/stores (P&3 tail
 * scalar). Matches ReferenceBackend.patchify.
 */
export function f32_patchify(out: usize, img: usize, B: i32, S: i32, P: i32): void {
  const G = S / P, PP = P * P;
  for (let b = 0; b < B; b++) for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) {
    const o = out + ((<usize>(((b * G + gy) * G + gx) * PP)) << 2);
    for (let y = 0; y < P; y++) {
      const src = img + ((<usize>(b * S * S + (gy * P + y) * S + gx * P)) << 2), dst = o + ((<usize>(y * P)) << 2);
      let e = 0;
      for (; e + 4 <= P; e += 4) st4(dst, e, ld4(src, e));
      for (; e < P; e++) st(dst, e, ld(src, e));
    }
  }
}
