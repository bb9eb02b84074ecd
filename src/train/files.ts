import { appendFileSync } from 'node:fs';

/** Atomic file writes (temporary file, fsync, rename): the model's checkpoint writer serves every run file. */
export { writeFileAtomic } from '../model/safetensors.ts';

/** Append one JSON line (log.jsonl). */
export function appendJsonLine(path: string, obj: unknown): void {
  appendFileSync(path, JSON.stringify(obj) + '\n');
}
