/**
 * The Piscina training worker: one engine and one model replica per thread (src/train/replica.ts). The
 * pool outlives a training run (src/train/pool.ts), so each task names its run and carries the run's
 * ReplicaInit (SharedArrayBuffers and small settings: cheap to send); a task of a new run replaces the
 * replica of the previous one.
 */
import { Replica } from '../src/train/replica.ts';
import type { PoolTask } from '../src/train/pool.ts';

let current: { run: number; replica: Promise<Replica> } | undefined;

export default async function run(msg: PoolTask): Promise<unknown> {
  if (!current || current.run !== msg.run) current = { run: msg.run, replica: Replica.create(msg.init) };
  return (await current.replica).run(msg.task);
}
