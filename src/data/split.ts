/**
 * Patient-level iterative stratification for multi-label data (Sechidis, Tsoumakas and Vlahavas, "On the
 * stratification of multi-label data", ECML PKDD 2011, Algorithm 1), seeded. Each patient is one unit whose
 * label vector counts its studies positive for each label, so no patient lands in two splits and each
 * label's positives are spread across splits in proportion.
 */
import { Rng } from '../engine/rng.ts';

export const SPLIT_TRAIN = 0, SPLIT_VALIDATE = 1, SPLIT_TEST = 2;
export const SPLIT_NAMES = ['train', 'validate', 'test'] as const;

/**
 * Assign groups (patients) to splits.
 * @param groupOf [n] group id of each sample
 * @param positive [n * L] 1 where sample i is positive for label l
 * @param L labels
 * @param ratios desired fractions per split (sum 1), default 0.8 / 0.1 / 0.1
 * @returns [n] split of each sample
 */
export function iterativeStratification(groupOf: ArrayLike<number>, positive: Uint8Array, L: number, seed: number, ratios: readonly number[] = [0.8, 0.1, 0.1]): Uint8Array {
  const n = groupOf.length;
  const K = ratios.length;
  // groups in first-seen order, then shuffled (ties are broken at random, Sechidis et al.)
  const gIndex = new Map<number, number>();
  const members: number[][] = [];
  for (let i = 0; i < n; i++) {
    let g = gIndex.get(groupOf[i]);
    if (g === undefined) {
      g = members.length;
      gIndex.set(groupOf[i], g);
      members.push([]);
    }
    members[g].push(i);
  }
  const G = members.length;
  const rng = new Rng(seed ^ 0x5eed5717);
  const counts = new Float64Array(G * L);
  const size = new Float64Array(G);
  for (let g = 0; g < G; g++) {
    size[g] = members[g].length;
    for (const i of members[g]) for (let l = 0; l < L; l++) counts[g * L + l] += positive[i * L + l];
  }
  // desired sample counts per split and per (split, label)
  const desired = ratios.map((r) => r * n);
  const desiredL = new Float64Array(K * L);
  for (let l = 0; l < L; l++) {
    let tot = 0;
    for (let g = 0; g < G; g++) tot += counts[g * L + l];
    for (let k = 0; k < K; k++) desiredL[k * L + l] = ratios[k] * tot;
  }
  const assigned = new Int8Array(G).fill(-1);
  const order = rng.shuffle(Array.from({ length: G }, (_, g) => g));
  const remainingL = new Float64Array(L);
  for (let g = 0; g < G; g++) for (let l = 0; l < L; l++) remainingL[l] += counts[g * L + l] > 0 ? 1 : 0;
  let left = G;
  const pick = (scores: (k: number) => number[]): number => {
    let best: number[] = [];
    let bestScore: number[] | undefined;
    for (let k = 0; k < K; k++) {
      const s = scores(k);
      let cmp = 0;
      if (bestScore) for (let j = 0; j < s.length && cmp === 0; j++) cmp = s[j] > bestScore[j] ? 1 : s[j] < bestScore[j] ? -1 : 0;
      if (!bestScore || cmp > 0) {
        bestScore = s;
        best = [k];
      } else if (cmp === 0) best.push(k);
    }
    return best.length === 1 ? best[0] : best[Math.floor(rng.next() * best.length)];
  };
  const assign = (g: number, k: number) => {
    assigned[g] = k;
    left--;
    desired[k] -= size[g];
    for (let l = 0; l < L; l++) {
      const c = counts[g * L + l];
      if (c > 0) {
        desiredL[k * L + l] -= c;
        remainingL[l]--;
      }
    }
  };
  while (left > 0) {
    // the label with the fewest remaining (but some) unassigned groups
    let lab = -1;
    for (let l = 0; l < L; l++) if (remainingL[l] > 0 && (lab < 0 || remainingL[l] < remainingL[lab])) lab = l;
    if (lab < 0) {
      // groups without any positive: by desired sample count
      for (const g of order) if (assigned[g] < 0) assign(g, pick((k) => [desired[k]]));
      break;
    }
    for (const g of order) {
      if (assigned[g] >= 0 || counts[g * L + lab] === 0) continue;
      assign(g, pick((k) => [desiredL[k * L + lab], desired[k]]));
    }
  }
  const split = new Uint8Array(n);
  for (let g = 0; g < G; g++) for (const i of members[g]) split[i] = assigned[g];
  return split;
}
