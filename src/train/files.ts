import { appendFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { checkWriteFence } from '../node/files.ts';
import { gitCommit } from '../node/commit.ts';

/** Append one JSON line (log.jsonl). */
export function appendJsonLine(path: string, obj: unknown): void {
  checkWriteFence(path);
  appendFileSync(path, JSON.stringify(obj) + '\n');
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
    commit: gitCommit(),
    validation: state.bestAuroc === null ? null : { macroAuroc: state.bestAuroc, epoch: state.bestEpoch },
  };
}
