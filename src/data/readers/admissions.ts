/**
 * MIMIC-IV `hosp/admissions`: race and insurance of each study from the subject's admission nearest the study
 * time (|admittime - study time| smallest; ties: the earlier admission, then the smaller hadm_id). Used only for
 * the evaluation's subgroup tables (not a model input). Several admissions per subject are the rule; a row
 * whose subject is not in the cohort is skipped, a row with an unreadable admittime is skipped and counted.
 */
import { readCsv } from '../csv.ts';
import type { CsvLimits } from '../csv.ts';
import { parseTimestamp } from '../csv.ts';
import type { Cohort } from '../studies.ts';
import { parseId } from '../studies.ts';
import { parseNumber } from '../features.ts';
import { readKeyedTable } from './keyed.ts';
import { ageAt } from './patients.ts';

/** Per cohort study: sex and age at the study from hosp/patients (null: the subject is not in the table). */
export async function readPatientDemographics(file: string, cohort: Cohort, limits?: Partial<CsvLimits>): Promise<{ sex: (string | null)[]; age: (number | null)[] }> {
  const N = cohort.recs.length;
  const sex: (string | null)[] = new Array(N).fill(null), age: (number | null)[] = new Array(N).fill(null);
  await readKeyedTable(file, { column: 'subject_id', noun: 'subject' }, ['gender', 'anchor_age', 'anchor_year'], cohort.bySubject, (h) => {
    const iG = h.idx('gender'), iA = h.idx('anchor_age'), iY = h.idx('anchor_year');
    return (f, samples) => {
      for (const i of samples) {
        sex[i] = f[iG].trim() || null;
        const a = ageAt(f[iA], f[iY], cohort.recs[i].time);
        age[i] = typeof a === 'number' && Number.isFinite(a) ? a : Number.isFinite(parseNumber(String(a))) ? parseNumber(String(a)) : null;
      }
    };
  }, limits);
  return { sex, age };
}

/** Per cohort study: race and insurance of the nearest admission (null: the subject has none). */
export interface AdmissionAttributes {
  race: (string | null)[];
  insurance: (string | null)[];
  /** Admission rows read for cohort subjects, and those skipped for an unreadable admittime. */
  rows: number;
  badTime: number;
}

/** The columns read (race was `ethnicity` before MIMIC-IV 2.0; both are accepted). */
const COLUMNS = ['subject_id', 'hadm_id', 'admittime', 'insurance'];

export async function readAdmissions(file: string, cohort: Cohort, limits?: Partial<CsvLimits>): Promise<AdmissionAttributes> {
  const N = cohort.recs.length;
  const out: AdmissionAttributes = { race: new Array(N).fill(null), insurance: new Array(N).fill(null), rows: 0, badTime: 0 };
  const best = new Float64Array(N).fill(Infinity), bestTime = new Float64Array(N).fill(Infinity), bestHadm = new Float64Array(N).fill(Infinity);
  await readCsv(file, COLUMNS, (h) => {
    const iS = h.idx('subject_id'), iH = h.idx('hadm_id'), iT = h.idx('admittime'), iI = h.idx('insurance');
    const iR = h.idx('race') >= 0 ? h.idx('race') : h.idx('ethnicity');
    return (f, line) => {
      const samples = cohort.bySubject.get(parseId(f[iS], file, line, 'subject_id'));
      if (!samples) return;
      out.rows++;
      const t = parseTimestamp(f[iT]);
      if (Number.isNaN(t)) { out.badTime++; return; }
      const hadm = Number(f[iH]);
      for (const i of samples) {
        const st = cohort.recs[i].time;
        const d = Number.isNaN(st) ? Infinity : Math.abs(t - st);
        // Strictly nearer, or as near and earlier, or as near, as early and a smaller id (the file's order does not matter).
        if (d < best[i] || (d === best[i] && (t < bestTime[i] || (t === bestTime[i] && hadm < bestHadm[i])))) {
          best[i] = d; bestTime[i] = t; bestHadm[i] = hadm;
          out.race[i] = iR >= 0 && f[iR].trim() ? f[iR].trim() : null;
          out.insurance[i] = f[iI].trim() || null;
        }
      }
    };
  }, limits);
  return out;
}
