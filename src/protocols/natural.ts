/**
 * The `stress` row on naturally incomplete data: every method trained and tested with no injected
 * missingness (level 0), scored on the test studies grouped by the availability they came with (both, image
 * only, table only). Real MIMIC missingness is not at random (no ED vitals when the patient did not come
 * through the ED), so this is the row that says how each method does on the incompleteness a deployment sees.
 */
import { evaluate } from '../eval/metrics.ts';
import { LABEL_NAMES } from '../engine/batch.ts';
import type { TestSet } from './job-files.ts';
import { fixed } from './plot.ts';
import type { ReportTable } from './report.ts';
import type { StoredCell } from './results.ts';

/** The natural availability patterns, in table order. */
export const NATURAL_PATTERNS = ['both', 'image only', 'table only'] as const;

/** Per method and pattern: the macro AUROC of each seed's level-0 cell on that pattern's test studies. */
export function naturalMissingness(cells: readonly StoredCell[], ts: TestSet, methods: readonly string[]): { method: string; pattern: string; studies: number; values: number[] }[] {
  const L = LABEL_NAMES.length, n = ts.patients.length;
  if (!ts.hasImage || !ts.hasTab) return [];
  const idx: number[][] = NATURAL_PATTERNS.map(() => []);
  for (let i = 0; i < n; i++) {
    const im = ts.hasImage[i] === 1, tb = ts.hasTab[i] === 1;
    if (im && tb) idx[0].push(i); else if (im) idx[1].push(i); else if (tb) idx[2].push(i);
  }
  const out: { method: string; pattern: string; studies: number; values: number[] }[] = [];
  for (const method of methods) {
    // Level 0 is the same training for both protocols: one cell per seed (the first protocol's).
    const bySeed = new Map<number, Float32Array | number[]>();
    for (const c of cells) {
      if (c.method !== method || c.trainLevel !== 0 || bySeed.has(c.seed)) continue;
      const p = c.predictions?.find((q) => q.testLevel === 0);
      if (p && p.probs.length === n * L) bySeed.set(c.seed, p.probs);
    }
    if (bySeed.size === 0) continue;
    NATURAL_PATTERNS.forEach((pattern, g) => {
      const rows = idx[g];
      const values = [...bySeed.keys()].sort((a, b) => a - b).map((s) => {
        const probs = bySeed.get(s)!, pp = new Float64Array(rows.length * L), tt = new Float64Array(rows.length * L);
        rows.forEach((i, r) => { for (let j = 0; j < L; j++) { pp[r * L + j] = probs[i * L + j]; tt[r * L + j] = ts.targets[i * L + j]; } });
        return rows.length ? evaluate(pp, tt, LABEL_NAMES).macroAuroc : NaN;
      });
      out.push({ method, pattern, studies: rows.length, values });
    });
  }
  return out;
}

/** The report table of `naturalMissingness`: a row per method, a column per pattern (mean ± std over seeds). */
export function naturalMissingnessTable(cells: readonly StoredCell[], ts: TestSet, methods: readonly string[], digits = 3): ReportTable | null {
  const r = naturalMissingness(cells, ts, methods);
  if (!r.length) return null;
  const studies = NATURAL_PATTERNS.map((p) => r.find((x) => x.pattern === p)?.studies ?? 0);
  const text = (v: number[]) => {
    const d = v.filter((x) => !Number.isNaN(x));
    if (!d.length) return 'n/a';
    const m = d.reduce((a, b) => a + b, 0) / d.length;
    if (d.length < 2) return fixed(m, digits);
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - m) ** 2, 0) / (d.length - 1));
    return `${fixed(m, digits)} ± ${fixed(sd, digits)}`;
  };
  return {
    title: 'Naturally incomplete test data, no injected missingness (trained and tested at level 0): macro AUROC by the availability each test study came with, mean ± std over seeds',
    header: ['method', ...NATURAL_PATTERNS.map((p, k) => `${p} (${studies[k]} studies)`)],
    rows: [...new Set(r.map((x) => x.method))].map((m) => [m, ...NATURAL_PATTERNS.map((p) => text(r.find((x) => x.method === m && x.pattern === p)!.values))]),
  };
}
