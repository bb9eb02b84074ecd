/**
 * Where replica tasks run: inline on the main thread (--threads 1) or on a Piscina pool of worker threads,
 * each holding one engine and one model replica. Both run the same Replica code, so results are
 * bit-identical whatever the thread count.
 */
import { Piscina } from 'piscina';
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
 * is set when more threads than cores were asked for. Bad counts (negative, fractional) are errors.
 */
export function threadPlan(threads: number, batch: number, microBatch: number, cores: number): { workers: number; line: string; warning?: string } {
  if (!Number.isInteger(threads) || threads < 0) throw new Error(`--threads must be a positive integer (or 0: all cores), got ${threads}`);
  const asked = threads > 0 ? threads : cores;
  const units = Math.ceil(batch / microBatch);
  const workers = Math.min(asked, units);
  const line = workers < asked
    ? `threads: ${workers} of ${asked} can work (a batch of ${batch} is ${units} unit(s) of --micro-batch ${microBatch}; a smaller --micro-batch or a larger --batch gives each thread work)`
    : `threads: ${workers} working on ${units} unit(s) of --micro-batch ${microBatch} per batch of ${batch}`;
  const warning = asked > cores ? `warning: --threads ${asked} is more than the ${cores} cores here; the extra threads share cores and make steps slower` : undefined;
  return { workers, line, warning };
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
  const pool = new Piscina({
    filename: new URL('../../workers/train.ts', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    workerData: init,
    // One task at a time per worker: units (and the optimizer's block ranges) are the unit of balance.
    concurrentTasksPerWorker: 1,
  });
  // A worker that dies or sends what Piscina cannot read surfaces as the pool's 'error' event, which would
  // otherwise end the process: turn it into a rejection of every task in flight.
  let fail: (e: unknown) => void = () => {};
  const failure = new Promise<never>((_, reject) => { fail = reject; });
  failure.catch(() => {});
  pool.on('error', (e: unknown) => fail(e));
  return {
    threads,
    run: <T>(task: Task) =>
      Promise.race([pool.run(task), failure]).catch((e: unknown) => {
        throw new Error(`a training worker failed: ${e instanceof Error ? e.message : String(e)}`);
      }) as Promise<T>,
    close: () => pool.destroy(),
  };
}
