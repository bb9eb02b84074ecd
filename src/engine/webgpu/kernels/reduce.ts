import { WG, reductions } from './common.ts';
import type { KernelSource } from './common.ts';

/**
 * Sum of squares, stage 1 of 2: workgroup g reduces the contiguous chunk [g*L, min((g+1)*L, n)) (threads
 * strided, then a tree) into scratch ws[g]. The partition depends only on n, so the result is the same
 * bits on every run.
 */
export const SUMSQ_PARTIAL: KernelSource = {
  name: 'sumsq_partial',
  params: 'x n L',
  code: /* wgsl */ `${reductions(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let lo = wid.x * p.L; let hi = min(lo + p.L, p.n);
  var s = 0.0;
  for (var i = lo + t; i < hi; i += ${WG}u) { let v = m[p.x + i]; s += v * v; }
  let r = reduce_sum(t, s);
  if (t == 0u) { ws[wid.x] = r; }
}`,
};

/** Stage 2: one workgroup sums the G partials in fixed order and writes the scalar to the arena at `o`. */
export const SUMSQ_FINAL: KernelSource = {
  name: 'sumsq_final',
  params: 'o G',
  code: /* wgsl */ `${reductions(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  var s = 0.0;
  for (var i = t; i < p.G; i += ${WG}u) { s += ws[i]; }
  let r = reduce_sum(t, s);
  if (t == 0u) { m[p.o] = r; }
}`,
};

/**
 * f32_bce_logits__wgsl, one workgroup: dlogits = gradScale * w * (sigmoid(x) - t) (0 where w = 0) and the
 * loss sum_i w_i (max(x,0) - x t + log(1 + exp(-|x|))) written to the arena at `o`.
 */
export const BCE_LOGITS: KernelSource = {
  name: 'bce_logits',
  params: 'o dl lg tg wt n gs:f',
  code: /* wgsl */ `${reductions(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  var s = 0.0;
  for (var i = t; i < p.n; i += ${WG}u) {
    let x = m[p.lg + i]; let y = m[p.tg + i]; let w = m[p.wt + i];
    var g = 0.0;
    if (w != 0.0) {
      s += w * (max(x, 0.0) - x * y + log(1.0 + exp(-abs(x))));
      g = p.gs * w * (1.0 / (1.0 + exp(-x)) - y);
    }
    m[p.dl + i] = g;
  }
  let r = reduce_sum(t, s);
  if (t == 0u) { m[p.o] = r; }
}`,
};
