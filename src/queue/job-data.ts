/**
 * What a queued training job carries and how it is named. A job holds everything a worker needs to train it
 * exactly as the one-process runner would: the folder's settings, the job (with the unimodal jobs it is
 * initialised from), the trainer configuration the coordinator resolved, and the package version and git
 * commit of the coordinator's checkout, which a worker must match.
 *
 * Jobs are data, not commands: whoever can write to the Redis server can write a job, so a worker accepts a
 * job only through `acceptJob`, which rebuilds the job from its settings (a run of the protocol plan, named
 * as the plan names it), refuses any key a coordinator does not send, and returns the paths the job may
 * touch, each checked to lie inside the worker's --out or its --data.
 */
import { gitCommit } from '../node/commit.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRAIN_DEFAULTS, applyOverrides } from '../train/config.ts';
import { SETTINGS_FORMAT } from '../protocols/job-files.ts';
import type { Settings } from '../protocols/job-files.ts';
import { jobOverrides } from '../protocols/jobs.ts';
import { METHODS, jobKey, jobName, planCell, planJobs } from '../protocols/methods.ts';
import type { JobSpec } from '../protocols/methods.ts';
import { PROTOCOLS } from '../protocols/results.ts';

export const JOB_DATA_FORMAT = 'resilient-fusion-queue-job/1';

/** A queued job's data. */
export interface QueueJobData {
  format: string;
  /** package.json version and git commit of the coordinator's checkout. */
  version: string;
  commit: string;
  /** The run id: a hash of the settings; workers keep the run's folders under <--out>/<run>/. */
  run: string;
  settings: Settings;
  job: JobSpec;
  name: string;
  key: string;
  /** Why the job is needed (shown in logs). */
  why: string;
  /** The trainer configuration, resolved by the coordinator (paths relative to the run folder: `<out>`). */
  config: Record<string, unknown>;
}

/** What a finished job returns through the queue: its stress-predictions.json, byte for byte. */
export interface QueueJobResult {
  predictions: string;
  worker: string;
  seconds: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** This checkout's package version. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
}

/** The checkout's commit: one function for the job data and the model cards (src/node/commit.ts). */
export { gitCommit };

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** The run id of a settings object (what fixes a cell's meaning). */
export function runId(settings: Settings): string {
  return sha(JSON.stringify(settings)).slice(0, 12);
}

/** A version or commit as it may stand in a job id or a folder name (BullMQ ids may not hold ':'). */
function idPart(s: string, n: number): string {
  return s.replace(/[^0-9A-Za-z.+_-]/g, '_').slice(0, n);
}

/** The code a job was enqueued by, as it stands in job ids and worker run folders: `0.1.0-1a2b3c4d5e6f`. */
export function codeTag(version = packageVersion(), commit = gitCommit()): string {
  return `${idPart(version, 24)}-${idPart(commit, 18)}`;
}

/**
 * A job's BullMQ id: the run, the code (package version and commit) and a hash of the settings, the job's
 * key, version and commit; the same configuration of the same code always gets the same id, and another
 * commit's job is another job.
 */
export function queueJobId(settings: Settings, job: JobSpec, version = packageVersion(), commit = gitCommit()): string {
  return `${runId(settings)}-${codeTag(version, commit)}-${sha(JSON.stringify([settings, jobKey(job), version, commit])).slice(0, 20)}`;
}

/** The trainer overrides a coordinator sends in `settings.train` (the stress command's --batch and --lr). */
export const QUEUE_TRAIN_KEYS = ['batch', 'lr'] as const;

/** The keys of a job's data, of its settings: nothing else is accepted. */
const DATA_KEYS = ['format', 'version', 'commit', 'run', 'settings', 'job', 'name', 'key', 'why', 'config'];
const SETTINGS_KEYS = ['format', 'preset', 'epochs', 'data', 'levels', 'grid', 'train'];

/** The resolved trainer configuration of a job in a run folder `runsDir`. */
export function resolvedConfig(job: JobSpec, settings: Settings, runsDir: string): Record<string, unknown> {
  return { ...applyOverrides(TRAIN_DEFAULTS, jobOverrides(job, settings, runsDir, {}), `queue job ${jobName(job)}`) };
}

/** The jobs a job is initialised from (trained first, on any worker; their run folders must be shared). */
export function jobDeps(job: JobSpec): JobSpec[] {
  return job.init ? [job.init.vision, job.init.tabular] : [];
}

/** The data of a job the coordinator enqueues. */
export function jobData(settings: Settings, job: JobSpec, why: string): QueueJobData {
  return {
    format: JOB_DATA_FORMAT, version: packageVersion(), commit: gitCommit(), run: runId(settings), settings, job,
    name: jobName(job), key: jobKey(job), why, config: resolvedConfig(job, settings, '<out>'),
  };
}

/** Whether `path` (resolved) is `root` or lies inside it. */
export function inside(path: string, root: string): boolean {
  const r = relative(resolve(root), resolve(path));
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Why a job's data is not a job of this format at all (not an object, no or another `format`), or undefined.
 * Such a job can never run on any worker: it is failed, not handed back.
 */
export function formatRefusal(d: unknown): string | undefined {
  if (!isObject(d)) return `job data is ${d === null ? 'null' : Array.isArray(d) ? 'an array' : typeof d}, not an object`;
  if (d.format !== JOB_DATA_FORMAT) return `job format ${JSON.stringify(d.format ?? null)}, this worker reads ${JOB_DATA_FORMAT}`;
  return undefined;
}

/**
 * Why this checkout must not run the job: it was enqueued by another version or commit (a worker of that
 * code can run it: the job is handed back), or undefined if the code matches.
 */
export function codeRefusal(d: Record<string, unknown>): string | undefined {
  const v = packageVersion(), c = gitCommit();
  if (d.version !== v || d.commit !== c) {
    const name = typeof d.name === 'string' ? d.name.slice(0, 80) : '(unnamed)';
    return `job ${name} was enqueued by resilient-fusion ${String(d.version).slice(0, 40)} at commit ${String(d.commit).slice(0, 60)}; this worker is ${v} at commit ${c}: check out the coordinator's commit on this machine and start the worker again`;
  }
  return undefined;
}

/** Where a worker may read and write: its --out, and the data folder it was given (none: no job with data). */
export interface WorkerRoots {
  out: string;
  data?: string;
}

/** A job a worker has accepted: rebuilt from its settings, with the folders it may use. */
export interface AcceptedJob {
  settings: Settings;
  job: JobSpec;
  run: string;
  name: string;
  why: string;
  /** <out>/<run>-<code>: the run's folder (its runs/ hold the job's and its dependencies' run folders). */
  runDir: string;
  /** The job's own run folder and those of the jobs it is initialised from (all inside runDir). */
  jobDir: string;
  depDirs: string[];
}

function checkNumbers(v: unknown, what: string, ok: (x: number) => boolean, max: number): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > max) throw new Error(`${what} must be a list of 1 to ${max} numbers`);
  for (const x of v) if (typeof x !== 'number' || !ok(x)) throw new Error(`${what}: ${JSON.stringify(x)} is out of range`);
  return [...v] as number[];
}

/** The settings of a job, checked key by key and rebuilt (only the keys a coordinator sends). */
export function checkJobSettings(raw: unknown, roots: WorkerRoots): Settings {
  if (!isObject(raw)) throw new Error('settings is not an object');
  const extra = Object.keys(raw).filter((k) => !SETTINGS_KEYS.includes(k));
  if (extra.length) throw new Error(`settings: unknown key(s) ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
  if (raw.format !== SETTINGS_FORMAT) throw new Error(`settings: format ${JSON.stringify(raw.format)}, expected ${SETTINGS_FORMAT}`);
  if (!['tiny', 'small', 'base'].includes(raw.preset as string)) throw new Error(`settings: preset ${JSON.stringify(raw.preset)} is not tiny, small or base`);
  if (!(Number.isSafeInteger(raw.epochs) && (raw.epochs as number) >= 1 && (raw.epochs as number) <= 10_000)) throw new Error(`settings: epochs ${JSON.stringify(raw.epochs)} is not an integer in 1..10000`);
  const levels = checkNumbers(raw.levels, 'settings: levels', (x) => x >= 0 && x <= 1, 101);
  if (levels.some((l, i) => i > 0 && !(l > levels[i - 1]))) throw new Error('settings: levels must be increasing');
  const grid = checkNumbers(raw.grid, 'settings: grid', (x) => x >= 0 && x <= 0.5, 20);
  if (new Set(grid).size !== grid.length) throw new Error('settings: grid repeats a rate');
  const data = raw.data;
  if (typeof data !== 'string') throw new Error('settings: data is not a string');
  if (data) {
    if (!isAbsolute(data) || resolve(data) !== data) throw new Error(`settings: data ${JSON.stringify(data)} is not an absolute, resolved path`);
    if (!roots.data) throw new Error(`the job reads the data folder ${data}, and this worker was given no --data: start it with --data naming that folder (or one above it)`);
    if (!inside(data, roots.data)) throw new Error(`the job's data folder ${data} is not inside this worker's --data ${resolve(roots.data)}`);
  }
  if (!isObject(raw.train)) throw new Error('settings: train is not an object');
  const train: Settings['train'] = {};
  for (const [k, v] of Object.entries(raw.train)) {
    if (k === 'batch' && Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 65_536) train.batch = v as number;
    else if (k === 'lr' && typeof v === 'number' && v > 0 && v <= 10) train.lr = v;
    else if (!(QUEUE_TRAIN_KEYS as readonly string[]).includes(k)) throw new Error(`settings: train key ${JSON.stringify(k)} is not one a coordinator sends (${QUEUE_TRAIN_KEYS.join(', ')})`);
    else throw new Error(`settings: train ${k} ${JSON.stringify(v)} is out of range`);
  }
  return { format: SETTINGS_FORMAT, preset: raw.preset as string, epochs: raw.epochs as number, data, levels, grid, train };
}

/**
 * The job of the protocol plan whose key is `key`, for these settings and this seed: every method, protocol,
 * train level and grid rate is tried. Undefined if the plan has no such job (an unknown tag, override or level).
 */
export function planJob(settings: Settings, seed: number, key: string): JobSpec | undefined {
  for (const m of METHODS) for (const p of PROTOCOLS) for (const level of settings.levels) for (const d of [...settings.grid, 0]) {
    for (const j of planJobs(planCell(m, p, level, seed, d))) if (jobKey(j) === key) return j;
  }
  return undefined;
}

/**
 * Accept a job (format and code already checked) or throw why not: its settings hold only the keys a
 * coordinator sends, its job is one the protocol plan makes from them (so its tag, overrides, levels and the
 * jobs it is initialised from are the plan's), its run, name and key are the ones derived from them, its
 * configuration is the one this worker resolves, and every folder it uses lies inside the worker's roots.
 */
export function acceptJob(d: Record<string, unknown>, roots: WorkerRoots): AcceptedJob {
  const extra = Object.keys(d).filter((k) => !DATA_KEYS.includes(k));
  if (extra.length) throw new Error(`unknown key(s) ${extra.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);
  const settings = checkJobSettings(d.settings, roots);
  const run = runId(settings);
  if (d.run !== run) throw new Error(`run ${JSON.stringify(d.run)} is not the id of the job's settings (${run})`);
  const raw = d.job;
  if (!isObject(raw) || !(Number.isSafeInteger(raw.seed) && (raw.seed as number) >= 0 && (raw.seed as number) <= 1_000_000)) throw new Error('job: not a job of the protocol plan (no seed in 0..1000000)');
  let key: string;
  try {
    key = jobKey(raw as unknown as JobSpec);
  } catch {
    throw new Error('job: not a job of the protocol plan (malformed)');
  }
  const job = planJob(settings, raw.seed as number, key);
  if (!job) throw new Error(`job: tag ${JSON.stringify(String(raw.tag).slice(0, 60))} with its overrides and levels is no job of the protocol plan (methods ${METHODS.join(', ')} and their stages) for these settings`);
  const name = jobName(job);
  if (d.name !== name) throw new Error(`name ${JSON.stringify(String(d.name).slice(0, 80))} is not the job's (${name})`);
  if (d.key !== key) throw new Error(`key ${JSON.stringify(String(d.key).slice(0, 80))} is not the job's`);
  if (typeof d.why !== 'string' || d.why.length > 500) throw new Error('why: not a string of at most 500 characters');
  const mine = resolvedConfig(job, settings, '<out>');
  const theirs = d.config;
  if (!isObject(theirs)) throw new Error('config is not an object');
  for (const k of new Set([...Object.keys(mine), ...Object.keys(theirs)])) {
    if (JSON.stringify(mine[k]) !== JSON.stringify(theirs[k])) {
      return refuseConfig(name, k, mine[k], theirs[k]);
    }
  }
  const out = resolve(roots.out);
  const runDir = join(out, `${run}-${codeTag()}`);
  const jobDir = join(runDir, 'runs', name);
  const depDirs = jobDeps(job).map((j) => join(runDir, 'runs', jobName(j)));
  for (const p of [runDir, jobDir, ...depDirs]) if (!inside(p, out) || p === out) throw new Error(`internal: the job's folder ${p} is not inside --out ${out}`);
  // Control characters in `why` would rewrite the worker's terminal line; it is only shown.
  return { settings, job, run, name, why: d.why.replace(/[\u0000-\u001f\u007f]/g, ' '), runDir, jobDir, depDirs };
}

function refuseConfig(name: string, k: string, mine: unknown, theirs: unknown): never {
  const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 120));
  throw new Error(`job ${name}: this worker resolves ${JSON.stringify(k.slice(0, 40))} = ${show(mine)}, the job says ${show(theirs)}`);
}
