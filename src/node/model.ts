/**
 * The model's file I/O, Node-only (the edge bundle never reaches it, so it needs no node:fs stand-in):
 * `loadModel(path)` and `model.save(path)` of the library API, and `saveModel` for a model on any backend.
 */
import { readFileSync } from 'node:fs';
import type { Backend, SyncBackend } from '../engine/types.ts';
import type { ModelConfig } from '../model/config.ts';
import { Model as CoreModel, modelFromBytes } from '../model/model.ts';
import type { ModelOptions } from '../model/model.ts';
import { decodeCheckpoint } from '../model/checkpoint.ts';
import { writeFileAtomic } from './files.ts';

/** The model with `save(path)` (what the library's createModel and loadModel give). */
export class Model<B extends Backend = SyncBackend> extends CoreModel<B> {
  /** Save a checkpoint atomically (a temporary file, then rename). Synchronous backends; else `saveModel`. */
  save(this: Model<SyncBackend>, path: string): void {
    writeFileAtomic(path, this.toSafetensors());
  }
}

/** A new model: `config` overrides the defaults (the `small` preset); unknown keys are errors. */
export function createModel(config?: Partial<ModelConfig>, opts?: ModelOptions<SyncBackend>): Model<SyncBackend>;
export function createModel<B extends Backend>(config: Partial<ModelConfig>, opts: ModelOptions<B> & { backend: B }): Model<B>;
export function createModel<B extends Backend>(config: Partial<ModelConfig> = {}, opts: ModelOptions<B> = {}): Model<B> {
  return new Model<B>(config, opts);
}

/**
 * Load a checkpoint (a path or the file's bytes). The config comes from the file; `opts.metadata` entries
 * are merged over the file's metadata. Throws a clear message, naming the file, on a malformed or
 * mismatching one.
 */
export function loadModel(source: string | Uint8Array, opts?: Omit<ModelOptions<SyncBackend>, 'seed'>): Model<SyncBackend>;
export function loadModel<B extends Backend>(source: string | Uint8Array, opts: Omit<ModelOptions<B>, 'seed'> & { backend: B }): Model<B>;
export function loadModel<B extends Backend>(source: string | Uint8Array, opts: Omit<ModelOptions<B>, 'seed'> = {}): Model<B> {
  const bytes = typeof source === 'string' ? new Uint8Array(readFileSync(source)) : source;
  let ck;
  try {
    ck = decodeCheckpoint(bytes);
  } catch (e) {
    if (typeof source === 'string' && e instanceof Error) e.message = `${source}: ${e.message}`;
    throw e;
  }
  return new Model<B>(ck.config, { ...opts, metadata: { ...ck.metadata, ...(opts.metadata ?? {}) } }, ck.params);
}

/** Save any model's checkpoint atomically (read back asynchronously on WebGPU). */
export async function saveModel(model: CoreModel<Backend>, path: string): Promise<void> {
  writeFileAtomic(path, await model.toSafetensorsAsync());
}

export { modelFromBytes };
