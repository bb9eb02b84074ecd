import { appendFileSync } from 'node:fs';

/** Atomic file writes (temporary file, fsync, rename) serve every run file. */
export { writeFileAtomic } from '../node/files.ts';

/** Append one JSON line (log.jsonl). */
export function appendJsonLine(path: string, obj: unknown): void {
  appendFileSync(path, JSON.stringify(obj) + '\n');
}
