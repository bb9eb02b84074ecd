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
 * The parts: job-files.ts (stress.json, job predictions, testset.json), jobs.ts (training each job once,
 * run counts and ETA), cells.ts (a cell's probabilities and metrics from its jobs), comparisons.ts (paired
 * bootstrap, sanity checks); this file schedules them and writes the report.
 *
 * Resume works at two levels: a stored cell is never recomputed, and a job whose predictions file exists is
 * never retrained (cells that share it, or late fusion, are built from the file); a job interrupted in
 * training continues from its last epoch boundary through the trainer's own resume.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../node/files.ts';
import { readJsonFile } from '../train/run-folder.ts';
import { buildCell } from './cells.ts';
import { SANITY_GAP, protocolComparisons, sanityChecks, sanityText } from './comparisons.ts';
import type { SanityCheck } from './comparisons.ts';
import { SETTINGS_FORMAT, checkSettings, dropUnusedSettings, lockOutputFolder, readTestSet } from './job-files.ts';
import type { Selection, Settings } from './job-files.ts';
import { Interrupted, Jobs } from './jobs.ts';
import { METHOD_DEFINITIONS, PROPOSED, USES_DROPOUT_CHOICE, methodTraining, planCell, planJobs } from './methods.ts';
import type { MethodName, ModelPlan } from './methods.ts';
import { fixed } from './plot.ts';
import { writeFigurePngs, writeReportArtifacts } from './report.ts';
import { naturalMissingnessTable } from './natural.ts';
import type { ReportInput, ReportTable } from './report.ts';
import { CellStore, repairCellStore } from './results.ts';
import type { CellKey, Protocol, ResultRow } from './results.ts';
import type { Comparison } from './stats.ts';

export { SANITY_GAP, protocolComparisons, sanityChecks, sanityText } from './comparisons.ts';
export type { SanityCheck } from './comparisons.ts';

/** Default test and train levels: 0, 0.1, ..., 1.0. */
export const DEFAULT_LEVELS: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10); // i / 10 is the double nearest to the decimal
/** Default modality-dropout grid for the proposed method (dropImage = dropTab = d). */
export const DEFAULT_GRID: readonly number[] = [0, 0.15, 0.3];
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

function checkLevels(levels: readonly number[], what: string): void {
  if (levels.length === 0) throw new Error(`${what}: no level given`);
  levels.forEach((l, i) => {
    if (!(l >= 0 && l <= 1)) throw new Error(`${what}: level ${l} is outside [0, 1]`);
    if (i > 0 && !(l > levels[i - 1])) throw new Error(`${what}: levels must be increasing without repeats, got ${levels.join(',')}`);
  });
}


/** Checked options with defaults filled in (the queue coordinator checks them before it enqueues anything). */
export function checkOptions(o: StressOptions): { grid: number[]; replicates: number } {
  checkLevels(o.levels, '--levels');
  const grid = o.grid ?? [...DEFAULT_GRID];
  if (grid.length === 0 || grid.some((d) => !(d >= 0 && d <= 0.5))) throw new Error(`--grid: rates must be in [0, 0.5] (dropImage + dropTab <= 1), got ${grid.join(',')}`);
  if (new Set(grid).size !== grid.length) throw new Error(`--grid: repeated rate in ${grid.join(',')}`);
  if (!(Number.isInteger(o.seeds) && o.seeds >= 1)) throw new Error(`--seeds must be a positive integer, got ${o.seeds}`);
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new Error(`--epochs must be a positive integer, got ${o.epochs}`);
  if (o.protocols.length === 0) throw new Error('no protocol given');
  if (o.methods.length === 0) throw new Error('no method given');
  return { grid, replicates: o.replicates ?? 2000 };
}

/** The settings that fix what a cell means (stress.json); also what a queue run's jobs carry. */
export function stressSettings(o: StressOptions, grid: readonly number[]): Settings {
  return {
    format: SETTINGS_FORMAT, preset: o.preset, epochs: o.epochs,
    data: o.data ? resolve(o.data) : '', levels: [...o.levels], grid: [...grid], train: { ...(o.train ?? {}) },
  };
}

/**
 * The grid rate chosen on validation: the highest validation macro AUROC, the first of equals (a NaN never
 * wins). Shared with the queue coordinator, which must pick the same rate before the report does.
 */
export function bestRate<T extends { valMacroAuroc: number }>(rows: readonly T[]): T {
  let best = rows[0];
  for (const r of rows) if (r.valMacroAuroc > best.valMacroAuroc) best = r;
  return best;
}

/** What one invocation works on: its settings, cell store, the cells it covers and those still to compute. */
interface Session {
  o: StressOptions;
  out: string;
  log: (line: string) => void;
  settings: Settings;
  grid: number[];
  seeds: number[];
  store: CellStore;
  wanted: CellKey[];
  todo: CellKey[];
  jobs: Jobs;
  selPath: string;
  selection?: Selection;
  /** Cells stored by this call so far. */
  added: number;
}

/**
 * Run (or continue) the protocols and write the report. The output folder is locked while it runs
 * (stress.lock); `outputLocked`: the caller (the queue coordinator) holds that lock already.
 */
export async function runStress(o: StressOptions, outputLocked = false): Promise<StressResult> {
  const out = resolve(o.out);
  const { grid } = checkOptions(o);
  mkdirSync(out, { recursive: true });
  const release = outputLocked ? () => {} : lockOutputFolder(out);
  try {
    return await runStressLocked(o, out, grid);
  } finally {
    release();
  }
}

async function runStressLocked(o: StressOptions, out: string, grid: number[]): Promise<StressResult> {
  const log = o.log ?? console.log;
  const { replicates } = checkOptions(o);
  const settings = stressSettings(o, grid);
  checkSettings(out, settings);
  const ss = openSession(o, out, log, settings, grid);
  let interrupted = false;
  try {
    await computeCells(ss);
  } catch (e) {
    if (!(e instanceof Interrupted)) {
      // A failed command leaves no settings that nothing was stored under: they would refuse the next command.
      dropUnusedSettings(out);
      throw e;
    }
    interrupted = true;
  }
  const base = { out, trained: ss.jobs.trained, cellsAdded: ss.added, cellsTotal: ss.wanted.length, drop: ss.selection?.chosen };
  if (interrupted) {
    log(`interrupted: ${ss.added} cell(s) stored this time, ${ss.todo.length - ss.added} left; run the same command again to continue`);
    return { ...base, interrupted: true, artifacts: [], sanity: [], rows: [], comparisons: [] };
  }
  const rep = writeReport(ss, replicates);
  const pngs = await writeFigurePngs(out, rep.artifacts);
  if (pngs.error) log(pngs.error);
  return { ...base, interrupted: false, ...rep, artifacts: [...rep.artifacts, ...pngs.written] };
}

/** The cell store (repaired if a crash tore its last line), the cells wanted and those still to compute. */
function openSession(o: StressOptions, out: string, log: (line: string) => void, settings: Settings, grid: number[]): Session {
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
  const selPath = join(out, 'selection.json');
  const selection = existsSync(selPath) ? readJsonFile(selPath, 'dropout selection') as Selection : undefined;
  return { o, out, log, settings, grid, seeds, store, wanted, todo, jobs: new Jobs(o, settings, out, log), selPath, selection, added: 0 };
}

/**
 * Training runs still to do for the cells to compute. Before the dropout rate is chosen: the grid's runs plus
 * the most any grid rate could need (a rate of 0 shares runs with no-dropout), so the total only ever falls.
 */
function plannedRuns(ss: Session): number {
  const needsChoice = !ss.selection && ss.todo.some((k) => USES_DROPOUT_CHOICE.has(k.method as MethodName));
  const grid = needsChoice ? ss.grid.map((d) => planCell(PROPOSED, 'image', 0, ss.seeds[0], d)) : [];
  const rates = ss.selection ? [ss.selection.chosen] : needsChoice ? ss.grid : [NaN];
  return Math.max(...rates.map((d) => ss.jobs.planRuns([...grid, ...ss.todo.map((k) => planCell(k.method as MethodName, k.protocol, k.trainLevel, k.seed, d))])));
}

/** Choose the dropout rate if a method needs it, then compute and store every cell still to do. */
async function computeCells(ss: Session): Promise<void> {
  const { o, jobs, log } = ss;
  jobs.total = plannedRuns(ss);
  if (jobs.total > 0) log(`${jobs.total} training run(s) to do${ss.selection ? '' : ' (at most; exact once the dropout rate is chosen)'}`);
  if (!ss.selection && ss.todo.some((k) => USES_DROPOUT_CHOICE.has(k.method as MethodName))) {
    ss.selection = await chooseDropout(ss);
    jobs.total = jobs.trained + plannedRuns(ss);
  }
  const drop = ss.selection?.chosen;
  for (const key of ss.todo) {
    if (o.signal?.aborted) throw new Interrupted();
    const plan = planCell(key.method as MethodName, key.protocol, key.trainLevel, key.seed, drop ?? NaN);
    const what = `${key.method}, protocol ${key.protocol}, train level ${key.trainLevel}, seed ${key.seed}`;
    for (const j of planJobs(plan)) await jobs.ensure(j, what);
    const cell = buildCell(key, plan, o.levels, jobs, drop);
    ss.store.append(cell);
    ss.added++;
    const own = cell.rows.find((r) => r.testLevel === key.trainLevel)!;
    log(`cell ${what}: macro AUROC ${fixed(own.macroAuroc, 4)} at its own level (${ss.added}/${ss.todo.length} cells; ${jobs.eta()})`);
  }
}

/**
 * The modality-dropout rate of the proposed method, chosen on validation (never test) at train level 0 with
 * the first seed, once for both protocols (level 0 is the same training set in both).
 */
async function chooseDropout(ss: Session): Promise<Selection> {
  const rows: Selection['grid'] = [];
  for (const d of ss.grid) {
    const plan = planCell(PROPOSED, 'image', 0, ss.seeds[0], d) as ModelPlan;
    const r = await ss.jobs.ensure(plan.job, `the dropout grid (d = ${d})`);
    rows.push({ drop: d, valMacroAuroc: r.validation.macroAuroc, run: r.name });
  }
  const best = bestRate(rows);
  const selection: Selection = { format: 'resilient-fusion-stress-selection/1', level: 0, seed: ss.seeds[0], grid: rows, chosen: best.drop };
  writeFileAtomic(ss.selPath, JSON.stringify(selection, null, 2) + '\n');
  ss.log(`modality dropout chosen on validation: d = ${best.drop} (${rows.map((r) => `${r.drop}: ${fixed(r.valMacroAuroc, 4)}`).join(', ')})`);
  return selection;
}

/** The report over the cells this invocation asked for: comparisons, sanity checks, tables and artefacts. */
function writeReport(ss: Session, replicates: number): Pick<StressResult, 'artifacts' | 'report' | 'sanity' | 'rows' | 'comparisons'> {
  const { o, out, log, selection } = ss;
  const mine = new Set(ss.wanted.map((k) => JSON.stringify([k.method, k.protocol, k.trainLevel, k.seed])));
  const cells = ss.store.cells().filter((c) => mine.has(JSON.stringify([c.method, c.protocol, c.trainLevel, c.seed])));
  const rows = cells.flatMap((c) => c.rows);
  const tsPath = join(out, 'testset.json');
  let comparisons: Comparison[] = [];
  let natural: ReportTable | null = null;
  if (existsSync(tsPath)) {
    log(`paired bootstrap (${replicates} replicates, patients resampled) of ${PROPOSED} vs each method at each level ...`);
    const ts = readTestSet(tsPath);
    comparisons = protocolComparisons(cells, ts, { protocols: o.protocols, levels: o.levels, methods: o.methods, seeds: ss.seeds, replicates });
    natural = naturalMissingnessTable(cells, ts, o.methods);
  } else log(`no ${tsPath}: the significance tests are left out`);
  const sanity = sanityChecks(rows);
  const input: ReportInput = {
    rows, proposed: PROPOSED, comparisons, methods: o.methods.filter((m) => rows.some((r) => r.method === m)), protocols: o.protocols,
    title: 'Stress-test protocols', tables: [...(natural ? [natural] : []), ...reportTables(o, selection, sanity)], notes: reportNotes(o, ss.settings),
  };
  const artifacts = writeReportArtifacts(out, input);
  const report = join(out, 'report.html');
  for (const c of sanity) log(sanityText(c));
  log(`report: ${report} (also summary.md, results.csv and SVG plots in ${out})`);
  return { artifacts, report, sanity, rows, comparisons };
}

function reportTables(o: StressOptions, selection: Selection | undefined, sanity: SanityCheck[]): ReportTable[] {
  const tables: ReportTable[] = [];
  if (selection) {
    tables.push({
      title: `Modality dropout of ${PROPOSED} (dropImage = dropTab = d): validation macro AUROC at train level ${selection.level}, seed ${selection.seed}; the best is used by ${[...USES_DROPOUT_CHOICE].join(', ')}`,
      header: ['d', 'validation macro AUROC', 'chosen'],
      rows: selection.grid.map((g) => [String(g.drop), fixed(g.valMacroAuroc, 4), g.drop === selection.chosen ? 'yes' : '']),
    });
  }
  if (sanity.length) {
    tables.push({
      title: `Sanity checks: at an endpoint (missing rate 1 in training and test) the proposed model should score close to the unimodal baseline, |gap| <= ${SANITY_GAP}; the rows trained at 0 are for information (the fully multimodal model tested with the modality gone)`,
      header: ['protocol', 'proposed trained at', 'tested at', 'proposed', 'baseline', 'baseline score', 'gap', 'result'],
      rows: sanity.map((c) => [c.protocol, fixed(c.trainLevel, 2), '1.00', fixed(c.proposed, 4), c.baseline, fixed(c.baselineScore, 4), fixed(c.gap, 4), c.trainLevel !== 1 ? 'info' : c.ok ? 'ok' : 'FAILED']),
    });
  }
  tables.push({ title: 'Methods', header: ['method', 'definition', 'training (epochs per stage)'], rows: o.methods.map((m) => [m, METHOD_DEFINITIONS[m], methodTraining(m, o.epochs)]) });
  return tables;
}

function reportNotes(o: StressOptions, settings: Settings): string[] {
  return [
    ...(o.command ? [`Command: ${o.command}`] : []),
    `Settings: preset ${o.preset}, ${o.epochs} epochs (best epoch by validation macro AUROC), ${o.seeds} seed(s), data ${settings.data || 'synthetic (built-in generator)'}, levels ${o.levels.join(', ')}.`,
    'Missingness is injected on top of the natural missingness, in training and validation at the train level and in test at the test level, seeded by the run seed and nested across levels. F1 uses per-label thresholds chosen on validation (late fusion: the mean of its two models\' thresholds).',
  ];
}
