/**
 * The stress-test protocol runner (issue 6): trains every method of every cell, evaluates each trained model
 * at every test level, stores each finished cell in the output folder's cell store, and writes the report.
 *
 * Output folder layout:
 *   stress.json        the settings that fix what a cell means (preset, epochs, data, levels, grid); a rerun
 *                      with other settings into the same folder is an error
 *   cells.jsonl        the CellStore: one finished cell per line, with its test probabilities at its own level
 *   selection.json     the modality-dropout grid and the rate chosen on validation
 *   testset.json       test-split targets and patients (the bootstrap's resampling units)
 *   runs/<job>/        one trainer run folder per distinct training configuration, with
 *                      stress-predictions.json: its test predictions at every test-time missingness it serves
 *   results.csv summary.md report.html plot-*.svg heatmap-*.svg
 *
 * Resume works at two levels: a stored cell is never recomputed, and a job whose predictions file exists is
 * never retrained (cells that share it, or late fusion, are built from the file); a job interrupted in
 * training continues from its last epoch boundary through the trainer's own resume.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LABEL_NAMES } from '../engine/batch.ts';
import { evaluate } from '../eval/index.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../train/config.ts';
import { writeFileAtomic } from '../train/files.ts';
import { train } from '../train/trainer.ts';
import type { TestPoint } from '../train/trainer.ts';
import {
  METHODS, METHOD_DEFINITIONS, PROPOSED, USES_DROPOUT_CHOICE, jobKey, jobName, modelPlans, planCell, planJobs,
} from './methods.ts';
import type { JobSpec, MethodName, MissPoint, ModelPlan, Plan } from './methods.ts';
import { fixed } from './plot.ts';
import { writeReportArtifacts } from './report.ts';
import type { ReportInput, ReportTable } from './report.ts';
import { CellStore, PROTOCOLS, repairCellStore } from './results.ts';
import type { CellKey, Protocol, ResultRow, StoredCell } from './results.ts';
import { pairedBootstrap, summarize } from './stats.ts';
import type { Comparison } from './stats.ts';

/** Default test and train levels: 0, 0.1, ..., 1.0. */
export const DEFAULT_LEVELS: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10); // i / 10 is the double nearest to the decimal
/** Default modality-dropout grid for the proposed method (dropImage = dropTab = d). */
export const DEFAULT_GRID: readonly number[] = [0, 0.15, 0.3];
/** An endpoint gap (macro AUROC) above this is a sanity-check failure (DESIGN.md, "Training and experiments"). */
export const SANITY_GAP = 0.05;

export interface StressOptions {
  /** Output folder (settings, cell store, run folders, artefacts). */
  out: string;
  protocols: Protocol[];
  levels: number[];
  methods: MethodName[];
  /** Seeds 0..seeds-1. */
  seeds: number;
  preset: 'tiny' | 'small' | 'base';
  epochs: number;
  /** Data set folder; empty: the synthetic set at synthDir (generated on first use). */
  data?: string;
  synthDir?: string;
  /** Worker threads per training run (0: all cores). */
  threads?: number;
  /** Modality-dropout grid of the proposed method. */
  grid?: number[];
  /** Bootstrap replicates per comparison. */
  replicates?: number;
  /** Further trainer overrides shared by every run (e.g. batch, lr); part of the folder's settings. */
  train?: Record<string, string | number | boolean>;
  /** The command line, shown in the report. */
  command?: string;
  log?: (line: string) => void;
  /** Forward the trainer's own log lines (with progress lines). */
  verbose?: boolean;
  signal?: AbortSignal;
  /** Called before each training run starts (tests count these). */
  onTrain?: (job: string) => void;
}

export interface SanityCheck {
  protocol: Protocol;
  /** The proposed model's train level: 1 for the check proper, 0 for the informational line. */
  trainLevel: number;
  /** Test level (1). */
  level: number;
  baseline: MethodName;
  proposed: number;
  baselineScore: number;
  gap: number;
  ok: boolean;
}

export interface StressResult {
  out: string;
  interrupted: boolean;
  /** Training runs started by this call. */
  trained: number;
  /** Cells stored by this call, and cells the run covers in all. */
  cellsAdded: number;
  cellsTotal: number;
  drop?: number;
  artifacts: string[];
  report?: string;
  sanity: SanityCheck[];
  rows: ResultRow[];
  comparisons: Comparison[];
}

/** Thrown inside the runner when a training run was interrupted (Ctrl-C or the abort signal). */
class Interrupted extends Error {}

// ---------------------------------------------------------------------------------------------------------
// Files of the output folder

const SETTINGS_FORMAT = 'resilient-fusion-stress/1';
const JOB_FORMAT = 'resilient-fusion-stress-job/1';
const JOB_FILE = 'stress-predictions.json';

interface Settings {
  format: string;
  preset: string;
  epochs: number;
  data: string;
  levels: number[];
  grid: number[];
  train: Record<string, string | number | boolean>;
}

/** Write the folder's settings, or check that a rerun uses the same ones. */
function checkSettings(out: string, s: Settings): void {
  const path = join(out, 'stress.json');
  if (!existsSync(path)) {
    writeFileAtomic(path, JSON.stringify(s, null, 2) + '\n');
    return;
  }
  let saved: Settings;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as Settings;
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (saved.format !== SETTINGS_FORMAT) throw new Error(`${path}: not a stress-run settings file (format ${JSON.stringify(saved.format)})`);
  const diffs: string[] = [];
  for (const k of ['preset', 'epochs', 'data', 'levels', 'grid', 'train'] as const) {
    if (JSON.stringify(saved[k]) !== JSON.stringify(s[k])) diffs.push(`${k} ${JSON.stringify(saved[k])} there, ${JSON.stringify(s[k])} now`);
  }
  if (diffs.length) {
    throw new Error(`${out} holds a protocol run with other settings (${diffs.join('; ')}): rerun with the same settings to continue it, or use another --out`);
  }
}

/** A job's test predictions at one test-time missingness. */
interface JobPoint extends MissPoint {
  probs: Float32Array;
  hasImage: Uint8Array;
  hasTab: Uint8Array;
}

interface JobResult {
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
function f32Json(a: Float32Array): (number | null)[] {
  return Array.from(a, (x) => (Number.isNaN(x) ? null : Number(x.toPrecision(9))));
}
function f32From(a: unknown, what: string): Float32Array {
  if (!Array.isArray(a)) throw new Error(`${what} must be an array`);
  return Float32Array.from(a, (x: unknown) => (x === null ? NaN : (x as number)));
}
const bits = (a: Uint8Array) => Array.from(a, (x) => (x ? '1' : '0')).join('');
const fromBits = (s: string) => Uint8Array.from(s, (c) => (c === '1' ? 1 : 0));

function writeJob(dir: string, r: JobResult): void {
  writeFileAtomic(join(dir, JOB_FILE), JSON.stringify({
    format: JOB_FORMAT, key: r.key, name: r.name, validation: r.validation, bestEpoch: r.bestEpoch, seconds: r.seconds,
    trainPrevalence: r.trainPrevalence, testPatients: r.testPatients, testTargets: f32Json(r.testTargets),
    points: r.points.map((p) => ({ missImage: p.missImage, missTab: p.missTab, hasImage: bits(p.hasImage), hasTab: bits(p.hasTab), probs: f32Json(p.probs) })),
  }) + '\n');
}

function readJob(path: string): JobResult {
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

interface TestSet {
  patients: number[];
  targets: Float32Array;
}

/** The test split every job must share; written once from the first job, checked against every later one. */
function checkTestSet(out: string, r: JobResult, known: { ts?: TestSet }): void {
  const path = join(out, 'testset.json');
  if (!known.ts && existsSync(path)) known.ts = readTestSet(path);
  const same = (t: TestSet) => JSON.stringify(t.patients) === JSON.stringify(r.testPatients) &&
    t.targets.length === r.testTargets.length && t.targets.every((v, i) => Object.is(v, r.testTargets[i]));
  if (known.ts) {
    if (!same(known.ts)) throw new Error(`run ${r.name}: its test split differs from ${path}; was the data set changed? Use another --out`);
    return;
  }
  known.ts = { patients: r.testPatients, targets: r.testTargets };
  writeFileAtomic(path, JSON.stringify({ patients: r.testPatients, targets: f32Json(r.testTargets) }) + '\n');
}

function readTestSet(path: string): TestSet {
  const o = JSON.parse(readFileSync(path, 'utf8')) as { patients: number[]; targets: unknown };
  return { patients: o.patients, targets: f32From(o.targets, `${path}: targets`) };
}

interface Selection {
  format: string;
  level: number;
  seed: number;
  grid: { drop: number; valMacroAuroc: number; run: string }[];
  chosen: number;
}

// ---------------------------------------------------------------------------------------------------------
// Plans and jobs

const samePoint = (a: MissPoint, b: MissPoint) => a.missImage === b.missImage && a.missTab === b.missTab;

/**
 * The test points of a job: every test-time missingness any cell of either protocol (at any level, with any
 * grid rate) could read from it. A function of the job and the folder's settings only, so a job trained for one
 * invocation serves a later one with more protocols or methods.
 */
function jobPoints(job: JobSpec, levels: readonly number[], grid: readonly number[]): TestPoint[] {
  const key = jobKey(job), pts: MissPoint[] = [];
  const trainLevels = [...new Set([0, ...levels])];
  for (const d of grid) for (const m of METHODS) for (const p of PROTOCOLS) for (const r of trainLevels) {
    for (const mp of modelPlans(planCell(m, p, r, job.seed, d))) {
      if (jobKey(mp.job) !== key) continue;
      for (const t of levels) {
        const pt = mp.point(t);
        if (!pts.some((q) => samePoint(q, pt))) pts.push(pt);
      }
    }
  }
  return pts.sort((a, b) => a.missImage - b.missImage || a.missTab - b.missTab);
}

class Jobs {
  private readonly done = new Map<string, JobResult>();
  readonly known: { ts?: TestSet } = {};
  trained = 0;
  readonly runsDir: string;

  constructor(private readonly o: StressOptions, private readonly settings: Settings, private readonly out: string, private readonly log: (s: string) => void) {
    this.runsDir = join(out, 'runs');
  }

  dir(job: JobSpec): string {
    return join(this.runsDir, jobName(job));
  }

  get(job: JobSpec): JobResult {
    const r = this.done.get(jobKey(job));
    if (!r) throw new Error(`internal: job ${jobName(job)} has not run`);
    return r;
  }

  /** The job's predictions: from its file, or by training it (dependencies first). */
  async ensure(job: JobSpec, why: string): Promise<JobResult> {
    const key = jobKey(job);
    const have = this.done.get(key);
    if (have) return have;
    const name = jobName(job), dir = this.dir(job), file = join(dir, JOB_FILE);
    if (existsSync(file)) {
      const r = readJob(file);
      if (r.key !== key) throw new Error(`${file} belongs to another configuration (${r.key}, expected ${key}); use another --out`);
      checkTestSet(this.out, r, this.known);
      this.done.set(key, r);
      return r;
    }
    if (job.init) {
      await this.ensure(job.init.vision, `${why} (its image encoder)`);
      await this.ensure(job.init.tabular, `${why} (its tabular encoder)`);
    }
    if (this.o.signal?.aborted) throw new Interrupted();
    const s = this.settings;
    const over: Record<string, unknown> = {
      data: s.data, out: this.runsDir, name, preset: s.preset, epochs: s.epochs, seed: job.seed,
      threads: this.o.threads ?? 0, progress: this.o.verbose ? 'lines' : 'none',
      missImage: job.missImage, missTab: job.missTab, ...s.train, ...job.overrides,
    };
    if (this.o.synthDir) over.synthDir = this.o.synthDir;
    if (job.init) {
      const v = join(this.dir(job.init.vision), 'model.safetensors'), t = join(this.dir(job.init.tabular), 'model.safetensors');
      if (/[;=]/.test(v + t)) throw new Error(`frozen-encoders: checkpoint paths may not contain ';' or '=' (${v}, ${t}); use another --out`);
      over.initFrom = `${v}=vision.;${t}=tabular.`;
    }
    let resumed = false;
    if (existsSync(join(dir, 'state.json'))) {
      const st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { finished?: boolean; step?: number };
      if (st.finished) {
        this.log(`run ${name} finished before its predictions were saved: training it again`);
        rmSync(dir, { recursive: true, force: true });
      } else {
        over.resume = dir;
        resumed = true;
      }
    }
    const cfg = applyOverrides(TRAIN_DEFAULTS, over, `stress run ${name}`);
    const points = jobPoints(job, s.levels, s.grid);
    this.trained++;
    this.o.onTrain?.(name);
    this.log(`[run ${this.trained}] ${resumed ? 'resuming' : 'training'} ${name} for ${why}`);
    const t0 = performance.now();
    const r = await train(cfg, {
      log: this.o.verbose ? (l) => this.log(`  ${name}: ${l}`) : () => {},
      signal: this.o.signal,
      testPoints: points,
    });
    if (r.interrupted) throw new Interrupted();
    if (!r.testPredictions || !r.validation || !r.testTargets || !r.testPatients || !r.trainPrevalence) {
      throw new Error(`run ${name}: the trainer returned no test predictions`);
    }
    const res: JobResult = {
      key, name,
      validation: { macroAuroc: r.validation.macroAuroc, thresholds: r.validation.thresholds },
      bestEpoch: r.state.bestEpoch + 1,
      seconds: (performance.now() - t0) / 1000,
      trainPrevalence: Array.from(r.trainPrevalence),
      testTargets: r.testTargets, testPatients: Array.from(r.testPatients),
      points: r.testPredictions.map((p) => ({ missImage: p.missImage, missTab: p.missTab, probs: p.probs, hasImage: p.hasImage, hasTab: p.hasTab })),
    };
    checkTestSet(this.out, res, this.known);
    writeJob(dir, res);
    // Read back what was stored, so a cell built now equals one built from the file after a resume.
    const stored = readJob(join(dir, JOB_FILE));
    this.done.set(key, stored);
    this.log(`         ${name}: ${res.seconds.toFixed(1)} s, best epoch ${res.bestEpoch}, validation macro AUROC ${fixed(res.validation.macroAuroc, 4)}`);
    return stored;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Cells

function pointOf(r: JobResult, pt: MissPoint): JobPoint {
  const p = r.points.find((q) => samePoint(q, pt));
  if (!p) throw new Error(`run ${r.name} has no test predictions at missImage ${pt.missImage}, missTab ${pt.missTab}`);
  return p;
}

/** A cell's test probabilities at test level t and the per-label F1 thresholds (chosen on validation). */
function cellProbs(plan: Plan, t: number, jobs: Jobs): { probs: Float32Array; thresholds: number[] } {
  const L = LABEL_NAMES.length;
  if (plan.kind === 'model') {
    const r = jobs.get(plan.job), p = pointOf(r, plan.point(t));
    const probs = p.probs.slice();
    if (plan.only) {
      const has = plan.only === 'image' ? p.hasImage : p.hasTab;
      for (let i = 0; i < has.length; i++) if (!has[i]) for (let j = 0; j < L; j++) probs[i * L + j] = r.trainPrevalence[j];
    }
    return { probs, thresholds: r.validation.thresholds };
  }
  const ri = jobs.get(plan.image.job), rt = jobs.get(plan.tabular.job);
  const pi = pointOf(ri, plan.image.point(t)), pt = pointOf(rt, plan.tabular.point(t));
  const n = pi.hasImage.length, probs = new Float32Array(n * L);
  for (let i = 0; i < n; i++) {
    const hi = pi.hasImage[i], ht = pt.hasTab[i];
    for (let j = 0; j < L; j++) {
      const a = pi.probs[i * L + j], b = pt.probs[i * L + j];
      probs[i * L + j] = hi && ht ? (a + b) / 2 : hi ? a : ht ? b : ri.trainPrevalence[j];
    }
  }
  // No validation predictions of the average exist: its thresholds are the mean of the two models' thresholds.
  const thresholds = ri.validation.thresholds.map((x, j) => (x + rt.validation.thresholds[j]) / 2);
  return { probs, thresholds };
}

function buildCell(key: CellKey, plan: Plan, levels: readonly number[], jobs: Jobs, drop: number | undefined): StoredCell {
  const targets = jobs.known.ts!.targets;
  const rows: ResultRow[] = [];
  const predictions: { testLevel: number; probs: number[] }[] = [];
  for (const t of levels) {
    const { probs, thresholds } = cellProbs(plan, t, jobs);
    const ev = evaluate(probs, targets, LABEL_NAMES, thresholds);
    rows.push({ ...key, testLevel: t, macroAuroc: ev.macroAuroc, macroAuprc: ev.macroAuprc, macroF1: ev.macroF1, perLabelAuroc: ev.auroc });
    if (t === key.trainLevel) predictions.push({ testLevel: t, probs: f32Json(probs) as number[] });
  }
  const runs = modelPlans(plan).map((m) => jobName(m.job));
  const meta: Record<string, unknown> = { runs };
  // The modality dropout the run used (0 where a modality is removed everywhere and dropout cannot act).
  if (USES_DROPOUT_CHOICE.has(key.method as MethodName)) meta.drop = plan.kind === 'model' ? plan.job.overrides.dropImage : drop;
  return { ...key, rows, predictions, meta };
}

// ---------------------------------------------------------------------------------------------------------
// Statistics over the stored cells

/**
 * Paired patient-level bootstrap of proposed vs every other method at every level of each protocol (the
 * diagonal: trained and tested at that level). With several seeds the statistic is the mean over seeds of
 * the macro AUROC difference: each seed's probabilities are further label columns of the same studies, so
 * a drawn patient brings all seeds' predictions along and the macro average runs over labels and seeds.
 */
export function protocolComparisons(cells: readonly StoredCell[], ts: TestSet, o: {
  protocols: Protocol[]; levels: readonly number[]; methods: readonly string[]; seeds: readonly number[]; replicates: number;
}): Comparison[] {
  const L = LABEL_NAMES.length, n = ts.patients.length, K = o.seeds.length;
  const byId = new Map(cells.map((c) => [JSON.stringify([c.method, c.protocol, c.trainLevel, c.seed]), c]));
  const stack = (method: string, protocol: Protocol, level: number): Float32Array | null => {
    const out = new Float32Array(n * L * K);
    for (let k = 0; k < K; k++) {
      const c = byId.get(JSON.stringify([method, protocol, level, o.seeds[k]]));
      const p = c?.predictions?.find((q) => q.testLevel === level);
      if (!p || p.probs.length !== n * L) return null;
      for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) out[i * L * K + k * L + j] = p.probs[i * L + j];
    }
    return out;
  };
  const targets = new Float32Array(n * L * K);
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) for (let j = 0; j < L; j++) targets[i * L * K + k * L + j] = ts.targets[i * L + j];
  const out: Comparison[] = [];
  if (!o.methods.includes(PROPOSED)) return out;
  for (const protocol of o.protocols) {
    for (const level of o.levels) {
      const a = stack(PROPOSED, protocol, level);
      if (!a) continue;
      for (const method of o.methods) {
        if (method === PROPOSED) continue;
        const b = stack(method, protocol, level);
        if (!b) continue;
        const r = pairedBootstrap({ probsA: a, probsB: b, targets, patients: ts.patients, replicates: o.replicates, seed: 0 });
        out.push({ protocol, level, proposed: PROPOSED, method, diff: r.diff, lo: r.lo, hi: r.hi, p: r.p });
      }
    }
  }
  return out;
}

/**
 * DESIGN.md's sanity checks: at image level 1 the proposed model sees tables only, so it should score close to
 * the tabular-only baseline; at tabular level 1 close to the image-only one (diagonal means over seeds; a gap
 * above `gapLimit` fails). Also, for information, the proposed model trained at level 0 (fully multimodal)
 * and tested at level 1 against the same baseline: how much robustness the multimodal training kept.
 */
export function sanityChecks(rows: readonly ResultRow[], gapLimit = SANITY_GAP): SanityCheck[] {
  const summary = summarize(rows);
  const out: SanityCheck[] = [];
  for (const [protocol, baseline] of [['image', 'tabular-only'], ['tabular', 'image-only']] as const) {
    const b = summary.find((s) => s.protocol === protocol && s.method === baseline && s.trainLevel === 1 && s.testLevel === 1);
    if (!b) continue;
    for (const trainLevel of [1, 0]) {
      const a = summary.find((s) => s.protocol === protocol && s.method === PROPOSED && s.trainLevel === trainLevel && s.testLevel === 1);
      if (!a) continue;
      const gap = a.mean - b.mean;
      out.push({ protocol, trainLevel, level: 1, baseline, proposed: a.mean, baselineScore: b.mean, gap, ok: trainLevel !== 1 || Math.abs(gap) <= gapLimit });
    }
  }
  return out;
}

export function sanityText(c: SanityCheck): string {
  const mod = c.protocol === 'image' ? 'image' : 'tabular';
  const who = c.trainLevel === 1 ? 'proposed' : `proposed trained at ${mod} rate ${c.trainLevel}`;
  const head = `${mod} missing rate 1.0: ${who} ${fixed(c.proposed, 4)} vs ${c.baseline} ${fixed(c.baselineScore, 4)} macro AUROC (gap ${c.gap >= 0 ? '+' : ''}${fixed(c.gap, 4)})`;
  if (c.trainLevel !== 1) return `for information: ${head}`;
  return c.ok
    ? `sanity check passed: ${head}, within ${SANITY_GAP}`
    : `WARNING: SANITY CHECK FAILED: ${head}, more than ${SANITY_GAP}: at an endpoint the proposed model sees one modality only, so a large gap points to a bug, not a win (DESIGN.md)`;
}

// ---------------------------------------------------------------------------------------------------------
// The run

function checkLevels(levels: readonly number[], what: string): void {
  if (levels.length === 0) throw new Error(`${what}: no level given`);
  levels.forEach((l, i) => {
    if (!(l >= 0 && l <= 1)) throw new Error(`${what}: level ${l} is outside [0, 1]`);
    if (i > 0 && !(l > levels[i - 1])) throw new Error(`${what}: levels must be increasing without repeats, got ${levels.join(',')}`);
  });
}

/** Run (or continue) the protocols and write the report. */
export async function runStress(o: StressOptions): Promise<StressResult> {
  const log = o.log ?? console.log;
  checkLevels(o.levels, '--levels');
  const grid = o.grid ?? [...DEFAULT_GRID];
  if (grid.length === 0 || grid.some((d) => !(d >= 0 && d <= 0.5))) throw new Error(`--grid: rates must be in [0, 0.5] (dropImage + dropTab <= 1), got ${grid.join(',')}`);
  if (new Set(grid).size !== grid.length) throw new Error(`--grid: repeated rate in ${grid.join(',')}`);
  if (!(Number.isInteger(o.seeds) && o.seeds >= 1)) throw new Error(`--seeds must be a positive integer, got ${o.seeds}`);
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new Error(`--epochs must be a positive integer, got ${o.epochs}`);
  if (o.protocols.length === 0) throw new Error('no protocol given');
  if (o.methods.length === 0) throw new Error('no method given');
  const replicates = o.replicates ?? 2000;

  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const settings: Settings = {
    format: SETTINGS_FORMAT, preset: o.preset, epochs: o.epochs,
    data: o.data ? resolve(o.data) : '', levels: [...o.levels], grid: [...grid], train: { ...(o.train ?? {}) },
  };
  checkSettings(out, settings);
  const storePath = join(out, 'cells.jsonl');
  const torn = repairCellStore(storePath);
  if (torn) {
    log(`cell store ${storePath}: line ${torn.line} was torn by an interrupted write (${torn.text.length} bytes); removed it, that cell is computed again`);
  }
  const store = new CellStore(storePath);
  const seeds = Array.from({ length: o.seeds }, (_, i) => i);

  // Cells in the order they are done: seed, level, protocol, method (so level 0 serves both protocols at once).
  const wanted: CellKey[] = [];
  for (const seed of seeds) for (const trainLevel of o.levels) for (const protocol of o.protocols) for (const method of o.methods) {
    wanted.push({ method, protocol, trainLevel, seed });
  }
  const todo = wanted.filter((k) => !store.has(k));
  log(`stress protocols: ${o.protocols.join(' + ')}, levels ${o.levels.join(',')}, ${o.methods.length} methods, ${o.seeds} seed(s), preset ${o.preset}, ${o.epochs} epochs`);
  log(`output ${out}: ${wanted.length} cells, ${wanted.length - todo.length} already stored, ${todo.length} to compute`);

  const jobs = new Jobs(o, settings, out, log);
  const selPath = join(out, 'selection.json');
  let selection: Selection | undefined = existsSync(selPath) ? JSON.parse(readFileSync(selPath, 'utf8')) as Selection : undefined;
  let interrupted = false;
  let added = 0;
  try {
    if (!selection && todo.some((k) => USES_DROPOUT_CHOICE.has(k.method as MethodName))) {
      // The modality-dropout rate of the proposed method, chosen on validation (never test) at train level 0
      // with the first seed, once for both protocols (level 0 is the same training set in both).
      const rows: Selection['grid'] = [];
      for (const d of grid) {
        const plan = planCell(PROPOSED, 'image', 0, seeds[0], d) as ModelPlan;
        const r = await jobs.ensure(plan.job, `the dropout grid (d = ${d})`);
        rows.push({ drop: d, valMacroAuroc: r.validation.macroAuroc, run: r.name });
      }
      let best = rows[0];
      for (const r of rows) if (r.valMacroAuroc > best.valMacroAuroc) best = r;
      selection = { format: 'resilient-fusion-stress-selection/1', level: 0, seed: seeds[0], grid: rows, chosen: best.drop };
      writeFileAtomic(selPath, JSON.stringify(selection, null, 2) + '\n');
      log(`modality dropout chosen on validation: d = ${best.drop} (${rows.map((r) => `${r.drop}: ${fixed(r.valMacroAuroc, 4)}`).join(', ')})`);
    }
    const drop = selection?.chosen;
    for (const key of todo) {
      if (o.signal?.aborted) throw new Interrupted();
      const plan = planCell(key.method as MethodName, key.protocol, key.trainLevel, key.seed, drop ?? NaN);
      const what = `${key.method}, protocol ${key.protocol}, train level ${key.trainLevel}, seed ${key.seed}`;
      for (const j of planJobs(plan)) await jobs.ensure(j, what);
      const cell = buildCell(key, plan, o.levels, jobs, drop);
      store.append(cell);
      added++;
      const own = cell.rows.find((r) => r.testLevel === key.trainLevel)!;
      log(`cell ${what}: macro AUROC ${fixed(own.macroAuroc, 4)} at its own level (${added}/${todo.length})`);
    }
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
    interrupted = true;
  }
  const base = { out, trained: jobs.trained, cellsAdded: added, cellsTotal: wanted.length, drop: selection?.chosen };
  if (interrupted) {
    log(`interrupted: ${added} cell(s) stored this time, ${todo.length - added} left; run the same command again to continue`);
    return { ...base, interrupted: true, artifacts: [], sanity: [], rows: [], comparisons: [] };
  }

  // ---- the report over the cells this invocation asked for ------------------------------------------------
  const mine = new Set(wanted.map((k) => JSON.stringify([k.method, k.protocol, k.trainLevel, k.seed])));
  const cells = store.cells().filter((c) => mine.has(JSON.stringify([c.method, c.protocol, c.trainLevel, c.seed])));
  const rows = cells.flatMap((c) => c.rows);
  const tsPath = join(out, 'testset.json');
  let comparisons: Comparison[] = [];
  if (existsSync(tsPath)) {
    log(`paired bootstrap (${replicates} replicates, patients resampled) of ${PROPOSED} vs each method at each level ...`);
    comparisons = protocolComparisons(cells, readTestSet(tsPath), { protocols: o.protocols, levels: o.levels, methods: o.methods, seeds, replicates });
  } else log(`no ${tsPath}: the significance tests are left out`);
  const sanity = sanityChecks(rows);
  const tables: ReportTable[] = [];
  if (selection) {
    tables.push({
      title: `Modality dropout of ${PROPOSED} (dropImage = dropTab = d): validation macro AUROC at train level ${selection.level}, seed ${selection.seed}; the best is used by ${[...USES_DROPOUT_CHOICE].join(', ')}`,
      header: ['d', 'validation macro AUROC', 'chosen'],
      rows: selection.grid.map((g) => [String(g.drop), fixed(g.valMacroAuroc, 4), g.drop === selection!.chosen ? 'yes' : '']),
    });
  }
  if (sanity.length) {
    tables.push({
      title: `Sanity checks (DESIGN.md): at an endpoint (missing rate 1 in training and test) the proposed model should score close to the unimodal baseline, |gap| <= ${SANITY_GAP}; the rows trained at 0 are for information (the fully multimodal model tested with the modality gone)`,
      header: ['protocol', 'proposed trained at', 'tested at', 'proposed', 'baseline', 'baseline score', 'gap', 'result'],
      rows: sanity.map((c) => [c.protocol, fixed(c.trainLevel, 2), '1.00', fixed(c.proposed, 4), c.baseline, fixed(c.baselineScore, 4), fixed(c.gap, 4), c.trainLevel !== 1 ? 'info' : c.ok ? 'ok' : 'FAILED']),
    });
  }
  tables.push({ title: 'Methods', header: ['method', 'definition'], rows: o.methods.map((m) => [m, METHOD_DEFINITIONS[m]]) });
  const notes = [
    ...(o.command ? [`Command: ${o.command}`] : []),
    `Settings: preset ${o.preset}, ${o.epochs} epochs (best epoch by validation macro AUROC), ${o.seeds} seed(s), data ${settings.data || 'synthetic (built-in generator)'}, levels ${o.levels.join(', ')}.`,
    'Missingness is injected on top of the natural missingness, in training and validation at the train level and in test at the test level, seeded by the run seed and nested across levels. F1 uses per-label thresholds chosen on validation (late fusion: the mean of its two models\' thresholds).',
  ];
  const input: ReportInput = {
    rows, proposed: PROPOSED, comparisons, methods: o.methods.filter((m) => rows.some((r) => r.method === m)), protocols: o.protocols,
    title: 'Stress-test protocols', tables, notes,
  };
  const artifacts = writeReportArtifacts(out, input);
  const report = join(out, 'report.html');
  for (const c of sanity) log(sanityText(c));
  log(`report: ${report} (also summary.md, results.csv and SVG plots in ${out})`);
  return { ...base, interrupted: false, artifacts, report, sanity, rows, comparisons };
}
