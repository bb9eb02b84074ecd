/**
 * The Piscina training worker: one engine and one model replica per thread (src/train/replica.ts),
 * created from workerData on first use.
 */
import { workerData } from 'node:worker_threads';
import { Replica } from '../src/train/replica.ts';
import type { ReplicaInit, Task } from '../src/train/replica.ts';

let replica: Promise<Replica> | undefined;

export default async function run(task: Task): Promise<unknown> {
  replica ??= Replica.create(workerData as ReplicaInit);
  return (await replica).run(task);
}
