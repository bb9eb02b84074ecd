/** The problems a data set load collects (file and line), listed up to a cap and counted beyond it. */
import { MAX_LISTED_PROBLEMS } from './report.ts';
import type { Problem } from './report.ts';

/** Collects problems that do not stop the load; the first MAX_LISTED_PROBLEMS are kept, the rest counted. */
export class ProblemLog {
  readonly problems: Problem[] = [];
  notListed = 0;
  /** Record one problem (line 0: about a whole file or an image). */
  add(file: string, line: number, message: string): void {
    if (this.problems.length < MAX_LISTED_PROBLEMS) this.problems.push({ file, line, message });
    else this.notListed++;
  }
}

/** Progress callback of a load: (done, total, phase); total 0 when unknown. */
export type Progress = (done: number, total: number, phase: string) => void;
