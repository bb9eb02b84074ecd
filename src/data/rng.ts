/**
 * The FNV-1a string hash the image cache keys on. The seeded PRNG the data module uses (Rng) is the
 * project's one, in src/engine/rng.ts.
 */

/** 32-bit FNV-1a of a string (cache keys). */
export function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
