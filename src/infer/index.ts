/**
 * Inference: the preprocessing a checkpoint prescribes (spec.ts), raw inputs to batches (inputs.ts), the
 * Predictor (predictor.ts), prediction over a data set folder (dataset.ts, Node.js) and the output formats
 * of `npm run predict` (format.ts). spec, inputs and predictor use no Node.js API (the edge bundle, src/edge/).
 */
export { inferenceSpec, inputFields } from './spec.ts';
export type { InferenceSpec, InputField, NumericField, CategoricalField } from './spec.ts';
export { encodeTable, encodeImage, buildBatch, rangeInInputUnit, MAX_TABLE_FIELDS, MAX_TABLE_BYTES } from './inputs.ts';
export type { DecodedImage, ImageInput, TableInput, InvalidField, FieldReport, EncodedTable, EncodedInput } from './inputs.ts';
export { Predictor, sigmoidProbabilities } from './predictor.ts';
export type { PredictInput, Prediction, FieldInfo, PredictorOptions } from './predictor.ts';
export { explainRows, explainFromLogits, maskedBatch, presentFeatures, exactShapley, summarizeContributions, EXACT_MAX, DEFAULT_PERMUTATIONS } from './explain.ts';
export type { Explanation, ExplainOptions, ExplainPlan, ModalityValues, FeatureValue, FindingFeatures, MaskedRow, ContributionSummary } from './explain.ts';
export { predictDataset, alignDataset } from './dataset.ts';
export type { SplitChoice, DatasetPredictOptions, DatasetRow, DatasetPrediction } from './dataset.ts';
export { datasetRecords, singleRecord, toJson, toCsv } from './format.ts';
export type { OutputRecord, PredictOutput } from './format.ts';
