/** MIMIC-CXR-JPG label files (`mimic-cxr-2.0.0-chexpert` or `-negbio`), columns matched by name. */
import { LABEL_NAMES, NUM_LABELS } from '../../engine/batch.ts';
import { DataError, readCsv } from '../csv.ts';
import type { CsvLimits } from '../csv.ts';
import { parseNumber } from '../features.ts';
import { parseId } from '../studies.ts';
import type { StudyRec } from '../studies.ts';

/** A label cell: 1, 0, -1 (uncertain) or blank (NaN); anything else stops the load. */
function parseLabel(s: string, file: string, line: number, name: string): number {
  const t = s.trim();
  if (t === '') return NaN;
  const v = parseNumber(t);
  if (v === 1 || v === 0 || v === -1) return v;
  throw new DataError(file, line, `label '${name}' is '${s}', outside {1, 0, -1, blank}`);
}

/**
 * Read the labels onto the studies (rec.labels). Returns the number of label rows whose study is not in the
 * metadata (they are not kept). A repeated study, a subject that disagrees with the metadata or a file with
 * a header and no rows stops the load.
 */
export async function readCxrLabels(file: string, studies: Map<number, StudyRec>, limits?: Partial<CsvLimits>): Promise<number> {
  let labelsWithoutStudy = 0;
  const seen = new Set<number>();
  const rows = await readCsv(file, ['subject_id', 'study_id', ...LABEL_NAMES], (h) => {
    const iSu = h.idx('subject_id'), iSt = h.idx('study_id');
    const cols = LABEL_NAMES.map((n) => h.idx(n));
    return (f, line) => {
      const study = parseId(f[iSt], file, line, 'study_id');
      const subject = parseId(f[iSu], file, line, 'subject_id');
      if (seen.has(study)) throw new DataError(file, line, `duplicate study ${study}`);
      seen.add(study);
      const lab = new Float32Array(NUM_LABELS);
      for (let k = 0; k < NUM_LABELS; k++) lab[k] = parseLabel(f[cols[k]], file, line, LABEL_NAMES[k]);
      const rec = studies.get(study);
      if (!rec) {
        labelsWithoutStudy++;
        return;
      }
      if (rec.subject !== subject) throw new DataError(file, line, `study ${study} has subject ${subject} here and ${rec.subject} in the metadata`);
      rec.labels = lab;
    };
  }, limits);
  // Without a row nothing is observed, and training would run with loss 0 and report success.
  if (rows === 0) throw new DataError(file, 0, 'a header and no rows: no study has labels');
  return labelsWithoutStudy;
}
