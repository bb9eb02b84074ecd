/**
 * Where replica tasks run: inline on the main thread (--threads 1) or on a Piscina pool of worker threads,
 * each holding one engine and one model replica. Both run the same Replica code, so results are
 * bit-identical whatever the thread count.
 */
import { Piscina } from 'piscina';
import { unitsPerBatch } from './batching.ts';
import { Replica } from './replica.ts';
import type { ReplicaInit, Task } from './replica.ts';

export interface TaskRunner {
  readonly threads: number;
  run<T>(task: Task): Promise<T>;
  close(): Promise<void>;
}

/**
 * How many workers a run uses: --threads N (0: all cores) capped at the units of a batch, since a step has
 * no more parallel work than that. `line` says so at start and names the flag that changes it; `warning`
 * is set when more workers than cores will run (not merely asked for: a cap at the units that leaves them
 * within the cores is no warning). Bad counts (negative, fractional) are errors.
 */
export function threadPlan(threads: number, batch: number, microBatch: number, cores: number): { workers: number; line: string; warning?: string } {
  if (!Number.isInteger(threads) || threads < 0) throw new Error(`--threads must be a positive integer (or 0: all cores), got ${threads}`);
  const asked = threads > 0 ? threads : cores;
  const units = unitsPerBatch(batch, microBatch);
  const workers = Math.min(asked, units);
  const line = workers < asked
    ? `threads: ${workers} of ${asked} can work (a batch of ${batch} is ${units} unit(s) of --micro-batch ${microBatch}; a smaller --micro-batch or a larger --batch gives each thread work)`
    : `threads: ${workers} working on ${units} unit(s) of --micro-batch ${microBatch} per batch of ${batch}`;
  const warning = workers > cores ? `warning: --threads ${asked} runs ${workers} workers on the ${cores} cores here; the extra threads share cores and make steps slower` : undefined;
  return { workers, line, warning };
}

/** What the pool's workers receive: the task, its run, and the run's replica settings (workers/train.ts). */
export interface PoolTask {
  run: number;
  init: ReplicaInit;
  task: Task;
}

/**
 * One pool of training threads for the whole process, reused by run after run (the protocols train hundreds
 * of models in one process). Why: every new worker thread loads the TypeScript sources through tsx, whose
 * loader leaves about 70 file descriptors open per thread; a fresh pool per run exhausted the descriptor
 * limit after ~145 runs of `npm run stress -- --quick` (EMFILE). Reused threads cost nothing per run.
 */
interface SharedPool {
  pool: Piscina;
  threads: number;
  users: number;
  /** Rejects the tasks in flight of the runner now using the pool (a dead worker, an unreadable message). */
  fail: (e: unknown) => void;
  idle?: ReturnType<typeof setTimeout>;
}
let shared: SharedPool | undefined;
let runs = 0;
/** A released pool waits this long for the next run before its threads are stopped. */
const KEEP_MS = 2000;

function acquirePool(threads: number): SharedPool {
  if (shared && shared.threads === threads && shared.users === 0) {
    clearTimeout(shared.idle);
    shared.users = 1;
    return shared;
  }
  if (shared && shared.users === 0) {
    clearTimeout(shared.idle);
    void shared.pool.destroy();
    shared = undefined;
  }
  const pool = new Piscina({
    filename: new URL('../../workers/train.ts', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    // One task at a time per worker: units (and the optimizer's block ranges) are the unit of balance.
    concurrentTasksPerWorker: 1,
  });
  const entry: SharedPool = { pool, threads, users: 1, fail: () => {} };
  // A worker that dies or sends what Piscina cannot read surfaces as the pool's 'error' event, which would
  // otherwise end the process: one listener, which rejects the current runner's tasks in flight.
  pool.on('error', (e: unknown) => entry.fail(e));
  // A pool already in use by another run in this process (rare: concurrent trainings) is not shared.
  if (!shared) shared = entry;
  return entry;
}

function releasePool(entry: SharedPool): Promise<void> {
  entry.users--;
  entry.fail = () => {};
  if (entry !== shared) return entry.pool.destroy();
  entry.idle = setTimeout(() => {
    if (shared === entry && entry.users === 0) {
      shared = undefined;
      void entry.pool.destroy();
    }
  }, KEEP_MS);
  return Promise.resolve();
}

export function createRunner(init: ReplicaInit, threads: number): TaskRunner {
  if (threads <= 1) {
    let replica: Promise<Replica> | undefined;
    return {
      threads: 1,
      run: async <T>(task: Task) => (await (replica ??= Replica.create(init))).run(task) as Promise<T>,
      close: async () => {},
    };
  }
  const entry = acquirePool(threads), run = ++runs;
  let failure = new Promise<never>((_, reject) => { entry.fail = reject; });
  failure.catch(() => {});
  let closed = false;
  return {
    threads,
    run: <T>(task: Task) =>
      Promise.race([entry.pool.run({ run, init, task } satisfies PoolTask), failure]).catch((e: unknown) => {
        throw new Error(`a training worker failed: ${e instanceof Error ? e.message : String(e)}`);
      }) as Promise<T>,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      failure = Promise.reject(new Error('the run closed its worker pool'));
      failure.catch(() => {});
      return releasePool(entry);
    },
  };
}
