import { ld, st } from './ptr';

/** AdamW step (decoupled decay); bc1 = 1 - b1^t, bc2 = 1 - b2^t from the caller. Matches ReferenceBackend.adamw. */
export function f32_adamw(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32): void {
  for (let i = 0; i < n; i++) {
    const gi = ld(g, i);
    const mi = b1 * ld(m, i) + (1 - b1) * gi;
    const vi = b2 * ld(v, i) + (1 - b2) * gi * gi;
    st(m, i, mi);
    st(v, i, vi);
    const pi = ld(p, i);
    st(p, i, pi - lr * (mi / bc1 / (Mathf.sqrt(vi / bc2) + eps) + wd * pi));
  }
}
