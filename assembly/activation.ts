import { ld, st, ld4, st4, hsum4, hmax4, vexp } from './ptr';
import { madd } from './simd';

const GELU_K: f32 = 0.7978845608028654; // sqrt(2/pi)
const GELU_A: f32 = 0.044715;
/** The backward clamps x to +-10: there 2|u| = 87.3, so exp(-2u) stays finite (no inf * 0 = NaN in the
 * derivative) while GELU' is already 1 (x = 10) or ~1e-36 (x = -10) in f32. NaN still propagates. The forward
 * needs no clamp: exp saturates to +inf or 0 and x / (1 + exp(-2u)) is then -0 or x. */
const GELU_CLAMP: f32 = 10;

// GELU through the logistic function: 0.5 * (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)), so
//   GELU(x) = x / (1 + exp(-2u)),  u = sqrt(2/pi) * (x + 0.044715 x^3),
// and, with s = sigmoid(2u) and 1 - tanh(u)^2 = 4 s (1 - s),
//   GELU'(x) = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
// This needs one vexp (Cephes-style, ptr.ts) and one division per 4 lanes and has no cancellation for
// large |x| (1 + tanh(u) is never formed). Measured against the float64 reference (test/kernels.test.ts,
// 262144 points on [-10, 10], both builds): max abs error 5.2e-7 forward (that is f32 rounding: half an ulp
// of 10 is 4.8e-7) and 2.2e-7 backward; |x| = 100 and 1e30 give the exact limits (x or -0; 1 or 0).

/** exp(-2u) for the n&3 tail (same formula as vgeluExp, Mathf.exp). */
// @ts-ignore: decorator
@inline function geluExp(x: f32): f32 {
  return Mathf.exp(-2 * GELU_K * (x + GELU_A * x * x * x));
}

/** exp(-2u) for four lanes of x. */
// @ts-ignore: decorator
@inline function vgeluExp(x: v128): v128 {
  // -2u = x * (-2k) * (1 + a x^2)
  return vexp(f32x4.mul(f32x4.mul(x, f32x4.splat(-2 * GELU_K)), madd(f32x4.mul(x, x), f32x4.splat(GELU_A), f32x4.splat(1))));
}

// @ts-ignore: decorator
@inline function vclamp(x: v128): v128 {
  return f32x4.pmin(f32x4.pmax(x, f32x4.splat(-GELU_CLAMP)), f32x4.splat(GELU_CLAMP)); // x first: NaN propagates
}

/**
 * GELU forward, tanh approximation (Hendrycks & Gimpel 2016): out [n] = 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))),
 * computed as x / (1 + exp(-2u)). f32x4, n&3 tail scalar. out may alias inp. Matches ReferenceBackend.geluForward.
 */
export function f32_gelu_fwd(out: usize, inp: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) { const x = ld4(inp, i); st4(out, i, f32x4.div(x, f32x4.add(one, vgeluExp(x)))); }
  for (; i < n; i++) { const x = ld(inp, i); st(out, i, x / (1 + geluExp(x))); }
}

/**
 * GELU backward, accumulating: dinp [n] += GELU'(inp) * dout, with e = exp(-2u), s = 1/(1+e), 1-s = e*s (no
 * cancellation near s = 1). f32x4, n&3 tail scalar. Matches ReferenceBackend.geluBackward.
 */
export function f32_gelu_bwd(dinp: usize, inp: usize, dout: usize, n: i32): void {
  const k2 = f32x4.splat(2 * GELU_K), a3 = f32x4.splat(3 * GELU_A), one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = vclamp(ld4(inp, i)), e = vgeluExp(x), s = f32x4.div(one, f32x4.add(one, e));
    // t = 2k (1 + 3a x^2) x s (1 - s),  1 - s = e s (formed as (x s)(e s): no overflow of x e)
    const t = f32x4.mul(f32x4.mul(k2, madd(f32x4.mul(x, x), a3, one)), f32x4.mul(f32x4.mul(x, s), f32x4.mul(e, s)));
    st4(dinp, i, madd(f32x4.add(s, t), ld4(dout, i), ld4(dinp, i)));
  }
  for (; i < n; i++) {
    const x = min(max(ld(inp, i), -GELU_CLAMP), GELU_CLAMP), e = geluExp(x), s: f32 = 1 / (1 + e);
    const grad: f32 = s + 2 * GELU_K * (1 + 3 * GELU_A * x * x) * (x * s) * (e * s);
    st(dinp, i, ld(dinp, i) + grad * ld(dout, i));
  }
}

// ---- GELU, exact (erf) form: GELU(x) = x * Phi(x), Phi the standard normal CDF ----------------------------
// This is what PyTorch's nn.GELU() (approximate='none') computes, so imported ViT weights (timm) need it.
// Phi(-|x|) = 0.5 * erfc(|x| / sqrt 2) through the Chebyshev fit of erfc in Numerical Recipes (Press et al.,
// 2nd ed., section 6.2, `erfcc`): erfc(z) = t * exp(-z^2 + P(t)), t = 1 / (1 + z/2), P of degree 9, fractional
// error below 1.2e-7 for every z >= 0 (1.04e-7 measured against the float64 reference). One formula for all z
// (no branches to select between lanes), and Phi(x) for x < 0 is that tail itself: no 1 + erf cancellation,
// so GELU keeps ~1e-7 RELATIVE accuracy on the negative side too (A&S 7.1.26's 1.5e-7 ABSOLUTE error in erf
// would be 100% relative at x = -5.5). For x >= 0, Phi = 1 - tail.
const ERF_S: f32 = 0.7071067811865476; // 1/sqrt(2)
const ERF_PHI: f32 = 0.3989422804014327; // 1/sqrt(2 pi), the normal density's constant
const NR0: f32 = -1.26551223, NR1: f32 = 1.00002368, NR2: f32 = 0.37409196, NR3: f32 = 0.09678418, NR4: f32 = -0.18628806;
const NR5: f32 = 0.27886807, NR6: f32 = -1.13520398, NR7: f32 = 1.48851587, NR8: f32 = -0.82215223, NR9: f32 = 0.17087277;

/** Phi(x) for four lanes: the erfc tail 0.5 erfc(|x|/sqrt 2), mirrored for x >= 0. NaN propagates. */
// @ts-ignore: decorator
@inline function vnormCdf(x: v128): v128 {
  const z = f32x4.mul(f32x4.abs(x), f32x4.splat(ERF_S));
  const t = f32x4.div(f32x4.splat(1), madd(z, f32x4.splat(0.5), f32x4.splat(1)));
  let p = f32x4.splat(NR9);
  p = madd(p, t, f32x4.splat(NR8)); p = madd(p, t, f32x4.splat(NR7)); p = madd(p, t, f32x4.splat(NR6));
  p = madd(p, t, f32x4.splat(NR5)); p = madd(p, t, f32x4.splat(NR4)); p = madd(p, t, f32x4.splat(NR3));
  p = madd(p, t, f32x4.splat(NR2)); p = madd(p, t, f32x4.splat(NR1)); p = madd(p, t, f32x4.splat(NR0));
  const tail = f32x4.mul(f32x4.mul(t, f32x4.splat(0.5)), vexp(f32x4.sub(p, f32x4.mul(z, z))));
  return v128.bitselect(f32x4.sub(f32x4.splat(1), tail), tail, f32x4.ge(x, f32x4.splat(0)));
}

/** Phi(x), scalar (the n&3 tails): the same formula with Mathf.exp. */
// @ts-ignore: decorator
@inline function normCdf(x: f32): f32 {
  const z = Mathf.abs(x) * ERF_S, t: f32 = 1 / (1 + 0.5 * z);
  const p = NR0 + t * (NR1 + t * (NR2 + t * (NR3 + t * (NR4 + t * (NR5 + t * (NR6 + t * (NR7 + t * (NR8 + t * NR9))))))));
  const tail: f32 = 0.5 * t * Mathf.exp(p - z * z);
  return x >= 0 ? 1 - tail : tail;
}

/**
 * GELU forward, exact form: out [n] = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), Phi as above. Measured relative
 * error (test/gelu-erf.test.ts): 2.2e-6 for x >= -5, 8.5e-6 below, where the f32 rounding of x^2/2 in exp's
 * argument outweighs the fit's 1.04e-7. f32x4, n&3 tail scalar. out may alias inp. Matches ReferenceBackend.geluErfForward.
 * x = +-1e30 gives x and -0; -inf gives NaN (inf * 0), as the tanh form does.
 */
export function f32_gelu_erf_fwd(out: usize, inp: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) { const x = ld4(inp, i); st4(out, i, f32x4.mul(x, vnormCdf(x))); }
  for (; i < n; i++) { const x = ld(inp, i); st(out, i, x * normCdf(x)); }
}

/**
 * GELU backward, exact form, accumulating: dinp [n] += (Phi(x) + x phi(x)) dout, phi(x) = exp(-x^2/2)/sqrt(2 pi)
 * (a second exp; it underflows to 0 for |x| > 13.2, so x phi stays finite up to |x| = 1e30 where x^2 = inf).
 * f32x4, n&3 tail scalar. Matches ReferenceBackend.geluErfBackward.
 */
export function f32_gelu_erf_bwd(dinp: usize, inp: usize, dout: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = ld4(inp, i);
    const pdf = f32x4.mul(f32x4.splat(ERF_PHI), vexp(f32x4.mul(f32x4.mul(x, x), f32x4.splat(-0.5))));
    st4(dinp, i, madd(madd(x, pdf, vnormCdf(x)), ld4(dout, i), ld4(dinp, i)));
  }
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
