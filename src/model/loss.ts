/**
 * The loss side of the head: label targets and weights under the uncertain-label policy (masked binary
 * cross-entropy runs as the bceLogitsTo kernel), and the head's probabilities.
 */
import type { FloatArray } from '../engine/types.ts';
import { NUM_LABELS } from '../engine/batch.ts';
import type { UncertainPolicy } from './config.ts';

/**
 * The one label rule, under the uncertain-label policy: a label value's loss weight. 1 and 0 (and soft labels
 * in between) are observed; -1 (uncertain) is observed unless the policy ignores it; NaN (blank) never is.
 * Anything else is an error. Every count of observed labels (the model's loss, the trainer's step normalizer)
 * goes through it.
 */
export function labelWeight(v: number, policy: UncertainPolicy): 0 | 1 {
  if (Number.isNaN(v)) return 0;
  if (v === -1) return policy === 'ignore' ? 0 : 1;
  if (v >= 0 && v <= 1) return 1;
  throw new Error(`label ${v} is not 1, 0, a soft label in between, -1 (uncertain) or NaN (blank)`);
}

/** A label value's loss target under the policy (meaningful where labelWeight is 1): -1 is 1 for `ones`, else 0. */
export function labelTarget(v: number, policy: UncertainPolicy): number {
  if (v === -1) return policy === 'ones' ? 1 : 0;
  return Number.isNaN(v) ? 0 : v;
}

/**
 * Targets and 0/1 weights of label entries by the label rule (labelWeight, labelTarget). Returns the number
 * of observed entries.
 */
export function labelTargets(t: FloatArray, w: FloatArray, labels: ArrayLike<number>, n: number, policy: UncertainPolicy): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    let weight: number;
    try {
      weight = labelWeight(v, policy);
    } catch (e) {
      throw new Error(`batch: entry ${i}: ${(e as Error).message}`);
    }
    t[i] = weight ? labelTarget(v, policy) : 0;
    w[i] = weight;
    count += weight;
  }
  return count;
}

/** Observed label entries of `B` samples [B,14] under a policy (the label rule). */
export function observedLabels(labels: ArrayLike<number>, B: number, policy: UncertainPolicy): number {
  let count = 0;
  for (let i = 0; i < B * NUM_LABELS; i++) count += labelWeight(labels[i], policy);
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
