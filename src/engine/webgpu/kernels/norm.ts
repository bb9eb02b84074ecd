import { ROW_ID, WG, reductions } from './common.ts';
import type { KernelSource } from './common.ts';

/**
 * f32_layernorm_fwd__wgsl: one 256-thread workgroup per row of inp [N,C]; mean, then the biased variance
 * of (x - mean) (two passes, as the reference), eps 1e-5; mean/rstd [N] saved. Rows on a 2-D grid.
 */
export const LAYERNORM_FWD: KernelSource = {
  name: 'layernorm_fwd',
  params: 'o mean rstd inp w b N C',
  code: /* wgsl */ `${reductions(WG)}
@compute @workgroup_size(${WG})
fn main(${ROW_ID}) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.N) { return; }
  let C = p.C; let x = p.inp + row * C;
  var s = 0.0;
  for (var c = t; c < C; c += ${WG}u) { s += m[x + c]; }
  let mu = reduce_sum(t, s) / f32(C);
  var v = 0.0;
  for (var c = t; c < C; c += ${WG}u) { let z = m[x + c] - mu; v += z * z; }
  let r = 1.0 / sqrt(reduce_sum(t, v) / f32(C) + 1e-5);
  for (var c = t; c < C; c += ${WG}u) { m[p.o + row * C + c] = (m[x + c] - mu) * r * m[p.w + c] + m[p.b + c]; }
  if (t == 0u) { m[p.mean + row] = mu; m[p.rstd + row] = r; }
}`,
};

/** LayerNorm backward, input part: per row, dinp += (w*g - mean(w*g) - xhat * mean(w*g*xhat)) * rstd. */
export const LAYERNORM_BWD_X: KernelSource = {
  name: 'layernorm_bwd_x',
  params: 'dinp dout inp w mean rstd N C',
  code: /* wgsl */ `${reductions(WG)}
@compute @workgroup_size(${WG})
fn main(${ROW_ID}) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.N) { return; }
  let C = p.C; let x = p.inp + row * C; let g = p.dout + row * C;
  let mu = m[p.mean + row]; let r = m[p.rstd + row];
  var s1 = 0.0; var s2 = 0.0;
  for (var c = t; c < C; c += ${WG}u) {
    let xhat = (m[x + c] - mu) * r; let dn = m[p.w + c] * m[g + c];
    s1 += dn; s2 += dn * xhat;
  }
  let dnMean = reduce_sum(t, s1) / f32(C);
  let dnXhat = reduce_sum(t, s2) / f32(C);
  for (var c = t; c < C; c += ${WG}u) {
    let xhat = (m[x + c] - mu) * r; let dn = m[p.w + c] * m[g + c];
    let o = p.dinp + row * C + c;
    m[o] = m[o] + (dn - dnMean - xhat * dnXhat) * r;
  }
}`,
};

/**
 * LayerNorm backward, parameter part: one thread per column c sums over rows n in order
 * (dbias += g, dweight += g * xhat): deterministic without atomics.
 */
export const LAYERNORM_BWD_W: KernelSource = {
  name: 'layernorm_bwd_w',
  params: 'dw db dout inp mean rstd N C',
  code: /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var sb = 0.0; var sw = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let g = m[p.dout + n * p.C + c];
    sb += g;
    sw += g * (m[p.inp + n * p.C + c] - m[p.mean + n]) * m[p.rstd + n];
  }
  m[p.db + c] = m[p.db + c] + sb;
  m[p.dw + c] = m[p.dw + c] + sw;
}`,
};
