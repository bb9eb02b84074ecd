/** MIMIC-IV-ED `ed/edstays`: the ED stays of the cohort's subjects, and the stay each study falls in. */
import { parseTimestamp, readCsv } from '../csv.ts';
import type { CsvLimits } from '../csv.ts';
import type { ProblemLog } from '../problems.ts';
import { HOUR, parseId, pushTo } from '../studies.ts';
import type { Cohort } from '../studies.ts';
import { columnsOf } from '../table.ts';
import type { FeatureTable } from '../table.ts';

/** One ED stay: its id, in and out times (ms, UTC) and the spec's edstays columns. */
export interface Stay {
  stayId: number;
  tin: number;
  tout: number;
  values: string[];
}

/**
 * Read the stays of the cohort's subjects, match each study to the stay whose [intime - w, outtime + w] holds
 * its time (w = windowHours; the closest, then the latest, wins), set rec.stay and copy the stay's columns.
 * Returns the stays and the number of matched studies.
 */
export async function readEdStays(file: string, cohort: Cohort, t: FeatureTable, windowHours: number, problems: ProblemLog, limits?: Partial<CsvLimits>): Promise<{ stays: Stay[]; matched: number }> {
  const cols = columnsOf(t, 'edstays');
  const stays: Stay[] = [];
  const staysBySubject = new Map<number, number[]>();
  await readCsv(file, ['subject_id', 'stay_id', 'intime', 'outtime', ...cols], (h) => {
    const iSu = h.idx('subject_id'), iSt = h.idx('stay_id'), iIn = h.idx('intime'), iOut = h.idx('outtime');
    const cIdx = cols.map((c) => h.idx(c));
    return (f, line) => {
      const subject = parseId(f[iSu], file, line, 'subject_id');
      if (!cohort.bySubject.has(subject)) return;
      const tin = parseTimestamp(f[iIn]), tout = parseTimestamp(f[iOut]);
      if (Number.isNaN(tin) || Number.isNaN(tout)) {
        problems.add(file, line, `intime/outtime '${f[iIn]}' '${f[iOut]}' do not parse: stay skipped`);
        return;
      }
      pushTo(staysBySubject, subject, stays.length);
      stays.push({ stayId: parseId(f[iSt], file, line, 'stay_id'), tin, tout, values: cIdx.map((c) => f[c]) });
    };
  }, limits);
  const matched = matchStays(cohort, stays, staysBySubject, windowHours * HOUR);
  cohort.recs.forEach((r, i) => {
    if (r.stay < 0) return;
    t.ordered.forEach((f, j) => {
      if (f.source === 'edstays') t.raw[j][i] = stays[r.stay].values[cols.indexOf(f.column!)];
    });
  });
  return { stays, matched };
}

/** Set rec.stay for every study whose time lies in a stay of its subject widened by `w` ms; count them. */
function matchStays(cohort: Cohort, stays: Stay[], staysBySubject: Map<number, number[]>, w: number): number {
  let matched = 0;
  for (const r of cohort.recs) {
    const cand = staysBySubject.get(r.subject);
    if (!cand || Number.isNaN(r.time)) continue;
    let best = -1, bestD = Infinity;
    for (const k of cand) {
      const s = stays[k];
      if (r.time < s.tin - w || r.time > s.tout + w) continue;
      const d = r.time < s.tin ? s.tin - r.time : r.time > s.tout ? r.time - s.tout : 0;
      if (d < bestD || (d === bestD && s.tin > stays[best].tin)) {
        best = k;
        bestD = d;
      }
    }
    r.stay = best;
    if (best >= 0) matched++;
  }
  return matched;
}
