/** MIMIC-CXR-JPG `mimic-cxr-2.0.0-split.csv[.gz]`: the official train / validate / test split by study. */
import { DataError, readCsv } from '../csv.ts';
import type { CsvLimits } from '../csv.ts';
import { SPLIT_NAMES } from '../split.ts';
import { parseId } from '../studies.ts';

/** Read the split file into study id -> split index (0 train, 1 validate, 2 test). */
export async function readOfficialSplit(file: string, limits?: Partial<CsvLimits>): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  await readCsv(file, ['study_id', 'split'], (h) => {
    const iSt = h.idx('study_id'), iSp = h.idx('split');
    return (f, line) => {
      const study = parseId(f[iSt], file, line, 'study_id');
      const s = SPLIT_NAMES.indexOf(f[iSp].trim().toLowerCase() as (typeof SPLIT_NAMES)[number]);
      if (s < 0) throw new DataError(file, line, `split '${f[iSp]}' is not one of ${SPLIT_NAMES.join(', ')}`);
      const prev = m.get(study);
      if (prev !== undefined && prev !== s) throw new DataError(file, line, `study ${study} is in two splits`);
      m.set(study, s);
    };
  }, limits);
  return m;
}
