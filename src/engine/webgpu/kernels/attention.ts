import { reductions } from './common.ts';
import type { KernelSource } from './common.ts';

/** Longest sequence the attention kernels hold in workgroup memory, and the widest head. */
export const ATT_MAX_T = 1024;
export const ATT_MAX_HD = 256;
const AW = 64;

const HEAD = /* wgsl */ `
const AW: u32 = ${AW}u;
var<workgroup> sc: array<f32, ${ATT_MAX_T}>;  // scores / probabilities / ds of one row or column
var<workgroup> mk: array<f32, ${ATT_MAX_T}>;  // the key mask of the sample
var<workgroup> hv: array<f32, ${ATT_MAX_HD}>; // q_i, dout_i or v_j of this head
var<workgroup> flag: u32;
${reductions(AW)}`;

/**
 * f32_attention_fwd__wgsl: masked multi-head attention over packed qkv [B,T,3d], the reference's
 * `attentionForward`. One 64-thread workgroup per (query i, sample b * head h): scores over keys (threads
 * over j, each a sequential dot over the head), max and sum by fixed-order tree reductions, probabilities
 * written to att [B,H,T,T], then out[i, head] = sum_j p_ij v_j with threads over the head's columns and j
 * in order. Masked keys get exactly 0; a masked query's att row and output are 0. Grid (T, B*H).
 */
export const ATTENTION_FWD: KernelSource = {
  name: 'attention_fwd',
  params: 'o att qkv mask B T d H',
  code: /* wgsl */ `${HEAD}
@compute @workgroup_size(${AW})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = wid.x; let bh = wid.y; let b = bh / p.H; let h = bh % p.H;
  let T = p.T; let d = p.d; let hd = d / p.H; let C3 = 3u * d;
  let arow = p.att + (bh * T + i) * T;
  let orow = p.o + (b * T + i) * d + h * hd;
  if (t == 0u) { flag = select(0u, 1u, m[p.mask + b * T + i] != 0.0); }
  if (workgroupUniformLoad(&flag) == 0u) {
    for (var j = t; j < T; j += AW) { m[arow + j] = 0.0; }
    for (var e = t; e < hd; e += AW) { m[orow + e] = 0.0; }
    return;
  }
  let q = p.qkv + (b * T + i) * C3 + h * hd;
  for (var e = t; e < hd; e += AW) { hv[e] = m[q + e]; }
  for (var j = t; j < T; j += AW) { mk[j] = m[p.mask + b * T + j]; }
  workgroupBarrier();
  let scale = 1.0 / sqrt(f32(hd));
  var mx = -3.0e38;
  for (var j = t; j < T; j += AW) {
    if (mk[j] != 0.0) {
      let k = p.qkv + (b * T + j) * C3 + d + h * hd;
      var dot = 0.0;
      for (var e = 0u; e < hd; e++) { dot += hv[e] * m[k + e]; }
      let s = dot * scale;
      sc[j] = s;
      mx = max(mx, s);
    }
  }
  let gmx = reduce_max(t, mx);
  var sum = 0.0;
  for (var j = t; j < T; j += AW) {
    var e = 0.0;
    if (mk[j] != 0.0) { e = exp(sc[j] - gmx); }
    sc[j] = e;
    sum += e;
  }
  let gsum = reduce_sum(t, sum);
  for (var j = t; j < T; j += AW) {
    let pj = sc[j] / gsum;
    sc[j] = pj;
    m[arow + j] = pj;
  }
  workgroupBarrier();
  for (var e = t; e < hd; e += AW) {
    var acc = 0.0;
    for (var j = 0u; j < T; j++) {
      if (mk[j] != 0.0) { acc += sc[j] * m[p.qkv + (b * T + j) * C3 + 2u * d + h * hd + e]; }
    }
    m[orow + e] = acc;
  }
}`,
};

/**
 * f32_attention_bwd_q__wgsl, pass 1 of the backward (per query row, as the forward): dp_ij = dout_i . v_j,
 * delta_i = sum_j p_ij dp_ij, ds_ij = p_ij (dp_ij - delta_i) / sqrt(hd), dq_i += sum_j ds_ij k_j. Writes
 * delta_i to scratch ws[bh*T + i] for pass 2. Masked query rows are skipped (their output was constant).
 */
export const ATTENTION_BWD_Q: KernelSource = {
  name: 'attention_bwd_q',
  params: 'dqkv dout qkv att mask B T d H',
  code: /* wgsl */ `${HEAD}
@compute @workgroup_size(${AW})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = wid.x; let bh = wid.y; let b = bh / p.H; let h = bh % p.H;
  let T = p.T; let d = p.d; let hd = d / p.H; let C3 = 3u * d;
  if (t == 0u) { flag = select(0u, 1u, m[p.mask + b * T + i] != 0.0); }
  if (workgroupUniformLoad(&flag) == 0u) { return; }
  let arow = p.att + (bh * T + i) * T;
  let go = p.dout + (b * T + i) * d + h * hd;
  for (var e = t; e < hd; e += AW) { hv[e] = m[go + e]; }
  for (var j = t; j < T; j += AW) { mk[j] = m[p.mask + b * T + j]; }
  workgroupBarrier();
  var dot = 0.0;
  for (var j = t; j < T; j += AW) {
    var dp = 0.0;
    if (mk[j] != 0.0) {
      let v = p.qkv + (b * T + j) * C3 + 2u * d + h * hd;
      for (var e = 0u; e < hd; e++) { dp += hv[e] * m[v + e]; }
      dot += m[arow + j] * dp;
    }
    sc[j] = dp;
  }
  let delta = reduce_sum(t, dot);
  let scale = 1.0 / sqrt(f32(hd));
  for (var j = t; j < T; j += AW) {
    var ds = 0.0;
    if (mk[j] != 0.0) { ds = m[arow + j] * (sc[j] - delta) * scale; }
    sc[j] = ds;
  }
  workgroupBarrier();
  let dq = p.dqkv + (b * T + i) * C3 + h * hd;
  for (var e = t; e < hd; e += AW) {
    var acc = 0.0;
    for (var j = 0u; j < T; j++) {
      if (mk[j] != 0.0) { acc += sc[j] * m[p.qkv + (b * T + j) * C3 + d + h * hd + e]; }
    }
    m[dq + e] = m[dq + e] + acc;
  }
  if (t == 0u) { ws[bh * T + i] = delta; }
}`,
};

/**
 * f32_attention_bwd_kv__wgsl, pass 2 (per key column j, so no two workgroups write the same row and no
 * atomics are needed): ds_ij is recomputed from dout_i . v_j and pass 1's delta_i (FlashAttention-2's
 * split), then dk_j += sum_i ds_ij q_i and dv_j += sum_i p_ij dout_i over unmasked queries i in order.
 */
export const ATTENTION_BWD_KV: KernelSource = {
  name: 'attention_bwd_kv',
  params: 'dqkv dout qkv att mask B T d H',
  code: /* wgsl */ `${HEAD}
var<workgroup> pc: array<f32, ${ATT_MAX_T}>;
@compute @workgroup_size(${AW})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let j = wid.x; let bh = wid.y; let b = bh / p.H; let h = bh % p.H;
  let T = p.T; let d = p.d; let hd = d / p.H; let C3 = 3u * d;
  if (t == 0u) { flag = select(0u, 1u, m[p.mask + b * T + j] != 0.0); }
  if (workgroupUniformLoad(&flag) == 0u) { return; }
  let v = p.qkv + (b * T + j) * C3 + 2u * d + h * hd;
  for (var e = t; e < hd; e += AW) { hv[e] = m[v + e]; }
  for (var i = t; i < T; i += AW) { mk[i] = m[p.mask + b * T + i]; }
  workgroupBarrier();
  let scale = 1.0 / sqrt(f32(hd));
  for (var i = t; i < T; i += AW) {
    var ds = 0.0; var pij = 0.0;
    if (mk[i] != 0.0) {
      let go = p.dout + (b * T + i) * d + h * hd;
      var dp = 0.0;
      for (var e = 0u; e < hd; e++) { dp += m[go + e] * hv[e]; }
      pij = m[p.att + (bh * T + i) * T + j];
      ds = pij * (dp - ws[bh * T + i]) * scale;
    }
    sc[i] = ds;
    pc[i] = pij;
  }
  workgroupBarrier();
  let dk = p.dqkv + (b * T + j) * C3 + d + h * hd;
  let dv = dk + d;
  for (var e = t; e < hd; e += AW) {
    var ak = 0.0; var av = 0.0;
    for (var i = 0u; i < T; i++) {
      if (mk[i] != 0.0) {
        let row = (b * T + i);
        ak += sc[i] * m[p.qkv + row * C3 + h * hd + e];
        av += pc[i] * m[p.dout + row * d + h * hd + e];
      }
    }
    m[dk + e] = m[dk + e] + ak;
    m[dv + e] = m[dv + e] + av;
  }
}`,
};
