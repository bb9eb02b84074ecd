/** The shared seeded PRNG. */
export { mulberry32 } from '../engine/rng.ts';
