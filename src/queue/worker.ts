/**
 * A queue worker: takes training jobs from the BullMQ queue, trains each on a worker thread (the event loop
 * stays free for lock renewal, so a live worker's job is never taken for stalled), writes the run's files
 * under the shared --out folder and returns the job's predictions through the queue. A job from another
 * version of the code is put back for another worker and this worker stops with the reason.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { DelayedError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import { checkSettings } from '../protocols/job-files.ts';
import { QUEUE_NAME, connect, parseQueueUrl } from './connection.ts';
import { refusal } from './job-data.ts';
import type { QueueJobData, QueueJobResult } from './job-data.ts';
import type { TrainThreadInput } from './train-thread.ts';

export interface WorkerOptions {
  /** The Redis URL (`redis://` or `rediss://`). */
  queue: string;
  /** Shared output folder (run folders and model files). */
  out: string;
  /** Trainer threads per job (0: all cores). */
  threads: number;
  /** Jobs run at once by this worker. */
  concurrency: number;
  synthDir?: string;
  /** BullMQ lock duration and stalled-job check interval (ms): how soon a dead worker's job is retried. */
  lockMs?: number;
  stalledMs?: number;
  log?: (line: string) => void;
}

/** A started worker: `closed` settles when it stops (its value: why, if it stopped on a refusal). */
export interface RunningWorker {
  close(): Promise<void>;
  closed: Promise<string | undefined>;
}

/**
 * Train one job on a worker thread, forwarding its log lines; resolves to its predictions file's text and the
 * id of the thread that trained it.
 */
export function trainOnThread(input: TrainThreadInput, log: (line: string) => void): Promise<{ predictions: string; threadId: number }> {
  return new Promise((resolveP, reject) => {
    const t = new Thread(new URL('./train-thread.mjs', import.meta.url), { workerData: input });
    let settled = false;
    t.on('message', (m: { log?: string; predictions?: string; threadId?: number; error?: string }) => {
      if (m.log !== undefined) log(m.log);
      else if (m.predictions !== undefined) { settled = true; resolveP({ predictions: m.predictions, threadId: m.threadId! }); void t.terminate(); }
      else if (m.error !== undefined) { settled = true; reject(new Error(m.error)); void t.terminate(); }
    });
    t.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    t.on('exit', (code) => { if (!settled) { settled = true; reject(new Error(`the training thread exited with code ${code}`)); } });
  });
}

/** Start a worker on the queue; it runs until close() (or a job of another version arrives). */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const log = o.log ?? console.log;
  const target = parseQueueUrl(o.queue);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const connection = await connect(target);
  const me = `${hostname()}:${process.pid}`;
  let refused: string | undefined;
  let synthGate: Promise<unknown> | undefined;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => { stop = r; });

  const processor = async (job: Job<QueueJobData, QueueJobResult>, token?: string): Promise<QueueJobResult> => {
    const d = job.data;
    const why = refusal(d);
    if (why) {
      // Hand the job back for a worker of the right version, then stop: this one cannot run any job of the run.
      refused = why;
      await job.moveToDelayed(Date.now() + 1000, token);
      stop();
      throw new DelayedError();
    }
    const runDir = join(out, d.run);
    mkdirSync(runDir, { recursive: true });
    checkSettings(runDir, d.settings);
    const t0 = performance.now();
    log(`[${me}] job ${job.id}: ${d.name} (${d.why}), attempt ${job.attemptsMade + 1}`);
    const jobLog = (line: string) => { void job.log(line).catch(() => {}); };
    await job.log(`worker ${me}, attempt ${job.attemptsMade + 1}, run folder ${join(runDir, 'runs', d.name)}`);
    // A job on the built-in synthetic set generates it on first use: one job does that, the others wait.
    const synthMissing = () => !d.settings.data && !existsSync(join(resolve(o.synthDir ?? 'data/synthetic'), 'mimic-cxr-jpg'));
    if (synthMissing() && synthGate) await synthGate.catch(() => {});
    const training = trainOnThread({ data: d, runDir, threads: o.threads, synthDir: o.synthDir }, jobLog);
    if (synthMissing() && !synthGate) synthGate = training;
    const { predictions } = await training;
    const seconds = (performance.now() - t0) / 1000;
    log(`[${me}] job ${job.id}: ${d.name} done in ${seconds.toFixed(1)} s`);
    return { predictions, worker: me, seconds };
  };

  const worker = new Worker<QueueJobData, QueueJobResult>(QUEUE_NAME, processor, {
    connection, concurrency: o.concurrency, name: me,
    lockDuration: o.lockMs ?? 30_000, stalledInterval: o.stalledMs ?? 30_000,
    // A job whose worker died is retried (not failed) up to twice more.
    maxStalledCount: 2,
  });
  worker.on('failed', (job, err) => {
    if (job && !(err instanceof DelayedError)) log(`[${me}] job ${job.id}: ${job.data.name} failed: ${err.message}`);
  });
  // A Redis outage: one line per distinct error while the client reconnects.
  let lastError = '';
  worker.on('error', (e) => { if (e.message !== lastError) log(`[${me}] queue error: ${(lastError = e.message)} (reconnecting)`); });
  await worker.waitUntilReady();
  log(`worker ${me} on ${target.shown}, queue ${QUEUE_NAME}: ${o.concurrency} job(s) at a time, ${o.threads || 'all'} thread(s) each, output ${out}`);
  const close = async () => {
    await worker.close();
    connection.disconnect();
  };
  const closed = stopped.then(async () => {
    await close();
    return refused;
  });
  return { close: async () => { stop(); await closed; }, closed };
}
