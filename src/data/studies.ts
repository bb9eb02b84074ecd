/**
 * The studies of a data set as the readers build them (one record per study, sorted by subject then study)
 * and the small parsers the readers share.
 */
import { DataError } from './csv.ts';

/** One hour in milliseconds (stay and lab windows are given in hours). */
export const HOUR = 3600_000;

/** A study as read from the metadata, with its labels and matched ED stay filled in by later readers. */
export interface StudyRec {
  subject: number;
  study: number;
  /** Study time in ms (UTC), NaN when StudyDate/StudyTime do not parse. */
  time: number;
  /** The chosen image's dicom_id ('' when the study has no usable view). */
  dicom: string;
  /** viewRank of the chosen image (99: none yet). */
  rank: number;
  labels?: Float32Array;
  /** Index into the ED stays, -1 none. */
  stay: number;
}

/** The studies in sample order (subject, then study) and each subject's sample indices. */
export interface Cohort {
  recs: StudyRec[];
  bySubject: Map<number, number[]>;
}

/** Order the studies by subject then study id and index them by subject. */
export function cohortOf(studies: Map<number, StudyRec>): Cohort {
  const recs = [...studies.values()].sort((a, b) => a.subject - b.subject || a.study - b.study);
  const bySubject = new Map<number, number[]>();
  recs.forEach((r, i) => pushTo(bySubject, r.subject, i));
  return { recs, bySubject };
}

/** Append `v` to the list under `k`. */
export function pushTo<K>(m: Map<K, number[]>, k: K, v: number): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

/** An integer id (`123` or `123.0`, at most 2^31 - 1), or a DataError naming the column. */
export function parseId(s: string, file: string, line: number, col: string): number {
  const t = s.trim();
  const m = /^(\d+)(?:\.0*)?$/.exec(t);
  if (!m || +m[1] > 0x7fffffff) throw new DataError(file, line, `${col} '${s}' is not an integer id`);
  return +m[1];
}
