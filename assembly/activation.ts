import { ld, st, ld4, st4 } from './ptr';
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
 * error (test/engine/gelu-erf.test.ts): 2.2e-6 for x >= -5, 8.5e-6 below, where the f32 rounding of x^2/2 in exp's
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

