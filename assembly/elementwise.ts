import { ld, st } from './ptr';

/** out = a + b. */
export function f32_add(out: usize, a: usize, b: usize, n: i32): void {
  for (let i = 0; i < n; i++) st(out, i, ld(a, i) + ld(b, i));
}
/** dst += src. */
export function f32_acc(dst: usize, src: usize, n: i32): void {
  for (let i = 0; i < n; i++) st(dst, i, ld(dst, i) + ld(src, i));
}
/** x *= s. */
export function f32_scale(x: usize, n: i32, s: f32): void {
  for (let i = 0; i < n; i++) st(x, i, ld(x, i) * s);
}
/** x = v. */
export function f32_fill(x: usize, n: i32, v: f32): void {
  for (let i = 0; i < n; i++) st(x, i, v);
}
/** dst = src (no overlap). */
export function f32_copy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, (<usize>n) << 2);
}
/** out [N,C] += bias [C]. */
export function f32_bias_add(out: usize, bias: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) st(out, n * C + c, ld(out, n * C + c) + ld(bias, c));
}
/** dbias [C] += column sums of dout [N,C]. */
export function f32_bias_grad(dbias: usize, dout: usize, N: i32, C: i32): void {
  for (let c = 0; c < C; c++) {
    let s: f32 = 0;
    for (let n = 0; n < N; n++) s += ld(dout, n * C + c);
    st(dbias, c, ld(dbias, c) + s);
  }
}
/** Sum of squares, accumulated in f64. */
export function f32_sumsq(x: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) { const v = <f64>ld(x, i); s += v * v; }
  return s;
}
/** dst = sum_{b<count} src0[b*stride + i], in order b = 0, 1, ... */
export function f32_sum_buffers(dst: usize, src0: usize, stride: i32, count: i32, n: i32): void {
  for (let i = 0; i < n; i++) {
    let s: f32 = 0;
    for (let b = 0; b < count; b++) s += ld(src0, b * stride + i);
    st(dst, i, s);
  }
}
/** Rows of x [N,C] with mask[n] == 0 set to exactly 0. */
export function f32_mask_rows(x: usize, mask: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) if (ld(mask, n) == 0) memory.fill(x + ((<usize>(n * C)) << 2), 0, (<usize>C) << 2);
}
/** out [N,C] = inp * scale[C] + shift[C]. */
export function f32_affine_fwd(out: usize, inp: usize, scale: usize, shift: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) st(out, n * C + c, ld(inp, n * C + c) * ld(scale, c) + ld(shift, c));
}
/** dinp += dout*scale; dscale += sum dout*inp; dshift += sum dout. */
export function f32_affine_bwd(dinp: usize, dscale: usize, dshift: usize, dout: usize, inp: usize, scale: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const g = ld(dout, n * C + c);
    st(dinp, n * C + c, ld(dinp, n * C + c) + g * ld(scale, c));
    st(dscale, c, ld(dscale, c) + g * ld(inp, n * C + c));
    st(dshift, c, ld(dshift, c) + g);
  }
}
/** out [N,F,d] = x[N,F] * w[F,d] + b[F,d]. */
export function f32_numtok_fwd(out: usize, x: usize, w: usize, b: usize, N: i32, F: i32, d: i32): void {
  for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) {
    const xv = ld(x, n * F + f), o = (n * F + f) * d;
    for (let e = 0; e < d; e++) st(out, o + e, xv * ld(w, f * d + e) + ld(b, f * d + e));
  }
}
/** dw [F,d] += sum_n dout*x; db [F,d] += sum_n dout. */
export function f32_numtok_bwd(dw: usize, db: usize, dout: usize, x: usize, N: i32, F: i32, d: i32): void {
  for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) {
    const xv = ld(x, n * F + f), g = (n * F + f) * d;
    for (let e = 0; e < d; e++) {
      st(dw, f * d + e, ld(dw, f * d + e) + ld(dout, g + e) * xv);
      st(db, f * d + e, ld(db, f * d + e) + ld(dout, g + e));
    }
  }
}
/** ViT patches: out [B, (S/P)^2, P*P] from img [B,S,S]. */
export function f32_patchify(out: usize, img: usize, B: i32, S: i32, P: i32): void {
  const G = S / P, PP = P * P;
  for (let b = 0; b < B; b++) for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) {
    const o = ((b * G + gy) * G + gx) * PP;
    for (let y = 0; y < P; y++) {
      memory.copy(out + ((<usize>(o + y * P)) << 2), img + ((<usize>(b * S * S + (gy * P + y) * S + gx * P)) << 2), (<usize>P) << 2);
    }
  }
}
