/**
 * Comparisons over the stored cells: the paired patient-level bootstrap of the proposed method against every
 * other (eval/bootstrap.ts), and the endpoint sanity checks of docs/design.md.
 */
import { LABEL_NAMES } from '../engine/batch.ts';
import { pairedBootstrap } from '../eval/bootstrap.ts';
import type { TestSet } from './job-files.ts';
import { PROPOSED } from './methods.ts';
import type { MethodName } from './methods.ts';
import { fixed } from './plot.ts';
import type { Protocol, ResultRow, StoredCell } from './results.ts';
import { summarize } from './stats.ts';
import type { Comparison } from './stats.ts';

/** An endpoint gap (macro AUROC) above this is a sanity-check failure (docs/design.md, "Training"). */
export const SANITY_GAP = 0.05;

export interface SanityCheck {
  protocol: Protocol;
  /** The proposed model's train level: 1 for the check proper, 0 for the informational line. */
  trainLevel: number;
  /** Test level (1). */
  level: number;
  baseline: MethodName;
  proposed: number;
  baselineScore: number;
  gap: number;
  ok: boolean;
}

/**
 * Paired patient-level bootstrap of proposed vs every other method at every level of each protocol (the
 * diagonal: trained and tested at that level). With several seeds the statistic is the mean over seeds of
 * the macro AUROC difference: each seed's probabilities are further label columns of the same studies, so
 * a drawn patient brings all seeds' predictions along and the macro average runs over labels and seeds.
 */
export function protocolComparisons(cells: readonly StoredCell[], ts: TestSet, o: {
  protocols: Protocol[]; levels: readonly number[]; methods: readonly string[]; seeds: readonly number[]; replicates: number;
}): Comparison[] {
  const L = LABEL_NAMES.length, n = ts.patients.length, K = o.seeds.length;
  const byId = new Map(cells.map((c) => [JSON.stringify([c.method, c.protocol, c.trainLevel, c.seed]), c]));
  const stack = (method: string, protocol: Protocol, level: number): Float32Array | null => {
    const out = new Float32Array(n * L * K);
    for (let k = 0; k < K; k++) {
      const c = byId.get(JSON.stringify([method, protocol, level, o.seeds[k]]));
      const p = c?.predictions?.find((q) => q.testLevel === level);
      if (!p || p.probs.length !== n * L) return null;
      for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) out[i * L * K + k * L + j] = p.probs[i * L + j];
    }
    return out;
  };
  const targets = new Float32Array(n * L * K);
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) for (let j = 0; j < L; j++) targets[i * L * K + k * L + j] = ts.targets[i * L + j];
  const out: Comparison[] = [];
  if (!o.methods.includes(PROPOSED)) return out;
  for (const protocol of o.protocols) {
    for (const level of o.levels) {
      const a = stack(PROPOSED, protocol, level);
      if (!a) continue;
      for (const method of o.methods) {
        if (method === PROPOSED) continue;
        const b = stack(method, protocol, level);
        if (!b) continue;
        const r = pairedBootstrap({ probsA: a, probsB: b, targets, patients: ts.patients, replicates: o.replicates, seed: 0 });
        out.push({ protocol, level, proposed: PROPOSED, method, diff: r.diff, lo: r.lo, hi: r.hi, p: r.p, replicates: r.replicates });
      }
    }
  }
  return out;
}

/**
 * The design's sanity checks: at image level 1 the proposed model sees tables only, so it should score close to
 * the tabular-only baseline; at tabular level 1 close to the image-only one (diagonal means over seeds; a gap
 * above `gapLimit` fails). Also, for information, the proposed model trained at level 0 (fully multimodal)
 * and tested at level 1 against the same baseline: how much robustness the multimodal training kept.
 */
export function sanityChecks(rows: readonly ResultRow[], gapLimit = SANITY_GAP): SanityCheck[] {
  const summary = summarize(rows);
  const out: SanityCheck[] = [];
  for (const [protocol, baseline] of [['image', 'tabular-only'], ['tabular', 'image-only']] as const) {
    const b = summary.find((s) => s.protocol === protocol && s.method === baseline && s.trainLevel === 1 && s.testLevel === 1);
    if (!b) continue;
    for (const trainLevel of [1, 0]) {
      const a = summary.find((s) => s.protocol === protocol && s.method === PROPOSED && s.trainLevel === trainLevel && s.testLevel === 1);
      if (!a) continue;
      const gap = a.mean - b.mean;
      out.push({ protocol, trainLevel, level: 1, baseline, proposed: a.mean, baselineScore: b.mean, gap, ok: trainLevel !== 1 || Math.abs(gap) <= gapLimit });
    }
  }
  return out;
}

export function sanityText(c: SanityCheck): string {
  const mod = c.protocol === 'image' ? 'image' : 'tabular';
  const who = c.trainLevel === 1 ? 'proposed' : `proposed trained at ${mod} rate ${c.trainLevel}`;
  const head = `${mod} missing rate 1.0: ${who} ${fixed(c.proposed, 4)} vs ${c.baseline} ${fixed(c.baselineScore, 4)} macro AUROC (gap ${c.gap >= 0 ? '+' : ''}${fixed(c.gap, 4)})`;
  if (c.trainLevel !== 1) return `for information: ${head}`;
  return c.ok
    ? `sanity check passed: ${head}, within ${SANITY_GAP}`
    : `WARNING: SANITY CHECK FAILED: ${head}, more than ${SANITY_GAP}: at an endpoint the proposed model sees one modality only, so a large gap points to a bug, not a win`;
}
