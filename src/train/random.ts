/**
 * Counter-based randomness: every random decision of training is a pure function of (seed, stream,
 * indices), so it needs no state to save, resumes exactly, and does not depend on how work is split over
 * threads. The generator is src/engine/rng.ts's counterUniform; this module names the streams.
 */
import { counterUniform } from '../engine/rng.ts';

/** A uniform float in [0, 1) determined by the seed and the integer keys (the engine's counter-based generator). */
export const uniform = counterUniform;

/** Random streams, so that decisions of different kinds never share draws. */
export const Stream = {
  shuffle: 1,
  dropModality: 2,
  dropFeature: 3,
  missImage: 4,
  missTab: 5,
  init: 6,
} as const;

/** Fisher-Yates shuffle of 0..n-1, determined by (seed, epoch). */
export function permutation(n: number, seed: number, epoch: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform(seed, Stream.shuffle, epoch, i) * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
