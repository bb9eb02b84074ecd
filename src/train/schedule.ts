/**
 * Learning rate at optimizer step t (0-based) of `total`: linear warmup over `warmup` steps from lr/warmup
 * to lr, then cosine decay to minLr at the last step (Loshchilov & Hutter, SGDR, without restarts).
 */
export function learningRate(t: number, total: number, lr: number, warmup: number, minLr: number): number {
  if (t < warmup) return (lr * (t + 1)) / warmup;
  const span = Math.max(1, total - warmup - 1);
  const progress = Math.min(1, (t - warmup) / span);
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
