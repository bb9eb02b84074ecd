import { GRID, ROW_ID, WG, reductions } from './common.ts';
import type { KernelSource } from './common.ts';

// tanh of a clamped argument: |u| > 10 is +-1 in f32 anyway, and some drivers' tanh overflows beyond.
export const GELU_HEAD = /* wgsl */ `
const GK: f32 = 0.7978845608028654; // sqrt(2/pi)
fn th(u: f32) -> f32 { return tanh(clamp(u, -10.0, 10.0)); }`;

/** f32_gelu_fwd__wgsl: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), grid-stride over n. */
export const GELU_FWD: KernelSource = {
  name: 'gelu_fwd',
  params: 'o inp n',
  code: /* wgsl */ `${GELU_HEAD}
@compute @workgroup_size(${WG})
fn main(${GRID}) {
  for (var i = gid.x; i < p.n; i += nwg.x * ${WG}u) {
    let x = m[p.inp + i];
    m[p.o + i] = 0.5 * x * (1.0 + th(GK * (x + 0.044715 * x * x * x)));
  }
}`,
};

/** f32_gelu_bwd__wgsl: dinp += GELU'(x) * dout. */
export const GELU_BWD: KernelSource = {
  name: 'gelu_bwd',
  params: 'dinp inp dout n',
  code: /* wgsl */ `${GELU_HEAD}
@compute @workgroup_size(${WG})
fn main(${GRID}) {
  for (var i = gid.x; i < p.n; i += nwg.x * ${WG}u) {
    let x = m[p.inp + i];
    let t = th(GK * (x + 0.044715 * x * x * x));
    let grad = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GK * (1.0 + 3.0 * 0.044715 * x * x);
    m[p.dinp + i] = m[p.dinp + i] + grad * m[p.dout + i];
  }
}`,
};

// Exact GELU: Phi through the erfc Chebyshev fit of Numerical Recipes (section 6.2, fractional error < 1.2e-7),
// the same formula as assembly/activation.ts (see there for why this one). exp's argument is clamped at -100
// (0 in f32 either way) so x = +-1e30, where x * x is inf, cannot reach a driver's exp(-inf).
export const GELU_ERF_HEAD = /* wgsl */ `
fn norm_cdf(x: f32) -> f32 {
  let z = abs(x) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.5 * z);
  let q = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807
    + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let tail = 0.5 * t * exp(max(q - z * z, -100.0));
  return select(tail, 1.0 - tail, x >= 0.0);
}`;

/**
 * GELU and GELU' of one value in both forms, for the GEMM epilogue (gemm.ts): the formulas of the four
 * elementwise kernels above, as functions.
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

/** f32_gelu_erf_fwd__wgsl: out = x Phi(x), grid-stride over n. */
export const GELU_ERF_FWD: KernelSource = {
  name: 'gelu_erf_fwd',
  params: 'o inp n',
  code: /* wgsl */ `${GELU_ERF_HEAD}
@compute @workgroup_size(${WG})
fn main(${GRID}) {
  for (var i = gid.x; i < p.n; i += nwg.x * ${WG}u) {
    let x = m[p.inp + i];
    m[p.o + i] = x * norm_cdf(x);
  }
}`,
};

/** f32_gelu_erf_bwd__wgsl: dinp += (Phi(x) + x phi(x)) * dout. */
export const GELU_ERF_BWD: KernelSource = {
  name: 'gelu_erf_bwd',
  params: 'dinp inp dout n',
  code: /* wgsl */ `${GELU_ERF_HEAD}
@compute @workgroup_size(${WG})
fn main(${GRID}) {
  for (var i = gid.x; i < p.n; i += nwg.x * ${WG}u) {
    let x = m[p.inp + i];
    let pdf = 0.3989422804014327 * exp(max(-0.5 * x * x, -100.0));
    m[p.dinp + i] = m[p.dinp + i] + (norm_cdf(x) + x * pdf) * m[p.dout + i];
  }
}`,
};

/** f32_softmax_fwd__wgsl: row softmax of inp [N,C], one 256-thread workgroup per row. */
export const SOFTMAX_FWD: KernelSource = {
  name: 'softmax_fwd',
  params: 'o inp N C',
  code: /* wgsl */ `${reductions(WG)}
@compute @workgroup_size(${WG})
fn main(${ROW_ID}) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.N) { return; }
  let x = p.inp + row * p.C; let o = p.o + row * p.C;
  var mx = -3.0e38;
  for (var c = t; c < p.C; c += ${WG}u) { mx = max(mx, m[x + c]); }
  let gmx = reduce_max(t, mx);
  var s = 0.0;
  for (var c = t; c < p.C; c += ${WG}u) { let e = exp(m[x + c] - gmx); m[o + c] = e; s += e; }
  let gs = reduce_sum(t, s);
  for (var c = t; c < p.C; c += ${WG}u) { m[o + c] = m[o + c] / gs; }
}`,
};

/** f32_softmax_bwd__wgsl: dinp += out * (dout - sum(dout * out)) per row. */
export const SOFTMAX_BWD: KernelSource = {
  name: 'softmax_bwd',
  params: 'dinp dout o N C',
  code: /* wgsl */ `${reductions(WG)}
@compute @workgroup_size(${WG})
fn main(${ROW_ID}) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var s = 0.0;
  for (var c = t; c < p.C; c += ${WG}u) { s += m[p.dout + base + c] * m[p.o + base + c]; }
  let dot = reduce_sum(t, s);
  for (var c = t; c < p.C; c += ${WG}u) {
    let i = p.dinp + base + c;
    m[i] = m[i] + m[p.o + base + c] * (m[p.dout + base + c] - dot);
  }
}`,
};
