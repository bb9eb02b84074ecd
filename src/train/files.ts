import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkWriteFence } from '../node/files.ts';

/** Append one JSON line (log.jsonl). */
export function appendJsonLine(path: string, obj: unknown): void {
  checkWriteFence(path);
  appendFileSync(path, JSON.stringify(obj) + '\n');
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let commitCache: string | undefined;

/**
 * This checkout's git commit (`+dirty` when tracked files differ from it; RESILIENT_FUSION_COMMIT overrides
 * it; 'unknown' without git). The same rule as the queue's job data (src/queue/job-data.ts), which sits above
 * this layer.
 */
export function checkoutCommit(): string {
  if (process.env.RESILIENT_FUSION_COMMIT) return process.env.RESILIENT_FUSION_COMMIT;
  if (commitCache) return commitCache;
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commitCache = head + (dirty ? '+dirty' : '');
  } catch {
    commitCache = 'unknown';
  }
  return commitCache;
}

/** A checkpoint's `provenance` metadata entry: where the model came from, for the demo and for readers. */
export interface Provenance {
  preset: string;
  /** The training data folder's name (its last path segment; the synthetic data set's folder when no --data). */
  data: string;
  commit: string;
  /** The best epoch's validation macro AUROC (null before the first validation). */
  validation: { macroAuroc: number; epoch: number } | null;
}

/**
 * The provenance of a run at its current state. No date: checkpoints of the same run on the same commit keep
 * the same bytes (the demo shows the file's date instead).
 */
export function trainingProvenance(cfg: { preset: string; data: string; synthDir: string }, state: { bestAuroc: number | null; bestEpoch: number }): Provenance {
  return {
    preset: cfg.preset,
    data: basename(resolve(cfg.data || cfg.synthDir)),
    commit: checkoutCommit(),
    validation: state.bestAuroc === null ? null : { macroAuroc: state.bestAuroc, epoch: state.bestEpoch },
  };
}
