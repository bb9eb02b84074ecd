/** MIMIC-IV-ED `ed/triage`: the triage vitals and acuity of the matched stays. */
import type { CsvLimits } from '../csv.ts';
import { pushTo } from '../studies.ts';
import type { Cohort } from '../studies.ts';
import { columnsOf } from '../table.ts';
import type { FeatureTable } from '../table.ts';
import type { Stay } from './edstays.ts';
import { readKeyedTable } from './keyed.ts';

/** Copy the triage columns of each study's matched stay into the table's raw values. */
export async function readTriage(file: string, cohort: Cohort, stays: Stay[], t: FeatureTable, limits?: Partial<CsvLimits>): Promise<void> {
  const cols = columnsOf(t, 'triage');
  if (!cols.length) return;
  const wanted = new Map<number, number[]>(); // stay_id -> sample indices
  cohort.recs.forEach((r, i) => {
    if (r.stay >= 0) pushTo(wanted, stays[r.stay].stayId, i);
  });
  const F = t.ordered.length;
  await readKeyedTable(file, { column: 'stay_id', noun: 'stay' }, cols, wanted, (h) => {
    const fIdx = t.ordered.map((f) => (f.source === 'triage' ? h.idx(f.column!) : -1));
    return (f, samples) => {
      for (const i of samples) for (let j = 0; j < F; j++) if (fIdx[j] >= 0) t.raw[j][i] = f[fIdx[j]];
    };
  }, limits);
}
