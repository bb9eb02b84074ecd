/**
 * The coordinator of a queue run (`npm run stress -- ... --queue URL`): enqueues every training job the
 * protocol plan needs, waits for the workers with a progress line, copies each finished job's predictions
 * into its output folder, and then runs the one-process runner there, which finds every job done (it trains
 * nothing) and builds the same cells and report, byte for byte, as a one-process run.
 *
 * Dependencies. The proposed method's dropout rate is chosen on the grid's validation scores, so the jobs of
 * the methods that use it are enqueued once the grid's jobs are done; a frozen-encoders job is enqueued once
 * the unimodal jobs it is initialised from are done. (BullMQ flows give a job one parent, and one unimodal
 * run initialises the frozen-encoders runs of every level, so the coordinator holds such jobs back itself.)
 *
 * Attaching. Job ids are hashes of the settings and the job's configuration: running the same command again
 * (after Ctrl-C, or from another machine with the same --out) finds the jobs already queued or done and
 * enqueues nothing twice.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import type { Job } from 'bullmq';
import { writeFileAtomic } from '../node/files.ts';
import { JOB_FILE, checkSettings, dropUnusedSettings } from '../protocols/job-files.ts';
import type { Selection, Settings } from '../protocols/job-files.ts';
import { PROPOSED, USES_DROPOUT_CHOICE, jobKey, jobName, planCell, planJobs } from '../protocols/methods.ts';
import type { JobSpec, MethodName } from '../protocols/methods.ts';
import { CellStore, repairCellStore } from '../protocols/results.ts';
import { bestRate, checkOptions, runStress, stressSettings } from '../protocols/runner.ts';
import type { StressOptions, StressResult } from '../protocols/runner.ts';
import { formatSeconds } from '../train/evaluation.ts';
import { QUEUE_NAME, connect, parseQueueUrl } from './connection.ts';
import { jobData, jobDeps, queueJobId } from './job-data.ts';
import type { QueueJobData, QueueJobResult } from './job-data.ts';

export interface QueueRunOptions {
  /** Redis URL. */
  queue: string;
  /** Print the run's state and return; enqueue nothing, write nothing. */
  status?: boolean;
  /** Retry the run's failed jobs first (they keep their logs), then wait as usual. */
  retryFailed?: boolean;
  /** Poll interval of the wait (ms). */
  pollMs?: number;
  /** Attempts per job before it is failed (a job whose worker died counts as stalled, not as an attempt). */
  attempts?: number;
}

/** A needed job and, when known, its state in the queue. */
interface Needed {
  job: JobSpec;
  why: string;
  id: string;
}

type State = 'done' | 'running' | 'waiting' | 'blocked' | 'failed' | 'absent';

/** What a queue run is made of: its settings, output folder and the cells it still has to compute. */
interface Run {
  o: StressOptions;
  out: string;
  settings: Settings;
  grid: number[];
  todo: { method: MethodName; protocol: StressOptions['protocols'][number]; trainLevel: number; seed: number }[];
}

/** The run's settings and cells; `all`: every cell of the command (for --status), else those not yet stored. */
function openRun(o: StressOptions, all = false): Run {
  const { grid } = checkOptions(o);
  const out = resolve(o.out);
  const settings = stressSettings(o, grid);
  const storePath = join(out, 'cells.jsonl');
  const store = existsSync(storePath) ? (repairCellStore(storePath), new CellStore(storePath)) : undefined;
  const todo: Run['todo'] = [];
  for (let seed = 0; seed < o.seeds; seed++) for (const trainLevel of o.levels) for (const protocol of o.protocols) for (const method of o.methods) {
    const key = { method, protocol, trainLevel, seed };
    if (all || !store?.has(key)) todo.push(key);
  }
  return { o, out, settings, grid, todo };
}

const predictionsPath = (run: Run, job: JobSpec) => join(run.out, 'runs', jobName(job), JOB_FILE);

/** The validation macro AUROC stored in a job's predictions text (null in JSON is NaN). */
function valAuroc(text: string): number {
  const v = (JSON.parse(text) as { validation: { macroAuroc: number | null } }).validation.macroAuroc;
  return v ?? NaN;
}

/**
 * The jobs the run needs now: the dropout grid's (while the rate is unknown) and every job of a cell that
 * does not wait for the rate. `done` maps each finished job's key to its validation macro AUROC (only that is
 * kept: a job's predictions are megabytes on a real test split).
 */
function neededJobs(run: Run, done: Map<string, number>): { needed: Needed[]; chosen?: number; choicePending: boolean } {
  const { settings, grid } = run;
  const needsChoice = run.todo.some((k) => USES_DROPOUT_CHOICE.has(k.method));
  const byKey = new Map<string, Needed>();
  const need = (job: JobSpec, why: string) => {
    const k = jobKey(job);
    if (!byKey.has(k)) byKey.set(k, { job, why, id: queueJobId(settings, job) });
  };
  let chosen: number | undefined;
  const selPath = join(run.out, 'selection.json');
  if (existsSync(selPath)) chosen = (JSON.parse(readFileSync(selPath, 'utf8')) as Selection).chosen;
  else if (needsChoice) {
    const rows = grid.map((d) => {
      // The grid's model and the jobs it is initialised from (the cell's unimodal runs, for a pretrained
      // proposed): its validation score is the model's own, the last job of its plan.
      const jobs = planJobs(planCell(PROPOSED, 'image', 0, 0, d));
      for (const j of jobs) need(j, `the dropout grid (d = ${d})`);
      const job = jobs[jobs.length - 1];
      return { drop: d, valMacroAuroc: done.get(jobKey(job)) };
    });
    if (rows.every((r) => r.valMacroAuroc !== undefined)) chosen = bestRate(rows as { drop: number; valMacroAuroc: number }[]).drop;
  }
  for (const k of run.todo) {
    if (USES_DROPOUT_CHOICE.has(k.method) && chosen === undefined) continue;
    const plan = planCell(k.method, k.protocol, k.trainLevel, k.seed, chosen ?? NaN);
    for (const j of planJobs(plan)) need(j, `${k.method}, protocol ${k.protocol}, train level ${k.trainLevel}, seed ${k.seed}`);
  }
  return { needed: [...byKey.values()], chosen, choicePending: needsChoice && chosen === undefined };
}

/** The queue state of a needed job, mapped onto what the progress line shows. */
async function stateOf(queue: Queue, n: Needed, done: (j: JobSpec) => boolean): Promise<{ state: State; job?: Job }> {
  const job = await queue.getJob(n.id);
  if (!job) {
    return { state: jobDeps(n.job).every(done) ? 'absent' : 'blocked' };
  }
  const s = await job.getState();
  // Fetched again: the job may have completed between the two calls, and its result is read from it.
  if (s === 'completed') return { state: 'done', job: (await queue.getJob(n.id)) ?? job };
  if (s === 'failed') return { state: 'failed', job };
  if (s === 'active') return { state: 'running', job };
  return { state: 'waiting', job };
}

/** Counts by state and the progress line. */
interface Survey {
  counts: Record<State, number>;
  failed: { n: Needed; job: Job }[];
  running: { n: Needed; job: Job }[];
  choicePending: boolean;
  total: number;
  workers: number;
}

/**
 * One look at the run: which needed jobs are done (copied into the output folder when `write`), running,
 * waiting, failed; absent ones whose dependencies are done are enqueued when `enqueue`.
 */
async function survey(run: Run, queue: Queue, done: Map<string, number>, seconds: Map<string, number>, write: boolean, enqueue: boolean, attempts: number): Promise<Survey> {
  // Two rounds at most: a finished grid fixes the dropout rate, which adds that rate's jobs.
  for (let round = 0; ; round++) {
    const { needed, choicePending } = neededJobs(run, done);
    const counts: Record<State, number> = { done: 0, running: 0, waiting: 0, blocked: 0, failed: 0, absent: 0 };
    const failed: Survey['failed'] = [], running: Survey['running'] = [];
    const doneKey = (j: JobSpec) => done.has(jobKey(j));
    for (const n of needed) {
      const k = jobKey(n.job);
      if (!done.has(k) && existsSync(predictionsPath(run, n.job))) done.set(k, valAuroc(readFileSync(predictionsPath(run, n.job), 'utf8')));
      if (done.has(k)) { counts.done++; continue; }
      const { state, job } = await stateOf(queue, n, doneKey);
      if (state === 'done' && job) {
        const r = job.returnvalue as QueueJobResult;
        done.set(k, valAuroc(r.predictions));
        if (job.processedOn && job.finishedOn) seconds.set(k, (job.finishedOn - job.processedOn) / 1000);
        if (write) {
          mkdirSync(join(run.out, 'runs', jobName(n.job)), { recursive: true });
          writeFileAtomic(predictionsPath(run, n.job), r.predictions);
        }
      } else if (state === 'absent' && enqueue) {
        const data: QueueJobData = jobData(run.settings, n.job, n.why);
        // Removed on neither success nor failure: results are read back and failures keep log and error.
        await queue.add(data.name, data, { jobId: n.id, attempts, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: false, removeOnFail: false });
        counts.waiting++;
        continue;
      } else if (state === 'failed' && job) failed.push({ n, job });
      else if (state === 'running' && job) running.push({ n, job });
      counts[state]++;
    }
    const again = round === 0 && neededJobs(run, done).needed.length !== needed.length;
    if (!again) return { counts, failed, running, choicePending, total: needed.length, workers: (await queue.getWorkers()).length };
  }
}

function progressLine(s: Survey, seconds: Map<string, number>, t0: number): string {
  const c = s.counts, left = s.total - c.done;
  const times = [...seconds.values()], mean = times.reduce((a, b) => a + b, 0) / Math.max(1, times.length);
  const eta = left === 0 ? '0 s' : times.length === 0 ? 'unknown' : formatSeconds((mean * left) / Math.max(1, c.running));
  // Absent jobs are enqueued at once by a waiting coordinator: only --status shows them as not queued.
  const waiting = c.waiting + c.blocked, absent = c.absent ? `, ${c.absent} not queued yet` : '';
  return `queue: ${c.done}/${s.total}${s.choicePending ? '+' : ''} jobs done, ${c.running} running, ${waiting} waiting${absent}, ${c.failed} failed; ${s.workers} worker(s); elapsed ${formatSeconds((performance.now() - t0) / 1000)}, ETA ${eta}`;
}

/** The failed jobs, each with its error and the end of its log. */
async function failedText(queue: Queue, s: Survey): Promise<string[]> {
  const lines: string[] = [];
  for (const { n, job } of s.failed) {
    lines.push(`  failed: ${jobName(n.job)} (job ${n.id}, ${job.attemptsMade} attempt(s)): ${job.failedReason}`);
    const { logs } = await queue.getJobLogs(n.id, -5, -1);
    for (const l of logs) lines.push(`    log: ${l}`);
  }
  return lines;
}

/**
 * Run the protocols through the queue: enqueue, wait, then build the report in `o.out` exactly as
 * runStress would. With `status` only prints the run's state (returns undefined).
 */
export async function runQueued(o: StressOptions, q: QueueRunOptions): Promise<StressResult | undefined> {
  const log = o.log ?? console.log;
  const run = openRun(o, q.status);
  const target = parseQueueUrl(q.queue);
  const connection = await connect(target);
  const queue = new Queue<QueueJobData, QueueJobResult>(QUEUE_NAME, { connection });
  // A Redis outage during the wait: one line per distinct error while the client reconnects.
  let lastError = '';
  queue.on('error', (e: Error) => { if (e.message !== lastError) log(`queue: ${(lastError = e.message)} (reconnecting)`); });
  const done = new Map<string, number>(), seconds = new Map<string, number>();
  const t0 = performance.now();
  let settingsWritten = false;
  try {
    if (q.status) {
      const s = await survey(run, queue, done, seconds, false, false, 0);
      log(`queue run of ${run.out} on ${target.shown} (${run.todo.length} cell(s))`);
      log(progressLine(s, seconds, t0));
      for (const { n, job } of s.running) {
        log(`  running: ${jobName(n.job)} on ${job.processedBy ?? 'a worker'} for ${formatSeconds((Date.now() - (job.processedOn ?? Date.now())) / 1000)}`);
      }
      for (const l of await failedText(queue, s)) log(l);
      return undefined;
    }
    mkdirSync(run.out, { recursive: true });
    checkSettings(run.out, run.settings);
    settingsWritten = true;
    if (q.retryFailed) {
      const s = await survey(run, queue, done, seconds, true, false, 0);
      for (const { job } of s.failed) await job.retry('failed');
      log(`retrying ${s.failed.length} failed job(s)`);
    }
    log(`queue run on ${target.shown}: ${run.todo.length} cell(s) to compute; jobs go to queue ${QUEUE_NAME} (start workers with npm run worker -- --queue URL --out SHARED_FOLDER)`);
    let last = '', lastAt = 0;
    for (;;) {
      if (o.signal?.aborted) {
        log('stopped waiting; the queued jobs go on: run the same command again to attach');
        return { out: run.out, interrupted: true, trained: 0, cellsAdded: 0, cellsTotal: 0, artifacts: [], sanity: [], rows: [], comparisons: [] };
      }
      const s = await survey(run, queue, done, seconds, true, true, q.attempts ?? 3);
      const line = progressLine(s, seconds, t0);
      const counts = line.replace(/; elapsed.*/, '');
      if (counts !== last || performance.now() - lastAt > 60_000) { log(line); last = counts; lastAt = performance.now(); }
      if (s.counts.done === s.total && !s.choicePending) break;
      if (s.counts.failed > 0 && s.counts.running + s.counts.waiting + s.counts.absent === 0) {
        const lines = await failedText(queue, s);
        throw new Error(`${s.counts.failed} job(s) failed and nothing else can run:\n${lines.join('\n')}\nfix the cause, then retry them with the same command and --retry-failed`);
      }
      await new Promise((r) => setTimeout(r, q.pollMs ?? 1000));
    }
  } catch (e) {
    // As runStress: a failed command leaves no settings that nothing was stored under.
    if (settingsWritten) dropUnusedSettings(run.out);
    throw e;
  } finally {
    await queue.close();
    connection.disconnect();
  }
  log('every job is done: building the cells and the report');
  return runStress({ ...o, onTrain: (job) => { throw new Error(`internal: the queue run would train ${job} locally`); } });
}

