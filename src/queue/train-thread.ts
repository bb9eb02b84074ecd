/**
 * One queued job's training, on a worker thread of its own, so that the worker's event loop stays free to
 * renew the job's BullMQ lock (the trainer at --threads 1 computes on the thread that calls it). The job is
 * trained by the one-process runner's own Jobs class in the run folder under the shared --out, so a queued
 * job is the same training run, bit for bit, as `npm run stress` would do.
 *
 * In: workerData {data: QueueJobData, out, threads, synthDir}, or, for a thread kept between jobs
 * (workerData {persistent: true}), one such input per message. Out: messages {log} ... then {predictions}
 * (the job's stress-predictions.json text, and the thread's id) or {error}.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { JOB_FILE } from '../protocols/job-files.ts';
import { Jobs } from '../protocols/jobs.ts';
import { jobDeps } from './job-data.ts';
import type { QueueJobData } from './job-data.ts';

/** What the worker passes to the thread. */
export interface TrainThreadInput {
  data: QueueJobData;
  /** The run folder: <--out>/<run id>. */
  runDir: string;
  threads: number;
  synthDir?: string;
}

/** Train the job (or read its stored predictions) and return the predictions file's text. */
export async function trainQueued(input: TrainThreadInput, log: (line: string) => void): Promise<string> {
  const { data, runDir } = input;
  if (data.settings.data && !existsSync(data.settings.data)) {
    throw new Error(`job ${data.name}: the data folder ${data.settings.data} (the coordinator's --data) does not exist on this machine; mount it at the same path on every worker`);
  }
  const jobs = new Jobs({ threads: input.threads, synthDir: input.synthDir, verbose: true }, data.settings, runDir, log);
  // The dependencies ran on other workers: their predictions and checkpoints must be in the shared folder.
  for (const dep of jobDeps(data.job)) {
    const dir = jobs.dir(dep);
    for (const f of [JOB_FILE, 'model.safetensors']) {
      if (!existsSync(join(dir, f))) {
        throw new Error(`job ${data.name} is initialised from ${dir}, which has no ${f}: every worker's --out must be the same shared folder`);
      }
    }
  }
  await jobs.ensure(data.job, data.why);
  return readFileSync(join(jobs.dir(data.job), JOB_FILE), 'utf8');
}

if (parentPort && (workerData?.data || workerData?.persistent)) {
  const port = parentPort;
  const run = (input: TrainThreadInput) => trainQueued(input, (line) => port.postMessage({ log: line })).then(
    (predictions) => port.postMessage({ predictions, threadId }),
    (e: unknown) => port.postMessage({ error: e instanceof Error ? e.message : String(e) }),
  );
  // A kept thread (src/queue/worker.ts) takes one job per message, one at a time; a one-job thread its workerData.
  if (workerData.data) void run(workerData as TrainThreadInput);
  else port.on('message', (input: TrainThreadInput) => { void run(input); });
}
