import { appendFileSync } from 'node:fs';
import { checkWriteFence } from '../node/files.ts';

/** Atomic file writes (temporary file, fsync, rename) serve every run file. */
export { writeFileAtomic } from '../node/files.ts';

/** Append one JSON line (log.jsonl). */
export function appendJsonLine(path: string, obj: unknown): void {
  checkWriteFence(path);
  appendFileSync(path, JSON.stringify(obj) + '\n');
}
