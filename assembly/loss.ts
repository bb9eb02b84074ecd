import { ld, st } from './ptr';

/**
 * Weighted binary cross-entropy with logits over n entries (n = batch * 14 labels: tiny next to every other
 * kernel, so it stays scalar and computes in f64 for an exact-as-possible loss):
 *   stores sum_i w_i * (max(x,0) - x t + log1p(exp(-|x|)))   (the stable form of PyTorch's BCEWithLogitsLoss)
 *   writes dlogits_i = gradScale * w_i * (sigmoid(x_i) - t_i), and exactly 0 where w_i == 0
 * Entries with w == 0 are skipped before their target is read, so NaN targets (blank labels) cannot leak into
 * the loss or the gradient. Stable for any finite |x|: exp only ever sees -|x|, and sigmoid(x) is formed
 * from e = exp(-|x|) as 1/(1+e) or e/(1+e). The f64 loss goes to `out`, a scalar slot (two floats, 8-byte
 * aligned). Matches ReferenceBackend.bceLogitsTo.
 */
export function f32_bce_logits(out: usize, dlogits: usize, logits: usize, targets: usize, weights: usize, n: i32, gradScale: f32): void {
  let loss: f64 = 0;
  for (let i = 0; i < n; i++) {
    const w = ld(weights, i);
    if (w == 0) { st(dlogits, i, 0); continue; }
    const x = <f64>ld(logits, i), t = <f64>ld(targets, i);
    const e = Math.exp(-Math.abs(x));
    loss += <f64>w * (max(x, 0) - x * t + Math.log1p(e));
    const sig: f64 = x >= 0 ? 1 / (1 + e) : e / (1 + e);
    st(dlogits, i, <f32>(<f64>gradScale * <f64>w * (sig - t)));
  }
  store<f64>(out, loss);
}
