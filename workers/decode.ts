/** The Piscina image-decoding worker: one decode task (src/data/decode-task.ts) per call. */
import { runDecodeTask } from '../src/data/decode-task.ts';
import type { DecodeResult, DecodeTask } from '../src/data/decode-task.ts';

export default function decode(task: DecodeTask): Promise<DecodeResult> {
  return runDecodeTask(task);
}
