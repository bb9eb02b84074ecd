/**
 * The run folder: creating a new run, opening an interrupted one for `--resume` (its own config, its resume
 * state checked against what the run can have reached), and the state files.
 *
 * Files: config.json (the resolved config), last.state.safetensors (parameters, AdamW moments and the
 * counters: everything a resume needs, in one atomic file), last.safetensors (the same parameters as a plain
 * checkpoint), model.safetensors (the best epoch's checkpoint), state.json (the counters, for people; written
 * last, so `finished: true` there means metrics.json exists), metrics.json, log.jsonl.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { SafeTensor } from '../model/safetensors.ts';
import { kebab } from '../options/schema.ts';
import { RUNTIME_KEYS, TRAIN_DEFAULTS, applyOverrides, checkLegacyConfig, resolveMicroBatch } from './config.ts';
import type { TrainConfig } from './config.ts';
import { releasePidLock, takePidLock, writeFileAtomic } from '../node/files.ts';

export interface RunState {
  /** Optimizer steps taken. */
  step: number;
  /** Epoch in progress (0-based) and batches of it already done. */
  epoch: number;
  batchInEpoch: number;
  /** Best validation macro AUROC so far (null before the first evaluation). */
  bestAuroc: number | null;
  /** Epoch of the best checkpoint, 1-based as in metrics.json and the log (0: none yet). */
  bestEpoch: number;
  epochsWithoutImprovement: number;
  /** Sum of batch losses and batch count of the epoch in progress (so a resumed epoch reports its full mean). */
  epochLossSum: number;
  epochBatches: number;
  finished: boolean;
}

/** Format tag of last.state.safetensors. /2: `bestEpoch` is 1-based (0: none); /1 had it 0-based (-1: none). */
export const RESUME_FORMAT = 'resilient-fusion-resume/2';
const RESUME_FORMAT_V1 = 'resilient-fusion-resume/1';

export const RESUME_FILE = 'last.state.safetensors';

/** The state of a run that has taken no step. */
export function newRunState(): RunState {
  return { step: 0, epoch: 0, batchInEpoch: 0, bestAuroc: null, bestEpoch: 0, epochsWithoutImprovement: 0, epochLossSum: 0, epochBatches: 0, finished: false };
}

/** A run folder opened for training: a new run, or an interrupted one with its saved tensors. */
export interface OpenRun {
  kind: 'new' | 'resume';
  runDir: string;
  /** The config the run trains with: the command line's for a new run, the run's own (plus runtime keys) on resume. */
  cfg: TrainConfig;
  state: RunState;
  /** On resume: the saved parameters and AdamW moments. */
  tensors?: Record<string, SafeTensor>;
}

/** `--resume` on a run that has finished: nothing to train. */
export interface FinishedRun {
  kind: 'finished';
  runDir: string;
  cfg: TrainConfig;
  state: RunState;
}

/** Read a JSON file, naming the file in any error (missing, unreadable, truncated). */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${what} ${path} cannot be read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} ${path} is not valid JSON (truncated or edited?): ${(e as Error).message}`);
  }
}

/** Open the run folder named by the config: a new run (the folder itself is made later by createRunFolder) or `--resume`. */
export function openRun(cfg: TrainConfig, given?: ReadonlySet<string>): OpenRun | FinishedRun {
  if (cfg.resume) return openResume(cfg, given);
  const name = cfg.name || `${cfg.preset}-s${cfg.seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const runDir = resolve(cfg.out, name);
  // The check that the folder holds no run is made under its lock (claimRunFolder), not here.
  return { kind: 'new', runDir, cfg, state: newRunState() };
}

/**
 * `--continue RUN --epochs E`: a finished run continued for more epochs into a new folder (`--name` under
 * `--out`; default `<RUN>-to<E>`). The new folder is made an interrupted run of E epochs -- the finished run's
 * resume state (parameters, AdamW moments, counters; early stopping's count restarted), its checkpoints and its
 * log, and its config with the new epoch count -- and is then resumed like any other, so a kill during the
 * continuation resumes with `--resume NEW`. The learning rate follows the cosine schedule of an E-epoch run from
 * the step reached. RUN is only read. Returns the new folder.
 */
export function prepareContinuation(cfg: TrainConfig, given?: ReadonlySet<string>): string {
  const src = resolve(cfg.continue);
  const what = `--continue ${src}`;
  const statePath = join(src, 'state.json');
  if (!existsSync(join(src, 'config.json')) || !existsSync(join(src, RESUME_FILE)) || !existsSync(statePath)) {
    throw new Error(`${what}: not a run folder (it needs config.json, state.json and ${RESUME_FILE})`);
  }
  const done = checkStateShape(readJsonFile(statePath, 'state file'), statePath);
  if (!done.finished) throw new Error(`${what}: the run is not finished; continue it in its own folder with --resume ${src}`);
  const own = resumedConfig(cfg, join(src, 'config.json'), given, ['epochs']);
  const explicit = given ? given.has('epochs') : cfg.epochs !== TRAIN_DEFAULTS.epochs;
  if (!explicit || cfg.epochs <= own.epochs) throw new Error(`${what}: give --epochs E with E above the run's ${own.epochs} epochs (the new total)`);
  const file = readResumeFile(join(src, RESUME_FILE));
  const runDir = resolve(cfg.out, cfg.name || `${basename(src)}-to${cfg.epochs}`);
  if (runDir === src) throw new Error(`${what}: the new run folder is the run itself; give another --name`);
  const release = claimRunFolder(runDir);
  try {
    const state: RunState = { ...file.state, finished: false, epochsWithoutImprovement: 0 };
    const p = file.tensors;
    for (const f of ['model.safetensors', 'last.safetensors', 'log.jsonl']) if (existsSync(join(src, f))) copyFileSync(join(src, f), join(runDir, f));
    writeResumeState(runDir, state, p.params.data, p.m.data, p.v.data);
    writeStateJson(runDir, state);
    const next = { ...own, epochs: cfg.epochs, out: cfg.out, name: basename(runDir), continue: src, resume: '' };
    writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(next, null, 2) + '\n');
  } catch (e) {
    release();
    throw e;
  }
  release();
  return runDir;
}

/** Read a resume state file: its tensors and counters, each failure naming the file. */
function readResumeFile(path: string): { state: RunState; tensors: Record<string, SafeTensor>; v1: boolean } {
  let file: ReturnType<typeof readSafetensors>;
  try {
    file = readSafetensors(readFileSync(path));
  } catch (e) {
    throw new Error(`--resume: the resume state ${path} cannot be read (truncated or damaged?): ${(e as Error).message}`);
  }
  const format = file.metadata.format;
  if (format !== RESUME_FORMAT && format !== RESUME_FORMAT_V1) throw new Error(`--resume: ${path} is not a resume state (format ${format})`);
  let raw: unknown;
  try {
    raw = JSON.parse(file.metadata.state);
  } catch (e) {
    throw new Error(`--resume: the counters in ${path} are not valid JSON: ${(e as Error).message}`);
  }
  const state = checkStateShape(raw, path);
  if (format === RESUME_FORMAT_V1) state.bestEpoch += 1;
  return { state, tensors: file.tensors, v1: format === RESUME_FORMAT_V1 };
}

function openResume(cfg: TrainConfig, given?: ReadonlySet<string>): OpenRun | FinishedRun {
  const runDir = resolve(cfg.resume);
  if (!existsSync(join(runDir, 'config.json')) || !existsSync(join(runDir, RESUME_FILE))) {
    throw new Error(`--resume ${runDir}: not an interrupted run folder (it needs config.json and ${RESUME_FILE})`);
  }
  const own = resumedConfig(cfg, join(runDir, 'config.json'), given);
  // state.json is written last: `finished` there is the authority (the resume file is from the last epoch boundary).
  const statePath = join(runDir, 'state.json');
  if (existsSync(statePath)) {
    const st = readJsonFile(statePath, 'state file') as Partial<RunState> | null;
    if (st?.finished === true) return { kind: 'finished', runDir, cfg: own, state: checkStateShape(st, statePath) };
  }
  const { state, tensors } = readResumeFile(join(runDir, RESUME_FILE));
  return { kind: 'resume', runDir, cfg: own, state, tensors };
}

/**
 * The run's own config.json, with this command line's runtime keys (threads, progress, ...). A computed key
 * given on this command line (`given`; without it, any value other than the default) with a value other
 * than the run's is an error that names the flag: a resumed run keeps its config, and a flag that would be
 * silently ignored is worse than one refused.
 */
function resumedConfig(cfg: TrainConfig, path: string, given?: ReadonlySet<string>, mayChange: readonly string[] = []): TrainConfig {
  const saved = readJsonFile(path, 'run config') as Record<string, unknown>;
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) throw new Error(`run config ${path}: expected a JSON object`);
  checkLegacyConfig(saved, path);
  // The file is input like any other: every key known, every value of its type and in its range (an edited
  // `lr: -5` or `microBatch: 0` is refused here, naming the file and the key, before anything changes).
  const own = applyOverrides(TRAIN_DEFAULTS, saved, path) as Record<string, unknown>;
  // A run records the micro-batch it computes with (train() resolves --micro-batch 0 before writing config.json),
  // so a 0 here was written by hand and would pick whatever the preset's default is today: other bits.
  if (own.microBatch === 0) throw new Error(`${path}: option 'microBatch' is 0, but a run folder records the micro-batch it trained with (an integer in 1..4096); was the file edited?`);
  for (const k of Object.keys(own) as (keyof TrainConfig)[]) {
    if (RUNTIME_KEYS.includes(k) || mayChange.includes(k)) continue;
    const explicit = given ? given.has(k) : JSON.stringify(cfg[k]) !== JSON.stringify(TRAIN_DEFAULTS[k]);
    // --micro-batch 0 asks for the preset's number, which the run recorded when it started.
    const asked = k === 'microBatch' ? resolveMicroBatch(String(own.preset), cfg.microBatch) : cfg[k];
    if (explicit && JSON.stringify(own[k]) !== JSON.stringify(asked)) {
      const flag = `--${kebab(k)}`;
      const means = asked !== cfg[k] ? ` (${JSON.stringify(asked)} for ${String(own.preset)})` : '';
      throw new Error(`--resume: ${flag} ${JSON.stringify(cfg[k])}${means} differs from the run's ${path} (${JSON.stringify(own[k])}); a resumed run keeps its config: leave ${flag} out`);
    }
  }
  // out and name stay the run's own: the folder is --resume's, and the echoed config should say where it is.
  for (const k of RUNTIME_KEYS) if (k !== 'out' && k !== 'name') own[k] = cfg[k];
  return own as TrainConfig;
}

const COUNTERS = ['step', 'epoch', 'batchInEpoch', 'bestEpoch', 'epochsWithoutImprovement', 'epochBatches'] as const;

/** Types of the saved counters (ranges need the data set: checkStateRanges). Accepts bestEpoch -1 of format /1. */
export function checkStateShape(raw: unknown, path: string): RunState {
  const bad = (why: string): never => { throw new Error(`--resume: ${path}: ${why}; was the file edited? (the run cannot continue from it)`); };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('the counters are not an object');
  const s = raw as Record<string, unknown>;
  for (const k of COUNTERS) {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (k === 'bestEpoch' ? -1 : 0)) bad(`'${k}' is ${JSON.stringify(v)}, not a counter`);
  }
  if (s.bestAuroc !== null && !(typeof s.bestAuroc === 'number' && s.bestAuroc >= 0 && s.bestAuroc <= 1)) bad(`'bestAuroc' is ${JSON.stringify(s.bestAuroc)}`);
  if (typeof s.epochLossSum !== 'number' || !Number.isFinite(s.epochLossSum)) bad(`'epochLossSum' is ${JSON.stringify(s.epochLossSum)}`);
  if (typeof s.finished !== 'boolean') bad(`'finished' is ${JSON.stringify(s.finished)}`);
  const { step, epoch, batchInEpoch, bestAuroc, bestEpoch, epochsWithoutImprovement, epochLossSum, epochBatches, finished } = s as unknown as RunState;
  return { step, epoch, batchInEpoch, bestAuroc, bestEpoch, epochsWithoutImprovement, epochLossSum, epochBatches, finished };
}

/**
 * The counters against what this run can have reached: each epoch takes `stepsPerEpoch` steps, so the step
 * is a function of (epoch, batch), and nothing counts past the last epoch. An edited file fails here instead
 * of running bogus steps.
 */
export function checkStateRanges(s: RunState, stepsPerEpoch: number, epochs: number, path: string): void {
  const bad = (why: string): never => { throw new Error(`--resume: ${path}: ${why}; was the file edited? (the run cannot continue from it)`); };
  if (s.epoch > epochs) bad(`epoch ${s.epoch} is past the run's ${epochs} epochs`);
  if (s.batchInEpoch > stepsPerEpoch || (s.epoch === epochs && s.batchInEpoch > 0)) bad(`batchInEpoch ${s.batchInEpoch} is outside 0..${stepsPerEpoch} in epoch ${s.epoch}`);
  if (s.step !== s.epoch * stepsPerEpoch + s.batchInEpoch) bad(`step ${s.step} does not match epoch ${s.epoch} and batch ${s.batchInEpoch} (${stepsPerEpoch} steps per epoch)`);
  if (s.epochBatches !== s.batchInEpoch) bad(`epochBatches ${s.epochBatches} differs from batchInEpoch ${s.batchInEpoch}`);
  if (s.bestEpoch > s.epoch) bad(`bestEpoch ${s.bestEpoch} is after the epochs done (${s.epoch})`);
  if (s.epochsWithoutImprovement > s.epoch) bad(`epochsWithoutImprovement ${s.epochsWithoutImprovement} exceeds the epochs done (${s.epoch})`);
}

/**
 * Claim a new run's folder before anything else happens: make it, take its lock, and only then check that it
 * holds no run (checked under the lock, so two `--name X` started together cannot both pass the check and
 * later overwrite each other). Returns the release, which also removes the folder again if this call made it
 * and nothing was written into it (a bad --data leaves nothing behind).
 */
export function claimRunFolder(runDir: string): () => void {
  const made = !existsSync(runDir);
  mkdirSync(runDir, { recursive: true });
  const release = lockRunFolder(runDir);
  const releaseAndTidy = () => {
    release();
    if (made) {
      try {
        rmdirSync(runDir); // only succeeds while empty
      } catch { /* something was written: keep it */ }
    }
  };
  // state.json is written with the first saved state: a folder without it holds no run yet (an attempt that
  // failed before saving anything leaves config.json and a log, which writeNewRunConfig starts afresh).
  if (existsSync(join(runDir, 'state.json'))) {
    releaseAndTidy();
    throw new Error(`run folder ${runDir} already holds a run; use --resume ${runDir} or another --name`);
  }
  return releaseAndTidy;
}

/**
 * Write a claimed new run's config (after its data set has loaded, so a bad --data leaves nothing). A log.jsonl
 * left by an attempt that failed before saving any state is started afresh.
 */
export function writeNewRunConfig(runDir: string, cfg: TrainConfig): void {
  // The config first: its write goes through the write fence (a queue worker that lost its job writes nothing),
  // and only then is an earlier attempt's log removed.
  writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  rmSync(join(runDir, 'log.jsonl'), { force: true });
}

/** The lock file of a run folder in use (run.lock, holding the pid). */
export const RUN_LOCK = 'run.lock';

/**
 * Take the run folder for this process: two trainings of one folder (the same --resume twice, or the same
 * --name) would overwrite each other's checkpoints and log. A lock left by a killed run is taken over.
 * Returns the release.
 */
export function lockRunFolder(runDir: string): () => void {
  const lock = join(runDir, RUN_LOCK);
  takePidLock(lock, (pid) => `run folder ${runDir} is in use by process ${pid} (lock ${lock}); wait for that run, or remove the lock if that process is not this program`);
  return () => releasePidLock(lock);
}

/**
 * The resume file: one atomic file holds everything a resume needs (parameters, AdamW moments, the counters
 * that determine every later random draw), so a crash can never pair parameters with another step's state.
 */
export function writeResumeState(runDir: string, state: RunState, params: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>): void {
  const P = params.length;
  writeFileAtomic(join(runDir, RESUME_FILE), writeSafetensors(
    { params: { shape: [P], data: params }, m: { shape: [P], data: m }, v: { shape: [P], data: v } },
    { format: RESUME_FORMAT, state: JSON.stringify(state) },
  ));
}

/** state.json, the counters for people (and `finished`, which the resume file never carries). */
export function writeStateJson(runDir: string, state: RunState): void {
  writeFileAtomic(join(runDir, 'state.json'), JSON.stringify(state, null, 2) + '\n');
}

/**
 * Cut log.jsonl back to the resume point: records of steps after the saved step (a crash after logging but
 * before saving) and of epochs not completed in the saved state would otherwise appear twice, and a line torn
 * by a crash mid-append is dropped. Returns how many lines were removed.
 */
export function trimLogForResume(runDir: string, state: RunState): number {
  const path = join(runDir, 'log.jsonl');
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  const keep = lines.filter((l) => {
    let r: { step?: unknown; epoch?: unknown };
    try {
      r = JSON.parse(l);
    } catch {
      return false;
    }
    if (typeof r.step === 'number') return r.step <= state.step;
    return typeof r.epoch === 'number' && r.epoch <= state.epoch;
  });
  if (keep.length === lines.length) return 0;
  writeFileAtomic(path, keep.map((l) => l + '\n').join(''));
  return lines.length - keep.length;
}
