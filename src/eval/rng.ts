/** The engine's seeded PRNG (src/engine/rng.ts), under the path eval and protocols import it from. */
export { mulberry32 } from '../engine/rng.ts';
