/**
 * The files of a protocol output folder that describe jobs (trainer runs), not cells: the folder's settings
 * (stress.json), each job's test predictions (runs/<job>/stress-predictions.json) and the shared test split
 * (testset.json). Float32 probabilities round-trip exactly through JSON (9 significant digits).
 */
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../node/files.ts';
import { readJsonFile } from '../train/run-folder.ts';
import { resolveMicroBatch } from '../train/config.ts';
import type { MissPoint } from './methods.ts';

/** /2: proposed and its ablations became two-stage (issue 14), so /1 folders' cells mean something else. */
export const SETTINGS_FORMAT = 'resilient-fusion-stress/2';
const JOB_FORMAT = 'resilient-fusion-stress-job/1';
export const JOB_FILE = 'stress-predictions.json';

/** What fixes the meaning of a folder's cells; a rerun with other settings into the same folder is an error. */
export interface Settings {
  format: string;
  preset: string;
  epochs: number;
  data: string;
  levels: number[];
  grid: number[];
  train: Record<string, string | number | boolean>;
}

/**
 * Write the folder's settings, or check that a rerun uses the same ones. A settings file over a folder that
 * holds no result yet (left by a command that failed or was killed before storing anything) is replaced, so
 * it never makes the next good command refuse to start. Returns true if this call wrote the file.
 */
export function checkSettings(out: string, s: Settings): boolean {
  const path = join(out, 'stress.json');
  if (!existsSync(path) || !holdsResults(out)) {
    writeFileAtomic(path, JSON.stringify(s, null, 2) + '\n');
    return true;
  }
  let saved: Settings;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as Settings;
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (saved.format === 'resilient-fusion-stress/1') {
    throw new Error(`${path}: this folder's cells were computed before proposed and its ablations became two-stage (pretrained encoders; the old proposed is now proposed-scratch); use another --out`);
  }
  if (saved.format !== SETTINGS_FORMAT) throw new Error(`${path}: not a stress-run settings file (format ${JSON.stringify(saved.format)})`);
  const diffs: string[] = [];
  for (const k of ['preset', 'epochs', 'data', 'levels', 'grid', 'train'] as const) {
    if (JSON.stringify(saved[k]) !== JSON.stringify(s[k])) diffs.push(`${k} ${JSON.stringify(saved[k])} there, ${JSON.stringify(s[k])} now`);
  }
  if (diffs.length) {
    throw new Error(`${out} holds a protocol run with other settings (${diffs.join('; ')}): rerun with the same settings to continue it, or use another --out`);
  }
  checkUnits(out, s);
  return false;
}

/**
 * The micro-batch is not in the settings (the preset fixes it: src/train/config.ts), but it changes the bits,
 * and base's changed from 8 to 2 on 2026-12-06: a folder whose runs were trained in other units than this
 * version's would mix the two. Each run records its own in config.json.
 */
function checkUnits(out: string, s: Settings): void {
  const runs = join(out, 'runs');
  if (!existsSync(runs)) return;
  const want = resolveMicroBatch(s.preset, typeof s.train.microBatch === 'number' ? s.train.microBatch : 0);
  for (const r of readdirSync(runs)) {
    const cfg = join(runs, r, 'config.json');
    if (!existsSync(cfg)) continue;
    const m = (readJsonFile(cfg, 'run config') as { microBatch?: unknown } | null)?.microBatch;
    if (typeof m === 'number' && m !== want) {
      throw new Error(`${out} holds runs trained in units of ${m} samples (${cfg}), and this version trains --preset ${s.preset} in units of ${want}: finish the folder with the version that started it, or use another --out`);
    }
  }
}

/**
 * Whether the folder stores anything its settings give meaning to: a stored cell, a job's predictions, or a
 * training run that saved an epoch (state.json; its folder name does not encode the preset or epochs).
 */
export function holdsResults(out: string): boolean {
  const cells = join(out, 'cells.jsonl');
  if (existsSync(cells) && statSync(cells).size > 0) return true;
  const runs = join(out, 'runs');
  return existsSync(runs) && readdirSync(runs).some((r) => existsSync(join(runs, r, JOB_FILE)) || existsSync(join(runs, r, 'state.json')));
}

/** After a failed command: remove the settings it wrote if nothing was stored under them. */
export function dropUnusedSettings(out: string): void {
  if (!holdsResults(out)) rmSync(join(out, 'stress.json'), { force: true });
}

/** The lock file of a protocol output folder in use (stress.lock: {pid, host}). */
export const OUTPUT_LOCK = 'stress.lock';

/**
 * Take the output folder for this command (`npm run stress`, with or without --queue): two commands on one
 * folder would both append the same cells to cells.jsonl. The lock holds the pid and the host name, so a
 * folder shared over a network file system is refused to a second command on another machine too; a lock of
 * this host whose process is gone is taken over; a lock of another host is only ever removed by hand (this
 * machine cannot tell whether that process lives). Returns the release.
 */
export function lockOutputFolder(out: string): () => void {
  const lock = join(out, OUTPUT_LOCK), host = hostname();
  const mine = JSON.stringify({ pid: process.pid, host }) + '\n';
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, mine);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lock, 'utf8') === mine) unlinkSync(lock);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot lock the output folder ${out}: ${(e as Error).message}`);
    }
    let held: { pid?: unknown; host?: unknown } = {};
    try {
      held = JSON.parse(readFileSync(lock, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      // Torn or foreign: named below as held by an unknown process.
    }
    const pid = Number(held.pid), other = typeof held.host === 'string' ? held.host : '?';
    if (other === host && Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      try { unlinkSync(lock); } catch { /* already gone */ }
      continue;
    }
    const who = `process ${Number.isInteger(pid) ? pid : '?'} on ${other}`;
    throw new Error(`the output folder ${out} is in use by another stress command (${who}; lock ${lock}): watch it with the same command and --status, or wait for it; remove the lock only if that process is gone`);
  }
  throw new Error(`cannot take the lock ${lock}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A job's test predictions at one test-time missingness. */
export interface JobPoint extends MissPoint {
  probs: Float32Array;
  hasImage: Uint8Array;
  hasTab: Uint8Array;
}

/** A trained job as stored: validation score and thresholds, the test split, and predictions at its points. */
export interface JobResult {
  key: string;
  name: string;
  validation: { macroAuroc: number; thresholds: number[] };
  bestEpoch: number;
  seconds: number;
  trainPrevalence: number[];
  testTargets: Float32Array;
  testPatients: number[];
  points: JobPoint[];
}

/** Float32 values as JSON numbers: 9 significant digits round-trip binary32 exactly (read back with fround). */
export function f32Json(a: Float32Array): (number | null)[] {
  return Array.from(a, (x) => (Number.isNaN(x) ? null : Number(x.toPrecision(9))));
}
function f32From(a: unknown, what: string): Float32Array {
  if (!Array.isArray(a)) throw new Error(`${what} must be an array`);
  return Float32Array.from(a, (x: unknown) => (x === null ? NaN : (x as number)));
}
const bits = (a: Uint8Array) => Array.from(a, (x) => (x ? '1' : '0')).join('');
const fromBits = (s: string) => Uint8Array.from(s, (c) => (c === '1' ? 1 : 0));

/** Store a job's predictions (atomically: a file that exists is complete). */
export function writeJob(dir: string, r: JobResult): void {
  writeFileAtomic(join(dir, JOB_FILE), JSON.stringify({
    format: JOB_FORMAT, key: r.key, name: r.name, validation: r.validation, bestEpoch: r.bestEpoch, seconds: r.seconds,
    trainPrevalence: r.trainPrevalence, testPatients: r.testPatients, testTargets: f32Json(r.testTargets),
    points: r.points.map((p) => ({ missImage: p.missImage, missTab: p.missTab, hasImage: bits(p.hasImage), hasTab: bits(p.hasTab), probs: f32Json(p.probs) })),
  }) + '\n');
}

/** Read a job's predictions; an unreadable file names itself and how to recover. */
export function readJob(path: string): JobResult {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(readFileSync(path, 'utf8'));
    if (o.format !== JOB_FORMAT) throw new Error(`format ${JSON.stringify(o.format)}, expected ${JOB_FORMAT}`);
    const v = o.validation as { macroAuroc: number | null; thresholds: number[] };
    return {
      key: o.key as string, name: o.name as string,
      validation: { macroAuroc: v.macroAuroc ?? NaN, thresholds: v.thresholds },
      bestEpoch: o.bestEpoch as number, seconds: o.seconds as number,
      trainPrevalence: o.trainPrevalence as number[], testPatients: o.testPatients as number[],
      testTargets: f32From(o.testTargets, 'testTargets'),
      points: (o.points as Record<string, unknown>[]).map((p, i) => ({
        missImage: p.missImage as number, missTab: p.missTab as number,
        hasImage: fromBits(p.hasImage as string), hasTab: fromBits(p.hasTab as string), probs: f32From(p.probs, `points[${i}].probs`),
      })),
    };
  } catch (e) {
    throw new Error(`${path}: unreadable job predictions (${(e as Error).message}); delete the file to retrain that run`);
  }
}

/** The test split every job shares: patients (the bootstrap's units) and targets [n,14]. */
export interface TestSet {
  patients: number[];
  targets: Float32Array;
  /**
   * Each test study's natural availability (no injected missingness), for the naturally-incomplete row;
   * absent in testset.json files written before it was stored.
   */
  hasImage?: Uint8Array;
  hasTab?: Uint8Array;
}

/** The test split every job must share; written once from the first job, checked against every later one. */
export function checkTestSet(out: string, r: JobResult, known: { ts?: TestSet }): void {
  const path = join(out, 'testset.json');
  if (!known.ts && existsSync(path)) known.ts = readTestSet(path);
  const same = (t: TestSet) => JSON.stringify(t.patients) === JSON.stringify(r.testPatients) &&
    t.targets.length === r.testTargets.length && t.targets.every((v, i) => Object.is(v, r.testTargets[i]));
  if (known.ts) {
    if (!same(known.ts)) throw new Error(`run ${r.name}: its test split differs from ${path}; was the data set changed? Use another --out`);
    return;
  }
  // The natural availability: the test point without injection (every job tests at level 0).
  const natural = r.points.find((p) => p.missImage === 0 && p.missTab === 0);
  known.ts = { patients: r.testPatients, targets: r.testTargets, ...(natural ? { hasImage: natural.hasImage, hasTab: natural.hasTab } : {}) };
  writeFileAtomic(path, JSON.stringify({
    patients: r.testPatients, targets: f32Json(r.testTargets), ...(natural ? { hasImage: bits(natural.hasImage), hasTab: bits(natural.hasTab) } : {}),
  }) + '\n');
}

/** testset.json. */
export function readTestSet(path: string): TestSet {
  const o = readJsonFile(path, 'test split') as { patients: number[]; targets: unknown; hasImage?: unknown; hasTab?: unknown };
  const n = Array.isArray(o.patients) ? o.patients.length : -1;
  const mask = (v: unknown) => (typeof v === 'string' && v.length === n && /^[01]*$/.test(v) ? fromBits(v) : undefined);
  const hasImage = mask(o.hasImage), hasTab = mask(o.hasTab);
  return { patients: o.patients, targets: f32From(o.targets, `${path}: targets`), ...(hasImage && hasTab ? { hasImage, hasTab } : {}) };
}

/** selection.json: the modality-dropout grid's validation scores and the rate chosen. */
export interface Selection {
  format: string;
  level: number;
  seed: number;
  grid: { drop: number; valMacroAuroc: number; run: string }[];
  chosen: number;
}
