import { ld, st } from './ptr';

const GELU_K: f32 = 0.7978845608028654; // sqrt(2/pi)

/** GELU, tanh approximation (Hendrycks & Gimpel 2016); matches ReferenceBackend.geluForward. */
export function f32_gelu_fwd(out: usize, inp: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const x = ld(inp, i);
    st(out, i, 0.5 * x * (1 + Mathf.tanh(GELU_K * (x + 0.044715 * x * x * x))));
  }
}

/** dinp += GELU'(inp) * dout. */
export function f32_gelu_bwd(dinp: usize, inp: usize, dout: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const x = ld(inp, i);
    const th = Mathf.tanh(GELU_K * (x + 0.044715 * x * x * x));
    const grad: f32 = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_K * (1 + 3 * 0.044715 * x * x);
    st(dinp, i, ld(dinp, i) + grad * ld(dout, i));
  }
}

/** Row softmax of inp [N,C] into out. */
export function f32_softmax_fwd(out: usize, inp: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const x = inp + ((<usize>(n * C)) << 2), o = out + ((<usize>(n * C)) << 2);
    let mx: f32 = -Infinity;
    for (let c = 0; c < C; c++) mx = max(mx, ld(x, c));
    let s: f32 = 0;
    for (let c = 0; c < C; c++) { const e = Mathf.exp(ld(x, c) - mx); st(o, c, e); s += e; }
    const inv: f32 = 1 / s;
    for (let c = 0; c < C; c++) st(o, c, ld(o, c) * inv);
  }
}

/** dinp [N,C] += out * (dout - sum(dout * out)). */
export function f32_softmax_bwd(dinp: usize, dout: usize, out: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const off = (<usize>(n * C)) << 2;
    let dot: f32 = 0;
    for (let c = 0; c < C; c++) dot += ld(dout + off, c) * ld(out + off, c);
    for (let c = 0; c < C; c++) st(dinp + off, c, ld(dinp + off, c) + ld(out + off, c) * (ld(dout + off, c) - dot));
  }
}
