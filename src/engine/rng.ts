/**
 * The project's seeded randomness, in one module at the bottom layer (data, eval, model and train all import
 * it from here). Two generators, because two kinds of use need them:
 * - `mulberry32` (32-bit state, period 2^32), a sequential stream, and `Rng` over it (uniforms, integers,
 *   Box-Muller normals, picks, shuffles): initialization, synthetic data, splits, bootstraps and tests.
 * - `counterUniform(seed, ...keys)`, counter-based: a pure function of its inputs, so training's random
 *   decisions need no state to save, resume exactly, and do not depend on how work is split over threads.
 * Same seed, same sequence, on every platform.
 */

/** mulberry32: a uniform in [0, 1) per call, from a 32-bit seed. */
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

/** A seeded stream over mulberry32: uniforms, integers, Box-Muller normals, weighted picks, shuffles. */
export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  private spare = NaN;
  constructor(seed: number) {
    // One splitmix-style scramble so nearby seeds start far apart.
    let z = (seed >>> 0) + 0x9e3779b9;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.next = mulberry32((z ^ (z >>> 16)) >>> 0);
  }
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }
  /** Normal(mean, sd), Box-Muller with the second value kept. */
  normal(mean = 0, sd = 1): number {
    let z: number;
    if (!Number.isNaN(this.spare)) {
      z = this.spare;
      this.spare = NaN;
    } else {
      let u = 0;
      while (u === 0) u = this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      z = r * Math.cos(2 * Math.PI * v);
      this.spare = r * Math.sin(2 * Math.PI * v);
    }
    return mean + sd * z;
  }
  /** Pick one item, optionally with weights. */
  pick<T>(items: readonly T[], weights?: readonly number[]): T {
    if (!weights) return items[Math.floor(this.next() * items.length)];
    let tot = 0;
    for (const w of weights) tot += w;
    let u = this.next() * tot;
    for (let i = 0; i < items.length; i++) if ((u -= weights[i]) < 0) return items[i];
    return items[items.length - 1];
  }
  /** Fisher-Yates shuffle in place. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

/** murmur3's 32-bit finalizer: a full avalanche of one word. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Counter-based: a uniform in [0, 1) determined by the seed and the integer keys (fmix applied to each in turn). */
export function counterUniform(seed: number, ...keys: number[]): number {
  let h = fmix((seed >>> 0) ^ 0x9e3779b9);
  for (const k of keys) h = fmix(h ^ Math.imul((k >>> 0) + 0x632be5ab, 0x9e3779b1));
  return h / 4294967296;
}
