/**
 * Stored results of the stress-test protocols (issue 6): the result row, its CSV form, and the JSON-lines
 * cell store that lets an interrupted protocol run resume where it stopped.
 *
 * Numbers are written in JavaScript's shortest round-trip form (`String(x)`), so reading gives back the same
 * float64 bits; NaN (an undefined metric, e.g. AUROC of a label with one class) is written as an empty CSV
 * field and as `null` in JSON, and read back as NaN. Nothing is skipped silently: every malformed line is an
 * error that names the file and the line.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { LABEL_NAMES } from '../engine/batch.ts';
import { writeFileAtomic } from '../node/files.ts';

/** The two protocols: which modality's missing rate is raised. */
export type Protocol = 'image' | 'tabular';
export const PROTOCOLS: readonly Protocol[] = ['image', 'tabular'];

/** One evaluation: a method trained at `trainLevel` missingness, tested at `testLevel`, one seed. */
export interface ResultRow {
  method: string;
  protocol: Protocol;
  /** Missing rate (0..1) of the protocol's modality injected into the training set. */
  trainLevel: number;
  /** Missing rate (0..1) injected into the test set. */
  testLevel: number;
  seed: number;
  macroAuroc: number;
  macroAuprc: number;
  macroF1: number;
  /** AUROC per label, in the order of the label list the file is written with (NaN where undefined). */
  perLabelAuroc: number[];
}

/** An error in a stored results file: says which file and which (1-based) line. */
export class ResultsFileError extends Error {
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'ResultsFileError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Numbers

/** Shortest round-trip text of a number; NaN -> '' (and -0 keeps its sign). */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return '';
  if (Object.is(x, -0)) return '-0';
  return String(x);
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?Infinity$/;

/** Inverse of formatNumber: '' -> NaN, otherwise a strict decimal number (no stray text, no hex). */
export function parseNumber(s: string): number {
  if (s === '') return NaN;
  if (s === 'NaN') return NaN;
  if (!NUMBER_RE.test(s)) throw new Error(`not a number: ${JSON.stringify(s)}`);
  return Number(s);
}

function isProtocol(s: unknown): s is Protocol {
  return s === 'image' || s === 'tabular';
}

function checkRowShape(r: ResultRow, nLabels: number, where: string): void {
  if (typeof r.method !== 'string' || r.method === '') throw new Error(`${where}: method must be a non-empty string`);
  if (!isProtocol(r.protocol)) throw new Error(`${where}: protocol must be 'image' or 'tabular', got ${JSON.stringify(r.protocol)}`);
  for (const k of ['trainLevel', 'testLevel'] as const) {
    if (!(r[k] >= 0 && r[k] <= 1)) throw new Error(`${where}: ${k} must be in [0, 1], got ${r[k]}`);
  }
  if (!Number.isInteger(r.seed)) throw new Error(`${where}: seed must be an integer, got ${r.seed}`);
  if (!Array.isArray(r.perLabelAuroc) || r.perLabelAuroc.length !== nLabels) {
    throw new Error(`${where}: perLabelAuroc has ${r.perLabelAuroc?.length} values, expected ${nLabels}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// CSV

const FIXED = ['method', 'protocol', 'train_level', 'test_level', 'seed', 'macro_auroc', 'macro_auprc', 'macro_f1'] as const;
const LABEL_PREFIX = 'auroc_';

/** RFC 4180 field: quoted when it holds a comma, quote, CR or LF. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Results as CSV text: a header `method,protocol,train_level,test_level,seed,macro_auroc,macro_auprc,macro_f1`
 * followed by one `auroc_<label>` column per label, then one line per row in the given order.
 */
export function resultsToCsv(rows: readonly ResultRow[], labels: readonly string[] = LABEL_NAMES): string {
  const header = [...FIXED, ...labels.map((l) => LABEL_PREFIX + l)];
  const out = [header.map(csvField).join(',')];
  rows.forEach((r, i) => {
    checkRowShape(r, labels.length, `resultsToCsv: row ${i}`);
    const f = [
      csvField(r.method), r.protocol, formatNumber(r.trainLevel), formatNumber(r.testLevel), formatNumber(r.seed),
      formatNumber(r.macroAuroc), formatNumber(r.macroAuprc), formatNumber(r.macroF1), ...r.perLabelAuroc.map(formatNumber),
    ];
    out.push(f.join(','));
  });
  return out.join('\n') + '\n';
}

/** CSV records with the 1-based line each starts on (quoted fields may span lines). */
function csvRecords(text: string, file: string): { fields: string[]; line: number }[] {
  const recs: { fields: string[]; line: number }[] = [];
  let i = 0, line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let f = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new ResultsFileError(file, start, 'unterminated quoted field');
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') { f += '"'; i += 2; continue; }
            i++;
            break;
          }
          if (c === '\n') line++;
          f += c;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw new ResultsFileError(file, line, 'text after a closing quote');
        }
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') throw new ResultsFileError(file, line, 'quote inside an unquoted field');
          f += text[i++];
        }
      }
      fields.push(f);
      if (i < n && text[i] === ',') { i++; continue; }
      break;
    }
    if (text[i] === '\r') i++;
    if (i < n && text[i] !== '\n') throw new ResultsFileError(file, line, 'bare carriage return');
    if (i < n) { i++; line++; }
    recs.push({ fields, line: start });
  }
  return recs;
}

/**
 * Parse results CSV text (the inverse of resultsToCsv). Columns are found by name, not position; every
 * column after the fixed ones must be `auroc_<label>`. Returns the rows and the label list of the header.
 * Errors name `file` and the line.
 */
export function parseResultsCsv(text: string, file = '<csv>'): { rows: ResultRow[]; labels: string[] } {
  const recs = csvRecords(text, file);
  if (recs.length === 0) throw new ResultsFileError(file, 1, 'empty file: no header');
  const header = recs[0].fields;
  const col = new Map<string, number>();
  header.forEach((h, j) => {
    if (col.has(h)) throw new ResultsFileError(file, recs[0].line, `duplicate column ${JSON.stringify(h)}`);
    col.set(h, j);
  });
  for (const k of FIXED) if (!col.has(k)) throw new ResultsFileError(file, recs[0].line, `missing column ${JSON.stringify(k)}`);
  const fixed = new Set<string>(FIXED);
  const labels: string[] = [], labelCols: number[] = [];
  header.forEach((h, j) => {
    if (fixed.has(h)) return;
    if (!h.startsWith(LABEL_PREFIX) || h.length === LABEL_PREFIX.length) {
      throw new ResultsFileError(file, recs[0].line, `unknown column ${JSON.stringify(h)} (per-label columns are ${LABEL_PREFIX}<label>)`);
    }
    labels.push(h.slice(LABEL_PREFIX.length));
    labelCols.push(j);
  });
  const rows: ResultRow[] = [];
  for (let r = 1; r < recs.length; r++) {
    const { fields, line } = recs[r];
    if (fields.length === 1 && fields[0] === '') throw new ResultsFileError(file, line, 'empty line');
    if (fields.length !== header.length) {
      throw new ResultsFileError(file, line, `${fields.length} fields, header has ${header.length}`);
    }
    const num = (name: string, j: number): number => {
      try {
        return parseNumber(fields[j]);
      } catch (e) {
        throw new ResultsFileError(file, line, `column ${name}: ${(e as Error).message}`);
      }
    };
    const get = (k: (typeof FIXED)[number]) => num(k, col.get(k)!);
    const protocol = fields[col.get('protocol')!];
    if (!isProtocol(protocol)) throw new ResultsFileError(file, line, `protocol must be image or tabular, got ${JSON.stringify(protocol)}`);
    const row: ResultRow = {
      method: fields[col.get('method')!],
      protocol,
      trainLevel: get('train_level'),
      testLevel: get('test_level'),
      seed: get('seed'),
      macroAuroc: get('macro_auroc'),
      macroAuprc: get('macro_auprc'),
      macroF1: get('macro_f1'),
      perLabelAuroc: labelCols.map((j, k) => num(LABEL_PREFIX + labels[k], j)),
    };
    try {
      checkRowShape(row, labels.length, 'row');
    } catch (e) {
      throw new ResultsFileError(file, line, (e as Error).message.replace(/^row: /, ''));
    }
    rows.push(row);
  }
  return { rows, labels };
}

/** Write results CSV atomically (temporary file, then rename). */
export function writeResultsCsv(path: string, rows: readonly ResultRow[], labels: readonly string[] = LABEL_NAMES): void {
  writeFileAtomic(path, resultsToCsv(rows, labels));
}

/** Read a results CSV written by writeResultsCsv. */
export function readResultsCsv(path: string): { rows: ResultRow[]; labels: string[] } {
  return parseResultsCsv(readFileSync(path, 'utf8'), path);
}

// ---------------------------------------------------------------------------------------------------------
// Cell store

/** What identifies one trained cell: a method trained at one level of one protocol with one seed. */
export interface CellKey {
  method: string;
  protocol: Protocol;
  trainLevel: number;
  seed: number;
}

/** Test-set probabilities of a cell at one test level, [n, L] row-major, for the paired bootstrap. */
export interface CellPredictions {
  testLevel: number;
  probs: number[];
}

/**
 * A finished cell: its key, one result row per test level (all with the cell's key), optionally the test
 * probabilities the significance tests need, and free JSON metadata (config, timings) the runner may keep.
 */
export interface StoredCell extends CellKey {
  rows: ResultRow[];
  predictions?: CellPredictions[];
  meta?: unknown;
}

/** The string that identifies a cell key (used for resume and duplicate checks). */
export function cellId(k: CellKey): string {
  return JSON.stringify([k.method, k.protocol, k.trainLevel, k.seed]);
}

/** JSON cannot hold NaN: write null, which decodeCell reads back as NaN. */
function encodeCell(c: StoredCell): string {
  return JSON.stringify(c, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? null : String(v)) : v));
}

function numOrNaN(v: unknown, what: string): number {
  if (v === null) return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (typeof v !== 'number') throw new Error(`${what} must be a number or null, got ${JSON.stringify(v)}`);
  return v;
}

function finite(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what} must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

/** Check a cell's shape and its rows' consistency with its key; returns a clean copy. */
function decodeCell(o: unknown, nLabels?: number): StoredCell {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('a cell must be a JSON object');
  const c = o as Record<string, unknown>;
  if (typeof c.method !== 'string' || c.method === '') throw new Error('method must be a non-empty string');
  if (!isProtocol(c.protocol)) throw new Error(`protocol must be image or tabular, got ${JSON.stringify(c.protocol)}`);
  const key: CellKey = { method: c.method, protocol: c.protocol, trainLevel: finite(c.trainLevel, 'trainLevel'), seed: finite(c.seed, 'seed') };
  if (!Array.isArray(c.rows)) throw new Error('rows must be an array');
  const rows: ResultRow[] = c.rows.map((x: unknown, i: number) => {
    if (typeof x !== 'object' || x === null) throw new Error(`rows[${i}] must be an object`);
    const r = x as Record<string, unknown>;
    if (!Array.isArray(r.perLabelAuroc)) throw new Error(`rows[${i}].perLabelAuroc must be an array`);
    const row: ResultRow = {
      method: r.method as string,
      protocol: r.protocol as Protocol,
      trainLevel: finite(r.trainLevel, `rows[${i}].trainLevel`),
      testLevel: finite(r.testLevel, `rows[${i}].testLevel`),
      seed: finite(r.seed, `rows[${i}].seed`),
      macroAuroc: numOrNaN(r.macroAuroc, `rows[${i}].macroAuroc`),
      macroAuprc: numOrNaN(r.macroAuprc, `rows[${i}].macroAuprc`),
      macroF1: numOrNaN(r.macroF1, `rows[${i}].macroF1`),
      perLabelAuroc: r.perLabelAuroc.map((v: unknown, j: number) => numOrNaN(v, `rows[${i}].perLabelAuroc[${j}]`)),
    };
    checkRowShape(row, nLabels ?? row.perLabelAuroc.length, `rows[${i}]`);
    if (cellId(row) !== cellId(key)) throw new Error(`rows[${i}] belongs to cell ${cellId(row)}, not ${cellId(key)}`);
    return row;
  });
  const cell: StoredCell = { ...key, rows };
  if (c.predictions !== undefined) {
    if (!Array.isArray(c.predictions)) throw new Error('predictions must be an array');
    cell.predictions = c.predictions.map((x: unknown, i: number) => {
      const p = x as Record<string, unknown>;
      if (typeof p !== 'object' || p === null || !Array.isArray(p.probs)) throw new Error(`predictions[${i}] must be {testLevel, probs[]}`);
      return { testLevel: finite(p.testLevel, `predictions[${i}].testLevel`), probs: p.probs.map((v: unknown, j: number) => numOrNaN(v, `predictions[${i}].probs[${j}]`)) };
    });
  }
  if (c.meta !== undefined) cell.meta = c.meta;
  return cell;
}

/** Parse cell-store text: one JSON cell per line. Any bad line (including a torn last line) is an error. */
export function parseCells(text: string, file = '<cells>'): StoredCell[] {
  const cells: StoredCell[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  const last = lines.pop()!; // '' when the text ends with a newline, as every complete append does
  if (last !== '') {
    throw new ResultsFileError(file, lines.length + 1, 'torn last line (no newline): an append was interrupted; repairCellStore() removes it');
  }
  lines.forEach((l, i) => {
    const line = i + 1;
    let cell: StoredCell;
    try {
      cell = decodeCell(JSON.parse(l));
    } catch (e) {
      throw new ResultsFileError(file, line, `corrupt cell: ${(e as Error).message}`);
    }
    const id = cellId(cell);
    if (seen.has(id)) throw new ResultsFileError(file, line, `duplicate cell ${id}, first stored at line ${seen.get(id)}`);
    seen.set(id, line);
    cells.push(cell);
  });
  return cells;
}

/** Read a cell store; a missing file is an empty store. */
export function readCells(path: string): StoredCell[] {
  if (!existsSync(path)) return [];
  return parseCells(readFileSync(path, 'utf8'), path);
}

/**
 * Append one finished cell as a single `write` of one complete line (O_APPEND), then fsync, so the line is
 * either wholly there or (after a crash mid-write) a torn last line that the reader reports. Refuses to append
 * after a torn line, which would glue two records together.
 */
export function appendCell(path: string, cell: StoredCell): void {
  decodeCell(JSON.parse(encodeCell(cell))); // the same checks the reader applies: never store what cannot be read
  const line = Buffer.from(encodeCell(cell) + '\n');
  if (existsSync(path)) {
    const text = readFileSync(path);
    if (text.length > 0 && text[text.length - 1] !== 0x0a) {
      throw new ResultsFileError(path, text.toString('utf8').split('\n').length, 'torn last line: repair the store before appending');
    }
  }
  const fd = openSync(path, 'a');
  try {
    let off = 0;
    while (off < line.length) off += writeSync(fd, line, off, line.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Remove a torn last line (text after the final newline) left by an interrupted append. Returns the
 * 1-based line number and the text it removed, or null when the store was intact. The caller should log it.
 */
export function repairCellStore(path: string): { line: number; text: string } | null {
  if (!existsSync(path)) return null;
  const text = readFileSync(path, 'utf8');
  const cut = text.lastIndexOf('\n') + 1;
  if (cut === text.length) return null;
  const line = text.slice(0, cut).split('\n').length;
  writeFileAtomic(path, text.slice(0, cut));
  return { line, text: text.slice(cut) };
}

/**
 * A cell store for one protocol run: load what is stored, ask whether a cell is done, append new cells.
 * `new CellStore(path)` reads the file (strictly) once; `has` then answers without rereading.
 */
export class CellStore {
  private readonly done = new Map<string, StoredCell>();

  constructor(readonly path: string) {
    for (const c of readCells(path)) this.done.set(cellId(c), c);
  }

  /** Is this cell already stored? */
  has(key: CellKey): boolean {
    return this.done.has(cellId(key));
  }

  /** The stored cell, if any. */
  get(key: CellKey): StoredCell | undefined {
    return this.done.get(cellId(key));
  }

  /** Store a finished cell. A cell that is already stored is an error (a run must not train it twice). */
  append(cell: StoredCell): void {
    const id = cellId(cell);
    if (this.done.has(id)) throw new Error(`cell store ${this.path}: cell ${id} is already stored`);
    appendCell(this.path, cell);
    this.done.set(id, cell);
  }

  /** Every stored cell, in the order stored. */
  cells(): StoredCell[] {
    return [...this.done.values()];
  }

  /** Every result row of every stored cell. */
  rows(): ResultRow[] {
    return this.cells().flatMap((c) => c.rows);
  }
}
