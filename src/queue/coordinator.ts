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
 * Attaching. Job ids are the run, the code (package version and commit) and a hash of the settings, the job's
 * configuration and the code: running the same command again (after Ctrl-C, or from another machine with the
 * same --out) finds the jobs already queued or done and enqueues nothing twice. The data of every job found
 * is checked against the job this coordinator would enqueue. Jobs of this run enqueued by other code are
 * refused in one line, unless --fresh (which removes them). The output folder is locked (stress.lock) while
 * a coordinator waits and writes the report; --status only reads.
 *
 * The image cache. A job on a data folder needs its image cache, which the first training on a cold folder
 * builds (hours on MIMIC) under a pid lock: the coordinator builds it before it enqueues the first job, so no
 * worker ever meets a cache being built (docs/queue.md says why this rather than workers that wait).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { writeFileAtomic } from '../node/files.ts';
import { JOB_FILE, checkSettings, dropUnusedSettings, holdsResults, lockOutputFolder } from '../protocols/job-files.ts';
import type { Selection, Settings } from '../protocols/job-files.ts';
import { PROPOSED, USES_DROPOUT_CHOICE, jobKey, jobName, planCell, planJobs } from '../protocols/methods.ts';
import type { JobSpec, MethodName } from '../protocols/methods.ts';
import { CellStore, repairCellStore } from '../protocols/results.ts';
import { bestRate, checkOptions, runStress, stressSettings } from '../protocols/runner.ts';
import type { StressOptions, StressResult } from '../protocols/runner.ts';
import { TRAIN_DEFAULTS } from '../train/config.ts';
import type { TrainConfig } from '../train/config.ts';
import { prepareData } from '../train/data.ts';
import { formatSeconds } from '../train/evaluation.ts';
import { QUEUE_NAME, connect, parseQueueUrl } from './connection.ts';
import { QUEUE_TRAIN_KEYS, checkJobSettings, codeTag, gitCommit, jobData, jobDeps, packageVersion, queueJobId, resolvedConfig, runId } from './job-data.ts';
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
  /**
   * Start the run at this commit although the queue holds its jobs of other code (another version or
   * commit): those jobs are removed (waiting, delayed, failed and finished ones; running ones finish on their
   * workers and are ignored).
   */
  fresh?: boolean;
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
  /** Whether this coordinator has made sure the data folder's image cache exists (see ensureImageCache). */
  cacheReady: boolean;
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
  return { o, out, settings, grid, todo, cacheReady: false };
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

/**
 * A job found under a needed job's id must hold the data this coordinator would enqueue (the reason it
 * was needed aside: jobs are shared by every run that needs them). Anything else was not written by a
 * coordinator of this run: refused in one line.
 */
function checkFoundData(run: Run, n: Needed, job: Job): void {
  const want = jobData(run.settings, n.job, n.why) as unknown as Record<string, unknown>;
  const got = (job.data ?? {}) as Record<string, unknown>;
  for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) {
    if (k === 'why') continue;
    if (JSON.stringify(want[k]) !== JSON.stringify(got[k])) {
      throw new Error(`the queue's job ${n.id} is not this run's job ${jobName(n.job)}: its ${JSON.stringify(k.slice(0, 40))} differs from what this coordinator enqueues; it was not written by this run's coordinator: remove it (or use another Redis database)`);
    }
  }
}

/** A finished job's result: its predictions text, of the job's key (else a one-line error). */
function checkResult(n: Needed, job: Job): QueueJobResult {
  const r = job.returnvalue as QueueJobResult | null;
  let key: unknown;
  try {
    if (typeof r?.predictions !== 'string') throw new Error('no predictions');
    key = (JSON.parse(r.predictions) as { key?: unknown }).key;
  } catch (e) {
    throw new Error(`the queue's finished job ${n.id} (${jobName(n.job)}) returned no readable predictions (${(e as Error).message.slice(0, 100)}): remove it and run the command again`);
  }
  if (key !== jobKey(n.job)) throw new Error(`the queue's finished job ${n.id} returned the predictions of another job than ${jobName(n.job)}: remove it and run the command again`);
  return r!;
}

/** The queue state of a needed job, mapped onto what the progress line shows. */
async function stateOf(run: Run, queue: Queue, n: Needed, done: (j: JobSpec) => boolean): Promise<{ state: State; job?: Job }> {
  const job = await queue.getJob(n.id);
  if (!job) {
    return { state: jobDeps(n.job).every(done) ? 'absent' : 'blocked' };
  }
  checkFoundData(run, n, job);
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
      const { state, job } = await stateOf(run, queue, n, doneKey);
      if (state === 'done' && job) {
        const r = checkResult(n, job);
        done.set(k, valAuroc(r.predictions));
        if (job.processedOn && job.finishedOn) seconds.set(k, (job.finishedOn - job.processedOn) / 1000);
        if (write) {
          mkdirSync(join(run.out, 'runs', jobName(n.job)), { recursive: true });
          writeFileAtomic(predictionsPath(run, n.job), r.predictions);
        }
      } else if (state === 'absent' && enqueue) {
        if (!run.cacheReady) await ensureImageCache(run, n.job);
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
 * Build the data folder's image cache here, before the first job is enqueued, through the trainer's own data
 * preparation with a job's configuration (so it is the very cache every job opens). Nothing to do without a
 * data folder (each worker generates the synthetic set in its own --synth-dir) or when the cache exists (the
 * preparation then only reads it); a data folder this machine does not see is said in a line and left to
 * the workers.
 */
async function ensureImageCache(run: Run, job: JobSpec): Promise<void> {
  run.cacheReady = true;
  if (!run.settings.data) return;
  const log = run.o.log ?? console.log;
  if (!existsSync(run.settings.data)) {
    log(`queue: the data folder ${run.settings.data} is not on this machine: the first job builds its image cache (on a cold cache, jobs started meanwhile on other workers fail and are retried)`);
    return;
  }
  const cfg = { ...TRAIN_DEFAULTS, ...resolvedConfig(job, run.settings, join(run.out, 'runs')), progress: 'none' } as TrainConfig;
  const t0 = performance.now();
  log(`queue: preparing the data set ${run.settings.data} (its image cache is built here, once, before any job is enqueued) ...`);
  const { ds } = await prepareData(cfg, run.o.threads || availableParallelism(), log);
  log(`queue: data set ready (${ds.n} studies, ${formatSeconds((performance.now() - t0) / 1000)})`);
}

/** The key that names the code (package version and commit) a queue run belongs to. */
const codeKey = (run: Run) => `${QUEUE_NAME}:code:${runId(run.settings)}`;

/** A job of this run in the queue enqueued by other code. */
interface OtherJob { id: string; code: string }

/**
 * This run's jobs in the queue enqueued by other code (another version or commit; ids of older checkouts
 * too): every job key of the run's id prefix, and the version and commit its data names.
 */
async function otherCodeJobs(queue: Queue, client: Redis, run: Run): Promise<OtherJob[]> {
  const prefix = queue.toKey(''), mine = codeTag(), found: OtherJob[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}${runId(run.settings)}-*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const id = key.slice(prefix.length);
      if (id.includes(':')) continue; // a job's :logs or :lock
      let d: { version?: unknown; commit?: unknown } = {};
      try {
        d = JSON.parse((await client.hget(key, 'data')) ?? '{}');
      } catch {
        // unreadable data: reported as unknown code
      }
      const code = codeTag(String(d.version), String(d.commit));
      if (code !== mine) found.push({ id, code: `resilient-fusion ${String(d.version).slice(0, 40)} at commit ${String(d.commit).slice(0, 60)}` });
    }
  } while (cursor !== '0');
  return found;
}

/**
 * Refuse (one line) to attach to a run whose jobs were enqueued by other code, unless `fresh`, which removes
 * them (those a worker holds now finish there and are ignored: their ids are not this code's). The code the
 * run belongs to is then this one's (a key in Redis), so later attaches accept jobs left running.
 */
async function checkRunCode(queue: Queue, client: Redis, run: Run, q: QueueRunOptions, log: (l: string) => void): Promise<void> {
  const here = `resilient-fusion ${packageVersion()} at commit ${gitCommit()}`;
  const owner = await client.get(codeKey(run));
  const others = await otherCodeJobs(queue, client, run);
  const owned = owner === codeTag();
  if (!q.fresh) {
    if (q.status) {
      if (others.length && !owned) log(`queue: ${others.length} job(s) of this run were enqueued by ${others[0].code}, not by this ${here}`);
      return;
    }
    if ((owner && !owned) || (!owner && others.length)) {
      const by = others.length ? `${others.length} job(s) of this run enqueued by ${others[0].code}` : `this run, started by resilient-fusion ${owner}`;
      throw new Error(`the queue on this server holds ${by}; this coordinator is ${here}: run the coordinator of that commit to continue it, or add --fresh to start the run again at this commit (it removes those jobs from the queue)`);
    }
  } else if (!q.status) {
    let removed = 0;
    for (const o of others) removed += (await queue.remove(o.id)) ? 1 : 0;
    const left = others.length - removed;
    log(`--fresh: removed ${removed} job(s) of this run enqueued by other code${left ? `; ${left} are running on workers of that code: they finish there and are ignored` : ''}`);
  }
  if (!q.status) await client.set(codeKey(run), codeTag());
}

/**
 * The output folder's code (queue.json): a folder whose results were computed by other code is refused,
 * --fresh or not (its cells and copied predictions are that code's): use another --out.
 */
function checkOutputCode(run: Run): void {
  const path = join(run.out, 'queue.json');
  const here = { format: 'resilient-fusion-queue-run/1', version: packageVersion(), commit: gitCommit() };
  if (existsSync(path) && holdsResults(run.out)) {
    let there: { version?: unknown; commit?: unknown } = {};
    try { there = JSON.parse(readFileSync(path, 'utf8')); } catch { /* named below as unknown */ }
    if (there.version !== here.version || there.commit !== here.commit) {
      throw new Error(`${run.out} holds results of a queue run by resilient-fusion ${String(there.version)} at commit ${String(there.commit)}; this coordinator is ${here.version} at commit ${here.commit}: use another --out`);
    }
    return;
  }
  writeFileAtomic(path, JSON.stringify(here, null, 2) + '\n');
}

/**
 * Run the protocols through the queue: enqueue, wait, then build the report in `o.out` exactly as
 * runStress would. With `status` only prints the run's state (returns undefined). The output folder is
 * locked from the first enqueue to the end of the report; `status` takes no lock and writes nothing.
 */
export async function runQueued(o: StressOptions, q: QueueRunOptions): Promise<StressResult | undefined> {
  const run = openRun(o, q.status);
  const extra = Object.keys(o.train ?? {}).filter((k) => !(QUEUE_TRAIN_KEYS as readonly string[]).includes(k));
  if (extra.length) throw new Error(`queue runs send only the trainer overrides ${QUEUE_TRAIN_KEYS.join(', ')} to workers; this run sets ${extra.join(', ')}`);
  // What every worker checks (src/queue/job-data.ts), checked here first: a run that workers would refuse is one line now.
  checkJobSettings(run.settings, { out: run.out, data: run.settings.data || undefined });
  let release = () => {};
  if (!q.status) {
    mkdirSync(run.out, { recursive: true });
    release = lockOutputFolder(run.out);
  }
  try {
    const r = await waitQueued(run, o, q);
    if (r !== 'done') return r;
    (o.log ?? console.log)('every job is done: building the cells and the report');
    return await runStress({ ...o, onTrain: (job) => { throw new Error(`internal: the queue run would train ${job} locally`); } }, true);
  } finally {
    release();
  }
}

/** Enqueue and wait until every job is done ('done'), or print the state (`status`), or stop on the signal. */
async function waitQueued(run: Run, o: StressOptions, q: QueueRunOptions): Promise<StressResult | undefined | 'done'> {
  const log = o.log ?? console.log;
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
    await checkRunCode(queue, connection, run, q, log);
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
    checkSettings(run.out, run.settings);
    settingsWritten = true;
    checkOutputCode(run);
    if (q.retryFailed) {
      const s = await survey(run, queue, done, seconds, true, false, 0);
      for (const { job } of s.failed) await job.retry('failed');
      log(`retrying ${s.failed.length} failed job(s)`);
    }
    log(`queue run on ${target.shown}: ${run.todo.length} cell(s) to compute; jobs go to queue ${QUEUE_NAME} (start workers with npm run worker -- --queue URL --out SHARED_FOLDER${run.settings.data ? ' --data DATA_FOLDER' : ''})`);
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
      if (s.counts.done === s.total && !s.choicePending) return 'done';
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
}
