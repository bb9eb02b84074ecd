/** A table with one row per integer id (patients by subject_id, triage by stay_id), read once for both. */
import { DataError, readCsv } from '../csv.ts';
import type { CsvHeader, CsvLimits } from '../csv.ts';
import { parseId } from '../studies.ts';

/** The key of a keyed table: its column and the word errors use for it ("duplicate subject 123"). */
export interface TableKey {
  column: string;
  noun: string;
}

/**
 * Read a table keyed by one integer id column. A repeated id stops with file and line; rows whose id is not in
 * `wanted` are skipped; the others reach the handler `onHeader` returns, with the sample indices of the id.
 */
export async function readKeyedTable(
  file: string,
  key: TableKey,
  columns: readonly string[],
  wanted: Map<number, number[]>,
  onHeader: (h: CsvHeader) => (fields: string[], samples: number[]) => void,
  limits?: Partial<CsvLimits>,
): Promise<void> {
  const seen = new Set<number>();
  await readCsv(file, [key.column, ...columns], (h) => {
    const iKey = h.idx(key.column);
    const onRow = onHeader(h);
    return (f, line) => {
      const id = parseId(f[iKey], file, line, key.column);
      if (seen.has(id)) throw new DataError(file, line, `duplicate ${key.noun} ${id}`);
      seen.add(id);
      const samples = wanted.get(id);
      if (samples) onRow(f, samples);
    };
  }, limits);
}
