import { ld, st } from './ptr';

/**
 * Weighted BCE with logits; returns sum w*loss (f64), writes dlogits = gradScale*w*(sigmoid(x)-t) (0 where w=0).
 * loss = max(x,0) - x*t + log1p(exp(-|x|)), the stable form PyTorch's BCEWithLogitsLoss uses.
 */
export function f32_bce_logits(dlogits: usize, logits: usize, targets: usize, weights: usize, n: i32, gradScale: f32): f64 {
  let loss: f64 = 0;
  for (let i = 0; i < n; i++) {
    const w = ld(weights, i);
    if (w == 0) { st(dlogits, i, 0); continue; }
    const x = <f64>ld(logits, i), t = <f64>ld(targets, i);
    loss += <f64>w * (max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x))));
    st(dlogits, i, gradScale * w * <f32>(1 / (1 + Math.exp(-x)) - t));
  }
  return loss;
}
