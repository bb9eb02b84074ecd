/**
 * predictions.csv of `npm run evaluate`: one row per study with its ids, what entered the model, the labels as
 * observed, the probabilities and the calls, written so that reading it back gives the same numbers
 * (probabilities as the shortest decimal of their value, so the float32 bits survive). No Node.js API.
 *
 * Columns: study_id, subject_id, split, image (1/0), table (1/0), table_features (count present), then per
 * label `label: L` (1, 0, -1 uncertain, empty not mentioned), then `p: L`, then `call: L` (1 positive at the
 * validation threshold, 0 negative).
 */

/** One split's rows, in study order. */
export interface PredictionRows {
  labels: readonly string[];
  studyIds: ArrayLike<number>;
  patients: ArrayLike<number>;
  split: string;
  hasImage: ArrayLike<number>;
  hasTab: ArrayLike<number>;
  tabPresent: ArrayLike<number>;
  /** [n, L] labels as observed: 1, 0, -1 (uncertain), NaN (blank). */
  observed: ArrayLike<number>;
  /** [n, L] probabilities as reported. */
  probs: ArrayLike<number>;
  thresholds: readonly number[];
}

function cell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function labelCell(v: number): string {
  return v === 1 || v === 0 || v === -1 ? String(v) : '';
}

/** The CSV text (a header and one line per study, final newline). */
export function predictionsCsv(r: PredictionRows): string {
  const L = r.labels.length, n = r.patients.length;
  const head = ['study_id', 'subject_id', 'split', 'image', 'table', 'table_features',
    ...r.labels.map((l) => `label: ${l}`), ...r.labels.map((l) => `p: ${l}`), ...r.labels.map((l) => `call: ${l}`)];
  const lines = [head.map(cell).join(',')];
  for (let i = 0; i < n; i++) {
    const f: (string | number)[] = [r.studyIds[i], r.patients[i], r.split, r.hasImage[i] ? 1 : 0, r.hasTab[i] ? 1 : 0, r.tabPresent[i]];
    for (let j = 0; j < L; j++) f.push(labelCell(r.observed[i * L + j]));
    for (let j = 0; j < L; j++) f.push(r.probs[i * L + j]);
    for (let j = 0; j < L; j++) f.push(r.probs[i * L + j] >= r.thresholds[j] ? 1 : 0);
    lines.push(f.map(cell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** A predictions.csv read back: the arrays `scoreSplit` takes (targets: observed 1/0, everything else NaN). */
export interface ReadPredictions {
  labels: string[];
  studyIds: number[];
  patients: number[];
  hasImage: Uint8Array;
  hasTab: Uint8Array;
  tabPresent: Float64Array;
  observed: Float64Array;
  targets: Float64Array;
  probs: Float64Array;
  calls: Uint8Array;
}

/** Split one CSV line (quotes as `predictionsCsv` writes them). */
function splitLine(line: string): string[] {
  const out: string[] = [];
  let cur = '', q = false;
  for (let k = 0; k < line.length; k++) {
    const c = line[k];
    if (q) {
      if (c === '"' && line[k + 1] === '"') { cur += '"'; k++; } else if (c === '"') q = false; else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Parse a predictions.csv; errors name the line. */
export function readPredictionsCsv(text: string): ReadPredictions {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length === 0) throw new Error('predictions.csv: empty');
  const head = splitLine(lines[0]);
  const labels = head.filter((h) => h.startsWith('p: ')).map((h) => h.slice(3));
  const L = labels.length, n = lines.length - 1;
  const col = (name: string) => {
    const k = head.indexOf(name);
    if (k < 0) throw new Error(`predictions.csv: no column '${name}'`);
    return k;
  };
  const [cs, cp, ci, ct, cf] = ['study_id', 'subject_id', 'image', 'table', 'table_features'].map(col);
  const cl = labels.map((l) => col(`label: ${l}`)), cpr = labels.map((l) => col(`p: ${l}`)), cc = labels.map((l) => col(`call: ${l}`));
  const r: ReadPredictions = {
    labels, studyIds: [], patients: [], hasImage: new Uint8Array(n), hasTab: new Uint8Array(n), tabPresent: new Float64Array(n),
    observed: new Float64Array(n * L), targets: new Float64Array(n * L), probs: new Float64Array(n * L), calls: new Uint8Array(n * L),
  };
  for (let i = 0; i < n; i++) {
    const f = splitLine(lines[i + 1]);
    if (f.length !== head.length) throw new Error(`predictions.csv line ${i + 2}: ${f.length} fields, the header has ${head.length}`);
    r.studyIds.push(Number(f[cs]));
    r.patients.push(Number(f[cp]));
    r.hasImage[i] = f[ci] === '1' ? 1 : 0;
    r.hasTab[i] = f[ct] === '1' ? 1 : 0;
    r.tabPresent[i] = Number(f[cf]);
    for (let j = 0; j < L; j++) {
      const o = f[cl[j]] === '' ? NaN : Number(f[cl[j]]);
      r.observed[i * L + j] = o;
      r.targets[i * L + j] = o === 0 || o === 1 ? o : NaN;
      r.probs[i * L + j] = Number(f[cpr[j]]);
      r.calls[i * L + j] = f[cc[j]] === '1' ? 1 : 0;
    }
  }
  return r;
}
