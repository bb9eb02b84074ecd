/**
 * Streaming CSV reading (RFC 4180) for the MIMIC tables: plain or gzipped (detected by the gzip magic bytes,
 * whatever the file is called), a UTF-8 byte-order mark stripped, quoted fields with commas, doubled quotes
 * and newlines, read line by line through node:readline so a file of tens of GB never sits in memory.
 * Malformed input stops with the file and line: a ragged row, bad quoting, a missing required column.
 */
import { createReadStream, existsSync, openSync, readSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

/** An error in an input file, with its path and 1-based line (0 when not about one line). */
export class DataError extends Error {
  constructor(readonly file: string, readonly line: number, readonly detail: string) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${detail}`);
    this.name = 'DataError';
  }
}

/** The header of a CSV file: column names and their positions. */
export interface CsvHeader {
  file: string;
  names: string[];
  /** Position of a column, -1 when absent. */
  idx(name: string): number;
}

/** Called once per data row with its fields and the 1-based line where the row starts. */
export type RowHandler = (fields: string[], line: number) => void;

/**
 * Find `base.csv.gz` or `base.csv` (in that order); undefined when neither exists.
 * `base` is a path without the extension, e.g. `dir/mimic-iv/ed/triage`.
 */
export function findCsv(base: string): string | undefined {
  for (const p of [`${base}.csv.gz`, `${base}.csv`]) if (existsSync(p)) return p;
  return undefined;
}

function isGzip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * Split one logical CSV record. Returns undefined when the record ends inside a quoted field (the caller
 * appends the next physical line). Throws on bad quoting.
 */
export function splitCsvRecord(s: string): string[] | undefined {
  if (s.indexOf('"') < 0) return s.split(',');
  const out: string[] = [];
  let i = 0;
  const n = s.length;
  for (;;) {
    if (i < n && s.charCodeAt(i) === 34) {
      // quoted field
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = s.indexOf('"', j);
        if (q < 0) return undefined; // continues on the next line
        v += s.slice(j, q);
        if (q + 1 < n && s.charCodeAt(q + 1) === 34) {
          v += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      if (i === n) return out;
      if (s.charCodeAt(i) !== 44) throw new Error(`bad quoting: '${s.slice(Math.max(0, i - 10), i + 10)}' (a character after a closing quote)`);
      i++;
      if (i === n) {
        out.push('');
        return out;
      }
    } else {
      const c = s.indexOf(',', i);
      const end = c < 0 ? n : c;
      const v = s.slice(i, end);
      if (v.indexOf('"') >= 0) throw new Error(`bad quoting: '${v.length > 30 ? v.slice(0, 30) + '...' : v}' (a quote inside an unquoted field)`);
      out.push(v);
      if (c < 0) return out;
      i = c + 1;
      if (i === n) {
        out.push('');
        return out;
      }
    }
  }
}

/**
 * Stream a CSV file. `onHeader` sees the header (after checking `required` columns) and returns the
 * row handler. Rows whose field count differs from the header's stop with the file and line; an empty line
 * is skipped. Resolves to the number of data rows.
 */
export async function readCsv(
  file: string,
  required: readonly string[],
  onHeader: (h: CsvHeader) => RowHandler,
): Promise<number> {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  let input: Readable = raw;
  let streamError: Error | undefined;
  if (isGzip(file)) {
    const gz = createGunzip();
    raw.on('error', (e) => gz.destroy(e));
    input = raw.pipe(gz);
  }
  input.on('error', (e) => {
    streamError = e;
  });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  let header: CsvHeader | undefined;
  let onRow: RowHandler | undefined;
  let pending: string | undefined;
  let pendingLine = 0;
  let rows = 0;
  try {
    for await (let line of rl) {
      lineNo++;
      if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
      let rec = line;
      let start = lineNo;
      if (pending !== undefined) {
        rec = pending + '\n' + line;
        start = pendingLine;
      }
      let fields: string[] | undefined;
      try {
        fields = splitCsvRecord(rec);
      } catch (e) {
        throw new DataError(file, start, (e as Error).message);
      }
      if (fields === undefined) {
        pending = rec;
        pendingLine = start;
        continue;
      }
      pending = undefined;
      if (!header) {
        const names = fields.map((f) => f.trim());
        const index = new Map<string, number>();
        names.forEach((nm, k) => index.set(nm, k));
        for (const r of required) if (!index.has(r)) throw new DataError(file, start, `missing required column '${r}' (columns: ${names.join(', ')})`);
        header = { file, names, idx: (nm) => index.get(nm) ?? -1 };
        onRow = onHeader(header);
        continue;
      }
      if (fields.length === 1 && fields[0] === '') continue;
      if (fields.length !== header.names.length) {
        throw new DataError(file, start, `ragged row: ${fields.length} fields, the header has ${header.names.length}`);
      }
      rows++;
      onRow!(fields, start);
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, lineNo, `cannot read: ${(e as Error).message}`);
  } finally {
    rl.close();
    raw.destroy();
  }
  if (streamError) throw new DataError(file, lineNo, `cannot read: ${streamError.message}`);
  if (pending !== undefined) throw new DataError(file, pendingLine, 'bad quoting: a quoted field is never closed');
  if (!header) throw new DataError(file, 0, 'empty file (no header)');
  return rows;
}

/** Quote a field when it holds a comma, quote or newline (RFC 4180). */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line (no newline). */
export function csvLine(fields: readonly (string | number)[]): string {
  return fields.map(csvField).join(',');
}

/** Parse a MIMIC-IV timestamp `YYYY-MM-DD HH:MM:SS` (seconds optional) to milliseconds (UTC); NaN if malformed. */
export function parseTimestamp(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$/.exec(s.trim());
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0, m[7] ? Math.round(+m[7] * 1000) : 0);
}

/**
 * MIMIC-CXR StudyDate (YYYYMMDD) and StudyTime (HHMMSS.fff stored as a float, leading zeros lost:
 * `84027.734` is 08:40:27.734) to milliseconds (UTC); NaN if malformed.
 */
export function parseStudyDateTime(date: string, time: string): number {
  const d = /^(\d{4})(\d{2})(\d{2})(?:\.0+)?$/.exec(date.trim());
  if (!d) return NaN;
  const t = /^(\d{1,6})(\.\d*)?$/.exec(time.trim());
  if (!t) return NaN;
  const hms = t[1].padStart(6, '0');
  const hh = +hms.slice(0, 2), mm = +hms.slice(2, 4), ss = +hms.slice(4, 6);
  if (hh > 23 || mm > 59 || ss > 60) return NaN;
  const frac = t[2] && t[2].length > 1 ? Math.round(+`0${t[2]}` * 1000) : 0;
  return Date.UTC(+d[1], +d[2] - 1, +d[3], hh, mm, ss, frac);
}
