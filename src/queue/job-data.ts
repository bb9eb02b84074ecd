/**
 * What a queued training job carries and how it is named. A job holds everything a worker needs to train it
 * exactly as the one-process runner would: the folder's settings, the job (with the unimodal jobs it is
 * initialised from), the trainer configuration the coordinator resolved, and the package version and git
 * commit of the coordinator's checkout, which a worker must match.
 */
import { gitCommit } from '../node/commit.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TRAIN_DEFAULTS, applyOverrides } from '../train/config.ts';
import type { Settings } from '../protocols/job-files.ts';
import { jobOverrides } from '../protocols/jobs.ts';
import { jobKey, jobName } from '../protocols/methods.ts';
import type { JobSpec } from '../protocols/methods.ts';

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

/** A job's BullMQ id: the run and the job's key, hashed; the same configuration always gets the same id. */
export function queueJobId(settings: Settings, job: JobSpec): string {
  return `${runId(settings)}-${sha(JSON.stringify([settings, jobKey(job)])).slice(0, 20)}`;
}

/**
 * Keys of the resolved configuration that depend on the machine, not on the job: a worker sets its own
 * (its --out, --threads, where the synthetic set lives, its dependencies' checkpoints under its --out).
 */
export const MACHINE_KEYS = ['out', 'threads', 'progress', 'synthDir', 'initFrom', 'resume'] as const;

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

/**
 * Why this checkout must not run the job (another version, another commit, or a trainer that resolves the
 * job differently), or undefined if it may.
 */
export function refusal(d: QueueJobData): string | undefined {
  if (d.format !== JOB_DATA_FORMAT) return `job format ${JSON.stringify(d.format)}, this worker reads ${JOB_DATA_FORMAT}`;
  const v = packageVersion(), c = gitCommit();
  if (d.version !== v || d.commit !== c) {
    return `job ${d.name} was enqueued by resilient-fusion ${d.version} at commit ${d.commit}; this worker is ${v} at commit ${c}: check out the coordinator's commit on this machine and start the worker again`;
  }
  const mine = resolvedConfig(d.job, d.settings, '<out>');
  for (const k of new Set([...Object.keys(mine), ...Object.keys(d.config)])) {
    if ((MACHINE_KEYS as readonly string[]).includes(k)) continue;
    if (JSON.stringify(mine[k]) !== JSON.stringify(d.config[k])) {
      return `job ${d.name}: this worker resolves ${k} = ${JSON.stringify(mine[k])}, the coordinator resolved ${JSON.stringify(d.config[k])}`;
    }
  }
  return undefined;
}
