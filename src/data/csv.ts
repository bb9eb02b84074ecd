/**
 * Streaming CSV reading (RFC 4180) for the MIMIC tables: plain or gzipped (detected by the gzip magic bytes,
 * whatever the file is called), a UTF-8 byte-order mark stripped, quoted fields with commas, doubled quotes
 * and newlines, read chunk by chunk so a file of tens of GB never sits in memory. Quote state is carried from
 * line to line (linear time), and a line or record over the caps (CsvLimits) stops in bounded memory.
 * Malformed input stops with the file and line: a ragged row, bad quoting, a missing required column.
 */
import { createReadStream, existsSync, openSync, readSync, closeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
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

/** Caps on one record, so that an unclosed quote or a file that is one huge line fails fast in bounded memory. */
export interface CsvLimits {
  /** Characters in one physical line, and in one record over all its lines (default 1 Mi). */
  maxRecordChars: number;
  /** Physical lines one record may span (a quoted field with newlines; default 1000). */
  maxRecordLines: number;
}

/** MIMIC rows are a few hundred characters; these caps are far above any real record. */
export const DEFAULT_CSV_LIMITS: CsvLimits = { maxRecordChars: 1 << 20, maxRecordLines: 1000 };

/** A record being assembled line by line: its fields so far and the text of a quoted field still open. */
interface RecordState {
  fields: string[];
  /** The open quoted field's text up to the end of the previous line; undefined when no field is open. */
  open: string | undefined;
  /** Set by scanLine when the field still open at the end of the line was opened on that line. */
  openedHere: boolean;
}

function badQuote(msg: string): Error {
  return new Error(`bad quoting: ${msg}`);
}

/**
 * Scan one physical line into the record (RFC 4180). Returns true when the record is complete, false when
 * the line ends inside a quoted field (st.open holds its text; the next line continues it after a newline).
 * Every character is visited once, so a record over many lines costs its length, not its length squared.
 */
function scanLine(s: string, st: RecordState): boolean {
  const n = s.length;
  let i = 0, j = 0;
  let inQuote = st.open !== undefined;
  let v = inQuote ? st.open + '\n' : '';
  st.openedHere = false;
  for (;;) {
    if (!inQuote) {
      if (i < n && s.charCodeAt(i) === 34) {
        inQuote = true;
        st.openedHere = true;
        v = '';
        j = i + 1;
        continue;
      }
      const c = s.indexOf(',', i);
      const f = s.slice(i, c < 0 ? n : c);
      if (f.indexOf('"') >= 0) throw badQuote(`'${f.length > 30 ? f.slice(0, 30) + '...' : f}' (a quote inside an unquoted field)`);
      st.fields.push(f);
      if (c < 0) break;
      i = c + 1;
      if (i === n) {
        st.fields.push('');
        break;
      }
      continue;
    }
    const q = s.indexOf('"', j);
    if (q < 0) {
      st.open = v + s.slice(j);
      return false;
    }
    v += s.slice(j, q);
    if (q + 1 < n && s.charCodeAt(q + 1) === 34) {
      v += '"';
      j = q + 2;
      continue;
    }
    inQuote = false;
    st.fields.push(v);
    i = q + 1;
    if (i === n) break;
    if (s.charCodeAt(i) !== 44) throw badQuote(`'${s.slice(Math.max(0, i - 10), i + 10)}' (a character after a closing quote)`);
    i++;
    if (i === n) {
      st.fields.push('');
      break;
    }
  }
  st.open = undefined;
  return true;
}

/**
 * Split one logical CSV record (its lines joined by newlines). Returns undefined when the record ends inside
 * a quoted field. Throws on bad quoting.
 */
export function splitCsvRecord(s: string): string[] | undefined {
  if (s.indexOf('"') < 0) return s.split(',');
  const st: RecordState = { fields: [], open: undefined, openedHere: false };
  return scanLine(s, st) ? st.fields : undefined;
}

/**
 * Cut decoded text into physical lines (ends: \r\n, \n or a lone \r, as node:readline does) and hand each to
 * `onLine`. A line is held in pieces until its end arrives, and one longer than `maxChars` throws before it
 * is joined, so a file that is one huge line never becomes one huge string.
 */
class LineSplitter {
  private parts: string[] = [];
  private partChars = 0;
  private skipLf = false;
  /** Lines handed out so far. */
  lines = 0;
  constructor(private readonly maxChars: number, private readonly onLine: (line: string) => void, private readonly tooLong: (line: number) => Error) {}

  push(s: string): void {
    let pos = 0;
    const n = s.length;
    if (this.skipLf && n > 0) {
      if (s.charCodeAt(0) === 10) pos = 1;
      this.skipLf = false;
    }
    let nl = s.indexOf('\n', pos), cr = s.indexOf('\r', pos);
    if (cr < 0) {
      // No carriage return in this piece (the usual file): cut at each \n only, one indexOf per line.
      while (nl >= 0) {
        this.emit(s.slice(pos, nl));
        pos = nl + 1;
        nl = s.indexOf('\n', pos);
      }
      if (pos < n) this.hold(s.slice(pos));
      return;
    }
    while (pos < n) {
      if (nl >= 0 && nl < pos) nl = s.indexOf('\n', pos);
      if (cr >= 0 && cr < pos) cr = s.indexOf('\r', pos);
      const end = nl < 0 ? cr : cr < 0 ? nl : Math.min(nl, cr);
      if (end < 0) {
        this.hold(s.slice(pos));
        return;
      }
      this.emit(s.slice(pos, end));
      pos = end + 1;
      if (end === cr) {
        if (pos < n) {
          if (s.charCodeAt(pos) === 10) pos++;
        } else this.skipLf = true;
      }
    }
  }

  /** The last line, when the text does not end with a line break. */
  end(): void {
    if (this.parts.length) this.emit('');
  }

  private hold(piece: string): void {
    this.partChars += piece.length;
    if (this.partChars > this.maxChars) throw this.tooLong(this.lines + 1);
    this.parts.push(piece);
  }

  private emit(tail: string): void {
    let line = tail;
    if (this.parts.length) {
      if (this.partChars + tail.length > this.maxChars) throw this.tooLong(this.lines + 1);
      this.parts.push(tail);
      line = this.parts.join('');
      this.parts = [];
      this.partChars = 0;
    } else if (tail.length > this.maxChars) throw this.tooLong(this.lines + 1);
    this.lines++;
    this.onLine(line);
  }
}

/** Open a CSV file as a byte stream, through gunzip when it starts with the gzip magic bytes. */
function openCsvStream(file: string): { input: Readable; raw: Readable } {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  if (!isGzip(file)) return { input: raw, raw };
  const gz = createGunzip();
  raw.on('error', (e) => gz.destroy(e));
  return { input: raw.pipe(gz), raw };
}

/**
 * Turns physical lines into records and records into header and row calls: the state of readCsv between
 * lines (the record being assembled, where its open quote started, the caps).
 */
class RecordReader {
  private st: RecordState = { fields: [], open: undefined, openedHere: false };
  private start = 0;
  private quoteLine = 0;
  private recLines = 0;
  private recChars = 0;
  private header: CsvHeader | undefined;
  private onRow: RowHandler | undefined;
  rows = 0;

  constructor(
    private readonly file: string,
    private readonly required: readonly string[],
    private readonly onHeader: (h: CsvHeader) => RowHandler,
    private readonly limits: CsvLimits,
  ) {}

  /** One physical line, 1-based number `lineNo`. */
  line(text: string, lineNo: number): void {
    if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const st = this.st;
    if (st.open === undefined) {
      this.start = lineNo;
      this.recLines = 0;
      this.recChars = 0;
      if (text.indexOf('"') < 0) {
        this.record(text.split(','));
        return;
      }
    }
    this.recLines++;
    this.recChars += text.length + 1;
    try {
      if (!scanLine(text, st)) {
        if (st.openedHere) this.quoteLine = lineNo;
        const { maxRecordChars, maxRecordLines } = this.limits;
        if (this.recLines >= maxRecordLines || this.recChars > maxRecordChars) {
          throw badQuote(`a quoted field opened on this line is still open after ${this.recLines} lines (${this.recChars} characters); a record may span at most ${maxRecordLines} lines and ${maxRecordChars} characters`);
        }
        return;
      }
    } catch (e) {
      throw new DataError(this.file, st.open !== undefined ? this.quoteLine : lineNo, (e as Error).message);
    }
    const fields = st.fields;
    st.fields = [];
    this.record(fields);
  }

  /** End of input: a quote still open is an error at the line where it opened. */
  finish(): void {
    if (this.st.open !== undefined) throw new DataError(this.file, this.quoteLine, 'bad quoting: a quoted field is never closed');
    if (!this.header) throw new DataError(this.file, 0, 'empty file (no header)');
  }

  private record(fields: string[]): void {
    const { file, start } = this;
    if (!this.header) {
      const names = fields.map((f) => f.trim());
      const index = new Map<string, number>();
      names.forEach((nm, k) => index.set(nm, k));
      for (const r of this.required) if (!index.has(r)) throw new DataError(file, start, `missing required column '${r}' (columns: ${names.join(', ')})`);
      this.header = { file, names, idx: (nm) => index.get(nm) ?? -1 };
      this.onRow = this.onHeader(this.header);
      return;
    }
    if (fields.length === 1 && fields[0] === '') return;
    if (fields.length !== this.header.names.length) {
      throw new DataError(file, start, `ragged row: ${fields.length} fields, the header has ${this.header.names.length}`);
    }
    this.rows++;
    this.onRow!(fields, start);
  }
}

/**
 * Stream a CSV file. `onHeader` sees the header (after checking `required` columns) and returns the
 * row handler. Rows whose field count differs from the header's stop with the file and line; an empty line
 * is skipped. A line or record over `limits` stops with the line (for an open quote, the line it opened on),
 * in memory bounded by the caps. Resolves to the number of data rows.
 */
export async function readCsv(
  file: string,
  required: readonly string[],
  onHeader: (h: CsvHeader) => RowHandler,
  limits: Partial<CsvLimits> = {},
): Promise<number> {
  const lim: CsvLimits = { ...DEFAULT_CSV_LIMITS, ...limits };
  const { input, raw } = openCsvStream(file);
  const reader = new RecordReader(file, required, onHeader, lim);
  const lines = new LineSplitter(
    lim.maxRecordChars,
    (text) => reader.line(text, lines.lines),
    (line) => new DataError(file, line, `line longer than ${lim.maxRecordChars} characters: not a CSV table (or a record over the cap)`),
  );
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of input) lines.push(decoder.write(chunk as Buffer));
    lines.push(decoder.end());
    lines.end();
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, lines.lines, `cannot read: ${(e as Error).message}`);
  } finally {
    raw.destroy();
    input.destroy();
  }
  reader.finish();
  return reader.rows;
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
