import { mulberry32 } from './rng.ts';

/**
 * Cluster bootstrap: resample patients (groups) with replacement, keeping all of a drawn patient's samples,
 * so correlated images of one patient never look like independent evidence (DESIGN.md, "Data").
 * `stat(indices)` computes the statistic on the sample indices of one replicate (a drawn patient's samples
 * appear once per draw). Returns the point estimate on all samples and the percentile interval.
 */
export function bootstrapCI(
  groups: ArrayLike<number>,
  stat: (indices: Int32Array) => number,
  opts: { replicates?: number; seed?: number; alpha?: number } = {},
): { estimate: number; lo: number; hi: number; replicates: number[] } {
  const { replicates = 1000, seed = 0, alpha = 0.05 } = opts;
  const byGroup = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    let l = byGroup.get(g);
    if (!l) byGroup.set(g, (l = []));
    l.push(i);
  }
  const members = [...byGroup.keys()].sort((a, b) => a - b).map((g) => byGroup.get(g)!);
  const all = Int32Array.from({ length: groups.length }, (_, i) => i);
  const estimate = stat(all);
  const rand = mulberry32(seed);
  const reps: number[] = [];
  const buf: number[] = [];
  for (let r = 0; r < replicates; r++) {
    buf.length = 0;
    for (let k = 0; k < members.length; k++) {
      const m = members[Math.floor(rand() * members.length)];
      for (const i of m) buf.push(i);
    }
    const v = stat(Int32Array.from(buf));
    if (!Number.isNaN(v)) reps.push(v);
  }
  const sorted = [...reps].sort((a, b) => a - b);
  const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(p * (sorted.length - 1) + 0.5)))] : NaN);
  return { estimate, lo: q(alpha / 2), hi: q(1 - alpha / 2), replicates: reps };
}
