/**
 * GELU's lane math, shared by the elementwise kernels (activation.ts) and the GEMM epilogue (gemm.ts), so a
 * fused epilogue computes exactly the bits of the separate pass. Not exported from index.ts (v128 values
 * cannot cross into JavaScript).
 */
import { vexp } from './ptr';
import { kat, madd } from './simd';

export const GELU_K: f32 = 0.7978845608028654; // sqrt(2/pi)
export const GELU_A: f32 = 0.044715;
/** The backward clamps x to +-10: there 2|u| = 87.3, so exp(-2u) stays finite (no inf * 0 = NaN in the
 * derivative) while GELU' is already 1 (x = 10) or ~1e-36 (x = -10) in f32. NaN still propagates. The forward
 * needs no clamp: exp saturates to +inf or 0 and x / (1 + exp(-2u)) is then -0 or x. */
export const GELU_CLAMP: f32 = 10;

// GELU through the logistic function: 0.5 * (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)), so
//   GELU(x) = x / (1 + exp(-2u)),  u = sqrt(2/pi) * (x + 0.044715 x^3),
// and, with s = sigmoid(2u) and 1 - tanh(u)^2 = 4 s (1 - s),
//   GELU'(x) = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
// This needs one vexp (Cephes-style, ptr.ts) and one division per 4 lanes and has no cancellation for
// large |x| (1 + tanh(u) is never formed). Measured against the float64 reference (test/engine/op-table-wasm.test.ts,
// 262144 points on [-10, 10], both builds): max abs error 5.2e-7 forward (that is f32 rounding: half an ulp
// of 10 is 4.8e-7) and 2.2e-7 backward; |x| = 100 and 1e30 give the exact limits (x or -0; 1 or 0).

/** exp(-2u) for the n&3 tail (same formula as vgeluExp, Mathf.exp). */
// @ts-ignore: decorator
@inline export function geluExp(x: f32): f32 {
  return Mathf.exp(-2 * GELU_K * (x + GELU_A * x * x * x));
}

/** exp(-2u) for four lanes of x. */
// The constants of the lane math below, read with kat (simd.ts: one instruction instead of three per use).
const G_M2K = 0, G_A = 1, G_ONE = 2, G_MCLAMP = 3, G_CLAMP = 4, G_2K = 5, G_3A = 6, G_ERF_S = 7, G_HALF = 8;
const G_ZERO = 9, G_PHI = 10, G_MHALF = 11, G_NR = 12; // G_NR + i: NRi
const GK = memory.data<f32>([-2 * GELU_K, GELU_A, 1, -GELU_CLAMP, GELU_CLAMP, 2 * GELU_K, 3 * GELU_A,
  0.7071067811865476, 0.5, 0, 0.3989422804014327, -0.5,
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277]);

// @ts-ignore: decorator
@inline function vgeluExp(x: v128): v128 {
  // -2u = x * (-2k) * (1 + a x^2)
  return vexp(f32x4.mul(f32x4.mul(x, kat(GK, G_M2K)), madd(f32x4.mul(x, x), kat(GK, G_A), kat(GK, G_ONE))));
}

// @ts-ignore: decorator
@inline function vclamp(x: v128): v128 {
  return f32x4.pmin(f32x4.pmax(x, kat(GK, G_MCLAMP)), kat(GK, G_CLAMP)); // x first: NaN propagates
}

/** GELU, tanh form, of four lanes: x / (1 + exp(-2u)). Shared by f32_gelu_fwd and the GEMM epilogue (gemm.ts). */
// @ts-ignore: decorator
@inline export function vgeluTanh(x: v128): v128 {
  return f32x4.div(x, f32x4.add(kat(GK, G_ONE), vgeluExp(x)));
}

/**
 * GELU'(x), tanh form, of four lanes, with e = exp(-2u), s = 1/(1+e), 1-s = e*s (no cancellation near s = 1);
 * x clamped to +-10 (GELU_CLAMP). Shared by f32_gelu_bwd and the GEMM epilogue (gemm.ts).
 */
// @ts-ignore: decorator
@inline export function vgeluTanhGrad(xin: v128): v128 {
  const k2 = kat(GK, G_2K), a3 = kat(GK, G_3A), one = kat(GK, G_ONE);
  const x = vclamp(xin), e = vgeluExp(x), s = f32x4.div(one, f32x4.add(one, e));
  // t = 2k (1 + 3a x^2) x s (1 - s),  1 - s = e s (formed as (x s)(e s): no overflow of x e)
  const t = f32x4.mul(f32x4.mul(k2, madd(f32x4.mul(x, x), a3, one)), f32x4.mul(f32x4.mul(x, s), f32x4.mul(e, s)));
  return f32x4.add(s, t);
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
export const ERF_PHI: f32 = 0.3989422804014327; // 1/sqrt(2 pi), the normal density's constant
const NR0: f32 = -1.26551223, NR1: f32 = 1.00002368, NR2: f32 = 0.37409196, NR3: f32 = 0.09678418, NR4: f32 = -0.18628806;
const NR5: f32 = 0.27886807, NR6: f32 = -1.13520398, NR7: f32 = 1.48851587, NR8: f32 = -0.82215223, NR9: f32 = 0.17087277;

/** Phi(x) for four lanes: the erfc tail 0.5 erfc(|x|/sqrt 2), mirrored for x >= 0. NaN propagates. */
// @ts-ignore: decorator
@inline function vnormCdf(x: v128): v128 {
  const z = f32x4.mul(f32x4.abs(x), kat(GK, G_ERF_S));
  const t = f32x4.div(kat(GK, G_ONE), madd(z, kat(GK, G_HALF), kat(GK, G_ONE)));
  let p = kat(GK, G_NR + 9);
  p = madd(p, t, kat(GK, G_NR + 8)); p = madd(p, t, kat(GK, G_NR + 7)); p = madd(p, t, kat(GK, G_NR + 6));
  p = madd(p, t, kat(GK, G_NR + 5)); p = madd(p, t, kat(GK, G_NR + 4)); p = madd(p, t, kat(GK, G_NR + 3));
  p = madd(p, t, kat(GK, G_NR + 2)); p = madd(p, t, kat(GK, G_NR + 1)); p = madd(p, t, kat(GK, G_NR + 0));
  const tail = f32x4.mul(f32x4.mul(t, kat(GK, G_HALF)), vexp(f32x4.sub(p, f32x4.mul(z, z))));
  return v128.bitselect(f32x4.sub(kat(GK, G_ONE), tail), tail, f32x4.ge(x, kat(GK, G_ZERO)));
}

/** Phi(x), scalar (the n&3 tails): the same formula with Mathf.exp. */
// @ts-ignore: decorator
@inline export function normCdf(x: f32): f32 {
  const z = Mathf.abs(x) * ERF_S, t: f32 = 1 / (1 + 0.5 * z);
  const p = NR0 + t * (NR1 + t * (NR2 + t * (NR3 + t * (NR4 + t * (NR5 + t * (NR6 + t * (NR7 + t * (NR8 + t * NR9))))))));
  const tail: f32 = 0.5 * t * Mathf.exp(p - z * z);
  return x >= 0 ? 1 - tail : tail;
}

/** GELU, exact form, of four lanes: x Phi(x). Shared by f32_gelu_erf_fwd and the GEMM epilogue (gemm.ts). */
// @ts-ignore: decorator
@inline export function vgeluErf(x: v128): v128 {
  return f32x4.mul(x, vnormCdf(x));
}

/** GELU'(x), exact form, of four lanes: Phi(x) + x phi(x). Shared by f32_gelu_erf_bwd and the GEMM epilogue. */
// @ts-ignore: decorator
@inline export function vgeluErfGrad(x: v128): v128 {
  const pdf = f32x4.mul(kat(GK, G_PHI), vexp(f32x4.mul(f32x4.mul(x, x), kat(GK, G_MHALF))));
  return madd(x, pdf, vnormCdf(x));
}
