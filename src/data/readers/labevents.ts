/** MIMIC-IV `hosp/labevents`: lab values joined on subject and time (not hadm_id), streamed in flat memory. */
import { parseTimestamp, readCsv } from '../csv.ts';
import type { CsvLimits } from '../csv.ts';
import { parseNumber } from '../features.ts';
import type { NumericFeature } from '../features.ts';
import type { Progress, ProblemLog } from '../problems.ts';
import { HOUR, pushTo } from '../studies.ts';
import type { Cohort } from '../studies.ts';
import type { FeatureTable } from '../table.ts';

/**
 * For each lab feature and study, keep the value closest in time inside the feature's window around the study
 * ([before, after] hours, default [24, 12]). Rows of other items or subjects are skipped without parsing.
 */
export async function readLabevents(file: string, cohort: Cohort, t: FeatureTable, problems: ProblemLog, progress: Progress, limits?: Partial<CsvLimits>): Promise<void> {
  const labJ = t.ordered.map((f, j) => (f.source === 'labevents' ? j : -1)).filter((j) => j >= 0);
  if (!labJ.length) return;
  const { recs, bySubject } = cohort;
  const N = recs.length, F = t.ordered.length;
  const byItem = new Map<number, number[]>();
  for (const j of labJ) pushTo(byItem, (t.ordered[j] as NumericFeature).itemid!, j);
  const valueCols = [...new Set(labJ.map((j) => t.ordered[j].column ?? 'valuenum'))];
  const bestDt = new Float64Array(F * N).fill(Infinity);
  let rows = 0;
  await readCsv(file, ['subject_id', 'itemid', 'charttime', ...valueCols], (h) => {
    const iSu = h.idx('subject_id'), iIt = h.idx('itemid'), iCt = h.idx('charttime');
    const vIdx = t.ordered.map((f) => h.idx(f.column ?? 'valuenum'));
    return (f, line) => {
      if ((++rows & 0xfffff) === 0) progress(rows, 0, 'labevents');
      const js = byItem.get(parseNumber(f[iIt]));
      if (!js) return;
      const idx = bySubject.get(parseNumber(f[iSu]));
      if (!idx) return;
      const ct = parseTimestamp(f[iCt]);
      if (Number.isNaN(ct)) {
        problems.add(file, line, `charttime '${f[iCt]}' does not parse: row skipped`);
        return;
      }
      for (const i of idx) {
        const time = recs[i].time;
        if (Number.isNaN(time)) continue;
        const dt = ct - time;
        for (const j of js) {
          const [before, after] = (t.ordered[j] as NumericFeature).windowHours ?? [24, 12];
          if (dt < -before * HOUR || dt > after * HOUR) continue;
          const ad = Math.abs(dt);
          if (ad < bestDt[j * N + i]) {
            bestDt[j * N + i] = ad;
            t.raw[j][i] = f[vIdx[j]];
          }
        }
      }
    };
  }, limits);
}
