/** MIMIC-IV `hosp/patients`: demographics by subject, and the anchor that gives the age at each study. */
import type { CsvLimits } from '../csv.ts';
import { parseNumber } from '../features.ts';
import type { Cohort } from '../studies.ts';
import { columnsOf } from '../table.ts';
import type { FeatureTable } from '../table.ts';
import { readKeyedTable } from './keyed.ts';

/**
 * Fill the patients columns and the derived age (anchor_age shifted by the years from anchor_year to the
 * study; anchor_age alone when the study time or the year is unknown) into the table's raw values.
 */
export async function readPatients(file: string, cohort: Cohort, t: FeatureTable, limits?: Partial<CsvLimits>): Promise<void> {
  const needAge = t.ordered.some((f) => f.source === 'derived');
  const cols = columnsOf(t, 'patients');
  if (!needAge && !cols.length) return;
  const { recs } = cohort, F = t.ordered.length;
  await readKeyedTable(file, { column: 'subject_id', noun: 'subject' }, [...cols, ...(needAge ? ['anchor_age', 'anchor_year'] : [])], cohort.bySubject, (h) => {
    const iAge = h.idx('anchor_age'), iYear = h.idx('anchor_year');
    const fIdx = t.ordered.map((f) => (f.source === 'patients' ? h.idx(f.column!) : -1));
    return (f, samples) => {
      for (const i of samples) {
        for (let j = 0; j < F; j++) {
          if (fIdx[j] >= 0) t.raw[j][i] = f[fIdx[j]];
          else if (t.ordered[j].source === 'derived') t.raw[j][i] = ageAt(f[iAge], f[iYear], recs[i].time);
        }
      }
    };
  }, limits);
}

/** Age at time `t` (ms); the anchor_age text itself when it is not a number (counted as unparsed later). */
export function ageAt(ageText: string, yearText: string, t: number): string | number {
  const age = parseNumber(ageText), year = parseNumber(yearText);
  if (Number.isNaN(age)) return ageText;
  return Number.isNaN(t) || Number.isNaN(year) ? age : age + (new Date(t).getUTCFullYear() - year);
}
