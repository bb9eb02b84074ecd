/** MIMIC-CXR-JPG `mimic-cxr-2.0.0-metadata.csv[.gz]`: one image per study, the best view, the study time. */
import { DataError, parseStudyDateTime, readCsv } from '../csv.ts';
import type { CsvLimits } from '../csv.ts';
import type { ProblemLog } from '../problems.ts';
import { parseId } from '../studies.ts';
import type { StudyRec } from '../studies.ts';

/** View preference: PA before AP before other frontal views; laterals and unknown views last. */
export function viewRank(view: string): number {
  const v = view.trim().toUpperCase();
  if (v === 'PA') return 0;
  if (v === 'AP') return 1;
  if (/\b(AP|PA)\b/.test(v)) return 2;
  if (v === '') return 20;
  return 10; // LATERAL, LL, RL, ...
}

/**
 * Read the metadata into one record per study, keeping the best-ranked view (ties: the smallest dicom_id);
 * lateral views only with `allowLateral`. A repeated dicom_id or a study under two subjects stops the load.
 */
export async function readCxrMetadata(file: string, allowLateral: boolean, problems: ProblemLog, limits?: Partial<CsvLimits>): Promise<Map<number, StudyRec>> {
  const studies = new Map<number, StudyRec>();
  const dicoms = new Set<string>();
  await readCsv(file, ['dicom_id', 'subject_id', 'study_id', 'ViewPosition', 'StudyDate', 'StudyTime'], (h) => {
    const iD = h.idx('dicom_id'), iSu = h.idx('subject_id'), iSt = h.idx('study_id'), iV = h.idx('ViewPosition');
    const iDate = h.idx('StudyDate'), iTime = h.idx('StudyTime');
    return (f, line) => {
      const dicom = f[iD].trim();
      if (!/^[A-Za-z0-9._-]+$/.test(dicom)) throw new DataError(file, line, `dicom_id '${f[iD]}' is not a file name`);
      if (dicoms.has(dicom)) throw new DataError(file, line, `duplicate dicom_id ${dicom}`);
      dicoms.add(dicom);
      const subject = parseId(f[iSu], file, line, 'subject_id');
      const study = parseId(f[iSt], file, line, 'study_id');
      const time = parseStudyDateTime(f[iDate], f[iTime]);
      let rec = studies.get(study);
      if (!rec) {
        if (Number.isNaN(time)) problems.add(file, line, `StudyDate/StudyTime '${f[iDate]}' '${f[iTime]}' do not parse: the study cannot be paired with an ED stay`);
        rec = { subject, study, time, dicom: '', rank: 99, stay: -1 };
        studies.set(study, rec);
      } else if (rec.subject !== subject) {
        throw new DataError(file, line, `study ${study} belongs to subjects ${rec.subject} and ${subject}`);
      }
      const rank = viewRank(f[iV]);
      if (rank >= 10 && !allowLateral) return;
      if (rank < rec.rank || (rank === rec.rank && dicom < rec.dicom)) {
        rec.rank = rank;
        rec.dicom = dicom;
      }
    };
  }, limits);
  return studies;
}
