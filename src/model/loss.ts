/**
 * The loss side of the head: label targets and weights under the uncertain-label policy (masked binary
 * cross-entropy runs as the bceLogitsTo kernel), and the head's probabilities.
 */
import type { FloatArray } from '../engine/types.ts';
import { NUM_LABELS } from '../engine/batch.ts';
import type { UncertainPolicy } from './config.ts';

/**
 * Targets and 0/1 weights of label entries: 1 and 0 (and soft labels in between) are targets; -1
 * (uncertain) follows the policy; NaN (blank) is never a target. Returns the number of observed entries.
 */
export function labelTargets(t: FloatArray, w: FloatArray, labels: ArrayLike<number>, n: number, policy: UncertainPolicy): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    let target = 0, weight = 0;
    if (Number.isNaN(v)) weight = 0;
    else if (v === -1) {
      if (policy === 'ones') { target = 1; weight = 1; } else if (policy === 'zeros') { target = 0; weight = 1; }
    } else if (v >= 0 && v <= 1) { target = v; weight = 1; } else {
      throw new Error(`batch: label ${v} at entry ${i} is not 1, 0, -1 (uncertain) or NaN (blank)`);
    }
    t[i] = target;
    w[i] = weight;
    count += weight;
  }
  return count;
}

/** Observed label entries of `B` samples [B,14] under a policy. */
export function observedLabels(labels: ArrayLike<number>, B: number, policy: UncertainPolicy): number {
  let count = 0;
  for (let i = 0; i < B * NUM_LABELS; i++) {
    const v = labels[i];
    if (Number.isNaN(v)) continue;
    if (v === -1) { if (policy !== 'ignore') count++; } else count++;
  }
  return count;
}

/**
 * The head's probabilities from its logits: 1 / (1 + exp(-x)) in float64, stored as float32. The one sigmoid
 * of evaluation and prediction (the trainer's replicas and the predictor both call it, so their numbers agree).
 */
export function sigmoidProbabilities(logits: ArrayLike<number>): Float32Array {
  const probs = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) probs[i] = 1 / (1 + Math.exp(-logits[i]));
  return probs;
}
