/**
 * The project's one seeded PRNG, mulberry32 (32-bit state, period 2^32): the same seed gives the same
 * sequence on every platform, so initialization, synthetic data, bootstraps and tests are reproducible.
 * It lives in the engine because data and eval may depend on nothing else.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
