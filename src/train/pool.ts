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
    // One task at a time per worker: chunks are the unit of balance.
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
