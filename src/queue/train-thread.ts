/**
 * One queued job's training, on a worker thread of its own, so that the worker's event loop stays free to
 * renew the job's BullMQ lock (the trainer at --threads 1 computes on the thread that calls it). The job is
 * trained by the one-process runner's own Jobs class in the run folder under the shared --out, so a queued
 * job is the same training run, bit for bit, as `npm run stress` would do.
 *
 * In: workerData {job: AcceptedJob, threads, synthDir, lease}, or, for a thread kept between jobs
 * (workerData {persistent: true}), one such input per message. Out: messages {log} ... then {predictions}
 * (the job's stress-predictions.json text, and the thread's id) or {error}.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { setWriteFence } from '../node/files.ts';
import { JOB_FILE } from '../protocols/job-files.ts';
import { Jobs } from '../protocols/jobs.ts';
import { RUN_LOCK } from '../train/run-folder.ts';
import type { AcceptedJob } from './job-data.ts';

/** What the worker passes to the thread. */
export interface TrainThreadInput {
  /** The accepted job (src/queue/job-data.ts acceptJob): its settings, the plan's job and its folders. */
  job: AcceptedJob;
  threads: number;
  synthDir?: string;
  /**
   * The job's lease (a Float64Array of one: the time, in ms since the epoch, until which the worker certainly
   * holds the job's lock). No run file is written after it; absent: no lease (a test's direct call).
   */
  lease?: SharedArrayBuffer;
  /**
   * How long to wait before taking over a run.lock left in the job's run folder (ms): long enough for its
   * holder's next lock extension, which fails and ends its lease (the worker's lock duration / 4, plus 1 s).
   */
  takeoverWaitMs?: number;
}

/** Thrown before a run-file write once the job's lease has ended. */
export class LeaseLost extends Error {}

/** Train the job (or read its stored predictions) and return the predictions file's text. */
export async function trainQueued(input: TrainThreadInput, log: (line: string) => void): Promise<string> {
  const a = input.job;
  if (a.settings.data && !existsSync(a.settings.data)) {
    throw new Error(`job ${a.name}: the data folder ${a.settings.data} (the coordinator's --data) does not exist on this machine; mount it at the same path on every worker`);
  }
  const jobs = new Jobs({ threads: input.threads, synthDir: input.synthDir, verbose: true }, a.settings, a.runDir, log);
  // The dependencies ran on other workers: their predictions and checkpoints must be in the shared folder.
  for (const dir of a.depDirs) {
    for (const f of [JOB_FILE, 'model.safetensors']) {
      if (!existsSync(join(dir, f))) {
        throw new Error(`job ${a.name} is initialised from ${dir}, which has no ${f}: every worker's --out must be the same shared folder`);
      }
    }
  }
  const lease = input.lease ? new Float64Array(input.lease) : undefined;
  if (lease) {
    setWriteFence((path) => {
      if (Date.now() > lease[0]) throw new LeaseLost(`the job's lock is no longer certainly this worker's: ${path} was not written`);
    });
  }
  try {
    // The worker holds the job's BullMQ lock, and one job is one run folder: a run.lock left there is a
    // stalled owner's (paused, cut off, or on another machine), whose lease has ended, or ends at its next
    // lock extension (a Redis that lost its data gives the job out again while its first owner still
    // trains): wait for that extension, then take the folder over.
    const lock = join(a.jobDir, RUN_LOCK);
    if (existsSync(lock)) {
      let holder = '?';
      try { holder = readFileSync(lock, 'utf8').trim(); } catch { /* gone meanwhile */ }
      const wait = input.takeoverWaitMs ?? 0;
      log(`run folder ${a.jobDir} is held by process ${holder}, which lost the job's lock: taking it over in ${(wait / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, wait));
      rmSync(lock, { force: true });
    }
    await jobs.ensure(a.job, a.why);
  } finally {
    setWriteFence(undefined);
  }
  return readFileSync(join(a.jobDir, JOB_FILE), 'utf8');
}

if (parentPort && (workerData?.job || workerData?.persistent)) {
  const port = parentPort;
  const run = (input: TrainThreadInput) => trainQueued(input, (line) => port.postMessage({ log: line })).then(
    (predictions) => port.postMessage({ predictions, threadId }),
    (e: unknown) => port.postMessage({ error: e instanceof Error ? e.message : String(e) }),
  );
  // A kept thread (src/queue/worker.ts) takes one job per message, one at a time; a one-job thread its workerData.
  if (workerData.job) void run(workerData as TrainThreadInput);
  else port.on('message', (input: TrainThreadInput) => { void run(input); });
}
