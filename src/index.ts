/**
 * resilient-fusion: vision + tabular transformers that keep working when modalities or features are
 * missing. The library API: `createModel`, `loadModel`, and the model's `forward`, `lossAndGrad`,
 * `parameters`, `save` (docs/design.md, "The batch contract and the library API"); prediction from raw
 * inputs with `Predictor`; data sets with `loadDataset` and `makeBatch`. More of each layer under the
 * subpaths `resilient-fusion/infer`, `/data`, `/webgpu` and `/edge` (the browser bundle).
 */
export * from './model/index.ts';
// The Node entry: loadModel(path), saveModel, and the file writer of model.save(path) (installed on import).
export { loadModel, saveModel } from './node/model.ts';
export type { Batch, Backend, SyncBackend, BackendKind, AnyBackendKind } from './engine/index.ts';
export { LABEL_NAMES, NUM_LABELS, createBackend, createBackendAsync, ReferenceBackend, WasmBackend } from './engine/index.ts';
// Prediction from raw inputs (docs/usage.md, "Prediction").
export { Predictor, inferenceSpec, inputFields } from './infer/index.ts';
export type { PredictInput, Prediction, FieldInfo, PredictorOptions, InferenceSpec, ImageInput, TableInput } from './infer/index.ts';
// Data sets (docs/usage.md, "Data"; docs/data.md).
export { loadDataset, inspectDataset, makeBatch, generateSynthetic, formatReport } from './data/index.ts';
export type { LoadOptions, PreparedDataset, SynthOptions } from './data/index.ts';
