/**
 * The model: config and presets, parameter layout, the ViT + FT-Transformer + masked fusion forward and
 * backward, and safetensors checkpoints. No Node.js API: `loadModel(path)` and `model.save(path)` are in
 * src/node/model.ts (and the library entry, src/index.ts).
 */
export type { ModelConfig, PresetName, UncertainPolicy, Dims, GeluForm } from './config.ts';
export { MODEL_DEFAULTS, MODEL_LIMITS, presetConfig, resolveConfig, dims, forwardFlopsPerSample, paramCount, tensorCount, activationElements } from './config.ts';
export type { LayoutEntry, InitKind } from './layout.ts';
export { buildLayout, initParams, layoutSize, BLOCK_TENSORS } from './layout.ts';
export type { ModelOptions, LossOptions, LossAndGrad } from './model.ts';
export { Model, createModel, modelFromBytes, sliceBatch } from './model.ts';
export { labelTargets, observedLabels, sigmoidProbabilities } from './loss.ts';
export type { SafeTensor, SafetensorsFile } from './safetensors.ts';
export { readSafetensors, writeSafetensors, MAX_HEADER_BYTES } from './safetensors.ts';
export { CHECKPOINT_FORMAT, encodeCheckpoint, decodeCheckpoint } from './checkpoint.ts';
export type { DecodedCheckpoint } from './checkpoint.ts';
export type { ChannelNorm, TimmVit } from './import-timm.ts';
export { INCEPTION_NORM, IMAGENET_NORM, readTimmVit, timmVisionConfig, timmVisionTensors, resizePositions, foldPatchWeights, placeTensors } from './import-timm.ts';
