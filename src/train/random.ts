/**
 * Counter-based randomness: every random decision of training is a pure function of (seed, stream,
 * indices), so it needs no state to save, resumes exactly, and does not depend on how work is split over
 * threads. The mixer is a 32-bit avalanche (murmur3's finalizer) applied in turn to each input.
 */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform float in [0, 1) determined by the seed and the integer keys. */
export function uniform(seed: number, ...keys: number[]): number {
  let h = fmix((seed >>> 0) ^ 0x9e3779b9);
  for (const k of keys) h = fmix(h ^ Math.imul((k >>> 0) + 0x632be5ab, 0x9e3779b1));
  return h / 4294967296;
}

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
