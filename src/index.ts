/**
 * resilient-fusion: vision + tabular transformers that keep working when modalities or features are
 * missing. The library API: `createModel`, `loadModel`, and the model's `forward`, `lossAndGrad`,
 * `parameters`, `save` (docs/design.md, "The batch contract and the library API").
 */
export * from './model/index.ts';
// The Node entry: models with file I/O (loadModel(path), model.save(path)); these shadow the star export's.
export { Model, createModel, loadModel, saveModel } from './node/model.ts';
export type { Batch, Backend, SyncBackend, BackendKind } from './engine/index.ts';
export { LABEL_NAMES, NUM_LABELS, createBackend, ReferenceBackend } from './engine/index.ts';
