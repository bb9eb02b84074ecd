import { GRID, WG } from './common.ts';
import type { KernelSource } from './common.ts';

// tanh of a clamped argument: |u| > 10 is +-1 in f32 anyway, and some drivers' tanh overflows beyond.
const GELU_HEAD = /* wgsl */ `
const GK: f32 = 0.7978845608028654; // sqrt(2/pi)
fn th(u: f32) -> f32 { return tanh(clamp(u, -10.0, 10.0)); }`;

// Exact GELU: Phi through the erfc Chebyshev fit of Numerical Recipes (section 6.2, fractional error < 1.2e-7),
// the same formula as assembly/gelu.ts (see there for why this one). exp's argument is clamped at -100
// (0 in f32 either way) so x = +-1e30, where x * x is inf, cannot reach a driver's exp(-inf).
const GELU_ERF_HEAD = /* wgsl */ `
fn norm_cdf(x: f32) -> f32 {
  let z = abs(x) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.5 * z);
  let q = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807
    + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let tail = 0.5 * t * exp(max(q - z * z, -100.0));
  return select(tail, 1.0 - tail, x >= 0.0);
}`;

/**
 * GELU and GELU' of one value in both forms: tanh, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); erf,
 * x Phi(x) with GELU' = Phi(x) + x phi(x). The one WGSL statement of each formula, used by the four
 * elementwise kernels below and by the GEMM epilogue (gemm.ts).
 */
export const GELU_FNS = /* wgsl */ `${GELU_HEAD}
${GELU_ERF_HEAD}
fn gelu_tanh(x: f32) -> f32 { return 0.5 * x * (1.0 + th(GK * (x + 0.044715 * x * x * x))); }
fn gelu_tanh_grad(x: f32) -> f32 {
  let t = th(GK * (x + 0.044715 * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GK * (1.0 + 3.0 * 0.044715 * x * x);
}
fn gelu_erf(x: f32) -> f32 { return x * norm_cdf(x); }
fn gelu_erf_grad(x: f32) -> f32 { return norm_cdf(x) + x * (0.3989422804014327 * exp(max(-0.5 * x * x, -100.0))); }`;

/** An elementwise forward kernel: out = f(x), grid-stride over n. */
function geluForwardKernel(name: string, f: string): KernelSource {
  return {
    name, params: 'o inp n',
    code: /* wgsl */ `${GELU_FNS}
@compute @workgroup_size(${WG})
fn main(${GRID}) {
  for (var i = gid.x; i < p.n; i += nwg.x * ${WG}u) { m[p.o + i] = ${f}(m[p.inp + i]); }
}`,
  };
}

/** An elementwise backward kernel: dinp += f'(x) * dout, grid-stride over n. */
function geluBackwardKernel(name: string, grad: string): KernelSource {
  return {
    name, params: 'dinp inp dout n',
    code: /* wgsl */ `${GELU_FNS}
@compute @workgroup_size(${WG})
fn main(${GRID}) {
  for (var i = gid.x; i < p.n; i += nwg.x * ${WG}u) { m[p.dinp + i] = m[p.dinp + i] + ${grad}(m[p.inp + i]) * m[p.dout + i]; }
}`,
  };
}

/** f32_gelu_fwd__wgsl: out = GELU(x), tanh form. */
export const GELU_FWD = geluForwardKernel('gelu_fwd', 'gelu_tanh');
/** f32_gelu_bwd__wgsl: dinp += GELU'(x) * dout, tanh form. */
export const GELU_BWD = geluBackwardKernel('gelu_bwd', 'gelu_tanh_grad');
/** f32_gelu_erf_fwd__wgsl: out = x Phi(x). */
export const GELU_ERF_FWD = geluForwardKernel('gelu_erf_fwd', 'gelu_erf');
/** f32_gelu_erf_bwd__wgsl: dinp += (Phi(x) + x phi(x)) * dout. */
export const GELU_ERF_BWD = geluBackwardKernel('gelu_erf_bwd', 'gelu_erf_grad');


