import { ld, st, ld4, st4, hsum4, hmax4, vexp } from './ptr';
import { madd } from './simd';
import { ERF_PHI, GELU_A, GELU_CLAMP, GELU_K, geluExp, normCdf, vgeluErf, vgeluErfGrad, vgeluTanh, vgeluTanhGrad } from './gelu';

/**
 * GELU forward, tanh approximation (Hendrycks & Gimpel 2016): out [n] = 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))),
 * computed as x / (1 + exp(-2u)). f32x4, n&3 tail scalar. out may alias inp. Matches ReferenceBackend.geluForward.
 */
export function f32_gelu_fwd(out: usize, inp: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) st4(out, i, vgeluTanh(ld4(inp, i)));
  for (; i < n; i++) { const x = ld(inp, i); st(out, i, x / (1 + geluExp(x))); }
}

/**
 * GELU backward, accumulating: dinp [n] += GELU'(inp) * dout (vgeluTanhGrad). f32x4, n&3 tail scalar.
 * Matches ReferenceBackend.geluBackward.
 */
export function f32_gelu_bwd(dinp: usize, inp: usize, dout: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) st4(dinp, i, madd(vgeluTanhGrad(ld4(inp, i)), ld4(dout, i), ld4(dinp, i)));
  for (; i < n; i++) {
    const x = min(max(ld(inp, i), -GELU_CLAMP), GELU_CLAMP), e = geluExp(x), s: f32 = 1 / (1 + e);
    const grad: f32 = s + 2 * GELU_K * (1 + 3 * GELU_A * x * x) * (x * s) * (e * s);
    st(dinp, i, ld(dinp, i) + grad * ld(dout, i));
  }
}

/**
 * GELU forward, exact form: out [n] = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), Phi as in gelu.ts. Measured relative
 * error (test/gelu-erf.test.ts): 2.2e-6 for x >= -5, 8.5e-6 below, where the f32 rounding of x^2/2 in exp's
 * argument outweighs the fit's 1.04e-7. f32x4, n&3 tail scalar. out may alias inp. Matches ReferenceBackend.geluErfForward.
 * x = +-1e30 gives x and -0; -inf gives NaN (inf * 0), as the tanh form does.
 */
export function f32_gelu_erf_fwd(out: usize, inp: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) st4(out, i, vgeluErf(ld4(inp, i)));
  for (; i < n; i++) { const x = ld(inp, i); st(out, i, x * normCdf(x)); }
}

/**
 * GELU backward, exact form, accumulating: dinp [n] += (Phi(x) + x phi(x)) dout, phi(x) = exp(-x^2/2)/sqrt(2 pi)
 * (a second exp; it underflows to 0 for |x| > 13.2, so x phi stays finite up to |x| = 1e30 where x^2 = inf).
 * f32x4, n&3 tail scalar. Matches ReferenceBackend.geluErfBackward.
 */
export function f32_gelu_erf_bwd(dinp: usize, inp: usize, dout: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) st4(dinp, i, madd(vgeluErfGrad(ld4(inp, i)), ld4(dout, i), ld4(dinp, i)));
  for (; i < n; i++) {
    const x = ld(inp, i), pdf: f32 = ERF_PHI * Mathf.exp(-0.5 * x * x);
    st(dinp, i, ld(dinp, i) + (normCdf(x) + x * pdf) * ld(dout, i));
  }
}

/**
 * Row softmax: out [N,C] = exp(inp - max) / sum exp(inp - max) along C (max-subtracted, so no overflow;
 * -inf entries give exactly 0). f32x4 over C with a scalar C&3 tail; the max and sum reductions have a fixed
 * order that depends only on C (lanes, then (l0+l1)+(l2+l3), then the tail). Matches ReferenceBackend.softmaxForward.
 */
export function f32_softmax_fwd(out: usize, inp: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const x = inp + ((<usize>(n * C)) << 2), o = out + ((<usize>(n * C)) << 2);
    // pmax is one instruction (f32x4.max's NaN handling lowers to a long sequence on x64 and sat on the
    // loop-carried chain); a NaN input is not kept in mx but still reaches every output through exp and the sum.
    let vm = f32x4.splat(-Infinity), vm1 = f32x4.splat(-Infinity);
    let c = 0;
    for (; c + 8 <= C; c += 8) { vm = f32x4.pmax(vm, ld4(x, c)); vm1 = f32x4.pmax(vm1, ld4(x, c + 4)); }
    if (c + 4 <= C) { vm = f32x4.pmax(vm, ld4(x, c)); c += 4; }
    let mx = hmax4(f32x4.pmax(vm, vm1));
    for (; c < C; c++) mx = max(mx, ld(x, c));
    const vmx = f32x4.splat(mx);
    let vs = f32x4.splat(0);
    c = 0;
    for (; c + 4 <= C; c += 4) { const e = vexp(f32x4.sub(ld4(x, c), vmx)); st4(o, c, e); vs = f32x4.add(vs, e); }
    let s = hsum4(vs);
    for (; c < C; c++) { const e = Mathf.exp(ld(x, c) - mx); st(o, c, e); s += e; }
    const inv: f32 = 1 / s, vinv = f32x4.splat(inv);
    c = 0;
    for (; c + 4 <= C; c += 4) st4(o, c, f32x4.mul(ld4(o, c), vinv));
    for (; c < C; c++) st(o, c, ld(o, c) * inv);
  }
}

/**
 * Softmax backward, accumulating: dinp [N,C] += out * (dout - sum_c dout*out), per row. f32x4 over C,
 * scalar C&3 tail; the dot product's order depends only on C. Matches ReferenceBackend.softmaxBackward.
 */
export function f32_softmax_bwd(dinp: usize, dout: usize, out: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const off = (<usize>(n * C)) << 2;
    const g = dout + off, y = out + off, d = dinp + off;
    let va = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= C; c += 4) va = madd(ld4(g, c), ld4(y, c), va);
    let dot = hsum4(va);
    for (; c < C; c++) dot += ld(g, c) * ld(y, c);
    const vdot = f32x4.splat(dot);
    c = 0;
    for (; c + 4 <= C; c += 4) st4(d, c, madd(ld4(y, c), f32x4.sub(ld4(g, c), vdot), ld4(d, c)));
    for (; c < C; c++) st(d, c, ld(d, c) + ld(y, c) * (ld(g, c) - dot));
  }
}
