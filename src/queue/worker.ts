/**
 * A queue worker: takes training jobs from the BullMQ queue, trains each on a worker thread (the event loop
 * stays free for lock renewal, so a live worker's job is never taken for stalled), writes the run's files
 * under the shared --out folder and returns the job's predictions through the queue. A job from another
 * version of the code is put back for another worker and this worker stops with the reason; a job that is
 * not a job of the protocol plan (src/queue/job-data.ts acceptJob) is failed at once with the reason.
 *
 * The lease. The worker extends the job's BullMQ lock itself and keeps, in memory shared with the training
 * thread, the time until which the lock is certainly held (the send time of the last extension that succeeded
 * plus the lock duration, less a margin). The thread checks it before every run-file write: a worker that was
 * paused or cut off past the lock stops writing before the stalled-job check can give the job to another
 * worker, and that new owner takes the run folder over (docs/queue.md, "Who owns a run folder").
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import { DelayedError, UnrecoverableError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import { syntheticSetComplete } from '../data/synth.ts';
import { checkSettings } from '../protocols/job-files.ts';
import { QUEUE_NAME, connect, parseQueueUrl } from './connection.ts';
import { acceptJob, codeRefusal, formatRefusal } from './job-data.ts';
import type { QueueJobData, QueueJobResult } from './job-data.ts';
import type { TrainThreadInput } from './train-thread.ts';

export interface WorkerOptions {
  /** The Redis URL (`redis://` or `rediss://`). */
  queue: string;
  /** Shared output folder (run folders and model files). */
  out: string;
  /** The data folder jobs may read (a job's data folder must be it or lie inside it); none: synthetic jobs only. */
  data?: string;
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
 * Training threads kept between jobs. Why: every new thread loads the TypeScript sources through tsx, whose
 * loader leaves ~70 file descriptors open per thread, and the trainer's own worker pool inside it would be
 * new per job too: a worker running hundreds of jobs with a fresh thread each ran out of descriptors. A
 * thread that finished a job (or failed one with a message) waits, unref'd, for the next.
 */
const idleThreads: Thread[] = [];

/** Stop the idle training threads (a worker that closes). */
export async function closeTrainingThreads(): Promise<void> {
  await Promise.all(idleThreads.splice(0).map((t) => t.terminate()));
}

/**
 * Train one job on a training thread (a kept one, or a new one), forwarding its log lines; resolves to its
 * predictions file's text and the id of the thread that trained it.
 */
export function trainOnThread(input: TrainThreadInput, log: (line: string) => void): Promise<{ predictions: string; threadId: number }> {
  return new Promise((resolveP, reject) => {
    const t = idleThreads.pop() ?? new Thread(new URL('./train-thread.mjs', import.meta.url), { workerData: { persistent: true } });
    t.ref();
    let settled = false;
    const done = (keep: boolean) => {
      settled = true;
      t.off('message', onMessage);
      t.off('error', onError);
      t.off('exit', onExit);
      if (keep) { t.unref(); idleThreads.push(t); } else void t.terminate();
    };
    const onMessage = (m: { log?: string; predictions?: string; threadId?: number; error?: string }) => {
      if (m.log !== undefined) log(m.log);
      else if (m.predictions !== undefined) { done(true); resolveP({ predictions: m.predictions, threadId: m.threadId! }); }
      else if (m.error !== undefined) { done(true); reject(new Error(m.error)); }
    };
    const onError = (e: Error) => { if (!settled) { done(false); reject(e); } };
    const onExit = (code: number) => { if (!settled) { done(false); reject(new Error(`the training thread exited with code ${code}`)); } };
    t.on('message', onMessage);
    t.on('error', onError);
    t.on('exit', onExit);
    t.postMessage(input);
  });
}

/** The lease margin: the lease ends this long before the lock could expire (a fifth of it, at most 5 s). */
export function leaseMargin(lockMs: number): number {
  return Math.min(5000, lockMs / 5);
}

/**
 * Keep a job's lock extended (every quarter of the lock duration) and its lease up to date; `lost` is called
 * once an extension fails (the lock is another worker's, or Redis cannot say). Returns the stop.
 */
async function holdLease(job: Job, token: string, lockMs: number, lease: Float64Array, lost: (why: string) => void): Promise<() => void> {
  let stopped = false, timer: NodeJS.Timeout | undefined;
  const extend = async (): Promise<boolean> => {
    const sent = Date.now();
    let ok = false;
    try {
      ok = (await job.extendLock(token, lockMs)) === 1;
    } catch {
      ok = false;
    }
    if (stopped) return ok;
    if (ok) lease[0] = Math.max(lease[0], sent + lockMs - leaseMargin(lockMs));
    else {
      stopped = true;
      lease[0] = 0;
      lost('the lock could not be extended: it expired, or is another worker\'s now');
    }
    return ok;
  };
  const first = await extend();
  if (first) {
    const tick = () => { timer = setTimeout(() => { void extend().then((ok) => { if (ok && !stopped) tick(); }); }, lockMs / 4); };
    tick();
  }
  return () => { stopped = true; clearTimeout(timer); };
}

/** Start a worker on the queue; it runs until close() (or a job of another version arrives). */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const log = o.log ?? console.log;
  const target = parseQueueUrl(o.queue);
  const out = resolve(o.out);
  const lockMs = o.lockMs ?? 30_000;
  mkdirSync(out, { recursive: true });
  const connection = await connect(target);
  const me = `${hostname()}:${process.pid}`;
  let refused: string | undefined;
  let synthGate: Promise<unknown> | undefined;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => { stop = r; });

  const processor = async (job: Job<QueueJobData, QueueJobResult>, token?: string): Promise<QueueJobResult> => {
    const d = job.data as unknown;
    const bad = formatRefusal(d);
    if (bad) {
      log(`[${me}] job ${job.id}: refused: ${bad}`);
      throw new UnrecoverableError(`refused by ${me}: ${bad}`);
    }
    const data = d as Record<string, unknown>;
    const why = codeRefusal(data);
    if (why) {
      // Hand the job back for a worker of the right version, then stop: this one cannot run any job of the run.
      refused = why;
      await job.moveToDelayed(Date.now() + 1000, token);
      stop();
      throw new DelayedError();
    }
    let a: ReturnType<typeof acceptJob>;
    try {
      a = acceptJob(data, { out, data: o.data });
    } catch (e) {
      const reason = (e as Error).message;
      log(`[${me}] job ${job.id}: refused: ${reason}`);
      throw new UnrecoverableError(`refused by ${me}: ${reason}`);
    }
    // The lease: the training thread writes only while it is certainly this worker's (see the file's comment).
    const lease = new Float64Array(new SharedArrayBuffer(8));
    let lostWhy = '';
    const release = await holdLease(job, token ?? '', lockMs, lease, (w) => {
      lostWhy = w;
      log(`[${me}] job ${job.id}: ${a.name}: lost its lock (${w}): its training stops writing; another worker takes the job`);
    });
    try {
      if (lease[0] === 0) throw new Error(`job ${a.name}: its lock was lost before it started (${lostWhy})`);
      mkdirSync(a.runDir, { recursive: true });
      checkSettings(a.runDir, a.settings);
      const t0 = performance.now();
      log(`[${me}] job ${job.id}: ${a.name} (${a.why}), attempt ${job.attemptsMade + 1}`);
      const jobLog = (line: string) => { void job.log(line).catch(() => {}); };
      await job.log(`worker ${me}, attempt ${job.attemptsMade + 1}, run folder ${a.jobDir}`);
      // A job on the built-in synthetic set generates it on first use: one job does that, the others wait.
      const synthMissing = () => !a.settings.data && !syntheticSetComplete(resolve(o.synthDir ?? 'data/synthetic'));
      if (synthMissing() && synthGate) await synthGate.catch(() => {});
      const input: TrainThreadInput = { job: a, threads: o.threads, synthDir: o.synthDir, lease: lease.buffer as SharedArrayBuffer, takeoverWaitMs: lockMs / 4 + 1000 };
      const training = trainOnThread(input, jobLog);
      if (synthMissing() && !synthGate) synthGate = training;
      const { predictions } = await training;
      const seconds = (performance.now() - t0) / 1000;
      log(`[${me}] job ${job.id}: ${a.name} done in ${seconds.toFixed(1)} s`);
      return { predictions, worker: me, seconds };
    } catch (e) {
      if (!lostWhy) throw e;
      // The job is another worker's now: BullMQ will not take this failure (the lock is not ours), so say it here.
      log(`[${me}] job ${job.id}: ${a.name}: stopped writing after losing its lock: ${(e as Error).message}`);
      throw new Error(`${a.name}: this worker lost the job's lock (${lostWhy}) and stopped writing: ${(e as Error).message}`);
    } finally {
      release();
    }
  };

  const worker = new Worker<QueueJobData, QueueJobResult>(QUEUE_NAME, processor, {
    connection, concurrency: o.concurrency, name: me,
    lockDuration: lockMs, stalledInterval: o.stalledMs ?? 30_000,
    // A job whose worker died is retried (not failed) up to twice more.
    maxStalledCount: 2,
  });
  worker.on('failed', (job, err) => {
    if (job && !(err instanceof DelayedError)) log(`[${me}] job ${job.id}: ${String(job.data?.name).slice(0, 80)} failed: ${err.message}`);
  });
  // A Redis outage: one line per distinct error while the client reconnects. (A lock error: a job this
  // worker lost, whose completion or renewal Redis refused; nothing to reconnect.)
  let lastError = '';
  worker.on('error', (e) => {
    if (e.message === lastError) return;
    lastError = e.message;
    log(`[${me}] queue error: ${e.message}${/lock/i.test(e.message) ? '' : ' (reconnecting)'}`);
  });
  await worker.waitUntilReady();
  log(`worker ${me} on ${target.shown}, queue ${QUEUE_NAME}: ${o.concurrency} job(s) at a time, ${o.threads || 'all'} thread(s) each, output ${out}${o.data ? `, data under ${resolve(o.data)}` : ''}`);
  // BullMQ's fetch loop can end on a connection error while Redis restarts (taskforcesh/bullmq#648, #2466): the
  // worker then takes no job again, and its lazily connected blocking client never reconnects (the coordinator
  // counts 0 workers). Seen once in about 40 restart rounds (test/queue/redis-restart.test.ts, Node 24). The
  // loop is started again when found stopped.
  let closing = false;
  const watchdog = setInterval(() => {
    if (closing || worker.isRunning()) return;
    log(`[${me}] queue: the worker's fetch loop had stopped (a Redis outage?); starting it again`);
    worker.run().catch((e: unknown) => log(`[${me}] queue error: restarting the fetch loop: ${e instanceof Error ? e.message : String(e)}`));
  }, 2000);
  watchdog.unref();
  const close = async () => {
    closing = true;
    clearInterval(watchdog);
    await worker.close();
    await closeTrainingThreads();
    connection.disconnect();
  };
  const closed = stopped.then(async () => {
    await close();
    return refused;
  });
  return { close: async () => { stop(); await closed; }, closed };
}
