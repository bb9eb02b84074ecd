/** Evaluation: metrics over observed labels, patient-level bootstrap. */
export { auroc, auprc, f1At, bestF1Threshold, evaluate, column } from './metrics.ts';
export type { EvalResult } from './metrics.ts';
export { bootstrapCI, drawPatients, pairedBootstrap, patientGroups, quantileSorted, resampleWeights } from './bootstrap.ts';
export type { PairedBootstrapInput, PairedBootstrapResult } from './bootstrap.ts';
