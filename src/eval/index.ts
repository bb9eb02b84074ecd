/** Evaluation: metrics over observed labels, calibration and temperature scaling, patient-level bootstrap. */
export { auroc, auprc, f1At, bestF1Threshold, evaluate, column } from './metrics.ts';
export type { EvalResult } from './metrics.ts';
export { bootstrapCI, drawPatients, pairedBootstrap, patientGroups, quantileSorted, resampleWeights, weightedBootstrap, weightedMacroAuroc } from './bootstrap.ts';
export type { Interval, PairedBootstrapInput, PairedBootstrapResult } from './bootstrap.ts';
export {
  brier, calibrateProbabilities, calibration, calibrationIntercept, calibrationSlope, CALIBRATION_DEFINITION, ece, ECE_BINS, fitTemperature,
  fitTemperatures, logit, LOGIT_EPS, nll, reliabilityBins, TEMPERATURE_RANGE,
} from './calibration.ts';
export type { CalibrationResult, LabelCalibration, ReliabilityBin } from './calibration.ts';
export { AVAILABILITY_PATTERNS, crossAttributes, headlineLines, NO_FINDING, scoreSplit } from './report.ts';
export type { GroupRow, ScoreInput, ScoreOptions, SplitReport, SubgroupAttribute, SubgroupTable } from './report.ts';
export { predictionsCsv, readPredictionsCsv } from './predictions.ts';
export type { PredictionRows, ReadPredictions } from './predictions.ts';
export { fmt, fmtCI, markdownToHtml, mdTable, reliabilitySvg, splitReportMd } from './render.ts';
export { characteristics, modelCard, TRIPOD_AI_ITEMS } from './card.ts';
export type { CardInput, CharacteristicsInput, SplitCharacteristics } from './card.ts';
