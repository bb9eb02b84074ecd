/**
 * The model's file I/O, Node-only (the edge bundle never reaches it, so it needs no node:fs stand-in):
 * `loadModel(path)` of the library API, `saveModel` for a model on any backend, and the atomic file writer
 * that `Model.save(path)` uses, installed when this module is imported. There is one Model class
 * (src/model/model.ts) and one createModel; this module adds no second one.
 */
import { readFileSync } from 'node:fs';
import type { Backend, SyncBackend } from '../engine/types.ts';
import { installModelFileWriter, modelFromBytes } from '../model/model.ts';
import type { Model, ModelOptions } from '../model/model.ts';
import { writeFileAtomic } from './files.ts';

installModelFileWriter(writeFileAtomic);

/**
 * Load a checkpoint (a path or the file's bytes): `modelFromBytes` on the file's bytes, its errors prefixed
 * with the path. The config comes from the file; `opts.metadata` entries are merged over the file's metadata.
 */
export function loadModel(source: string | Uint8Array, opts?: Omit<ModelOptions<SyncBackend>, 'seed'>): Model<SyncBackend>;
export function loadModel<B extends Backend>(source: string | Uint8Array, opts: Omit<ModelOptions<B>, 'seed'> & { backend: B }): Model<B>;
export function loadModel<B extends Backend>(source: string | Uint8Array, opts: Omit<ModelOptions<B>, 'seed'> = {}): Model<B> {
  if (typeof source !== 'string') return modelFromBytes(source, opts as Omit<ModelOptions<B>, 'seed'> & { backend: B });
  return modelFromBytes(new Uint8Array(readFileSync(source)), opts as Omit<ModelOptions<B>, 'seed'> & { backend: B }, source);
}

/** Save any model's checkpoint atomically (read back asynchronously on WebGPU). */
export async function saveModel(model: Model<Backend>, path: string): Promise<void> {
  writeFileAtomic(path, await model.toSafetensorsAsync());
}
