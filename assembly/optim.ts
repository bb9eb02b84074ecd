import { ld, st, ld4, st4 } from './ptr';
import { madd } from './simd';

/**
 * AdamW step (decoupled weight decay, Loshchilov & Hutter 2019) over n parameters, in place:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr * (m/bc1 / (sqrt(v/bc2) + eps) + wd p)
 * with bc1 = 1 - b1^t, bc2 = 1 - b2^t computed by the caller (f64 pow, then rounded). p, g, m, v are [n].
 * The lanes compute it as PyTorch does, m * (1/bc1) / (sqrt(v) * (1/sqrt(bc2)) + eps): one sqrt and one
 * division per 4 lanes instead of three divisions (they bound the kernel; it moves 16 B in and 12 B out per
 * parameter). Same value up to f32 rounding (relative ~1e-7). n&3 tail scalar, same form.
 * Matches ReferenceBackend.adamw.
 */
export function f32_adamw(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32): void {
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vc1 = f32x4.splat(1 - b1), vc2 = f32x4.splat(1 - b2);
  const ibc1: f32 = 1 / bc1, irsb2: f32 = 1 / Mathf.sqrt(bc2);
  const vibc1 = f32x4.splat(ibc1), virsb2 = f32x4.splat(irsb2), veps = f32x4.splat(eps), vwd = f32x4.splat(wd);
  const vnlr = f32x4.splat(-lr);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const gi = ld4(g, i);
    const mi = madd(vb1, ld4(m, i), f32x4.mul(vc1, gi));
    const vi = madd(vb2, ld4(v, i), f32x4.mul(f32x4.mul(vc2, gi), gi));
    st4(m, i, mi);
    st4(v, i, vi);
    const pi = ld4(p, i);
    const upd = madd(vwd, pi, f32x4.div(f32x4.mul(mi, vibc1), madd(f32x4.sqrt(vi), virsb2, veps)));
    st4(p, i, madd(vnlr, upd, pi));
  }
  for (; i < n; i++) {
    const gi = ld(g, i);
    const mi = b1 * ld(m, i) + (1 - b1) * gi;
    const vi = b2 * ld(v, i) + (1 - b2) * gi * gi;
    st(m, i, mi);
    st(v, i, vi);
    const pi = ld(p, i);
    st(p, i, pi - lr * (mi * ibc1 / (Mathf.sqrt(vi) * irsb2 + eps) + wd * pi));
  }
}
