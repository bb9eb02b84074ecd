/**
 * The Piscina training worker: one engine and one model replica per thread (src/train/replica.ts),
 * created from workerData on first use.
 */
import { workerData } from 'node:worker_threads';
import { Replica } from '../src/train/replica.ts';
import type { ReplicaInit, Task } from '../src/train/replica.ts';

let replica: Replica | undefined;

export default function run(task: Task): unknown {
  replica ??= new Replica(workerData as ReplicaInit);
  return replica.run(task);
}
