/** Stress-test protocol results: storage, statistics, reports and plots (issue 6). */
export {
  PROTOCOLS, ResultsFileError, formatNumber, parseNumber, resultsToCsv, parseResultsCsv, writeResultsCsv, readResultsCsv,
  cellId, parseCells, readCells, appendCell, repairCellStore, CellStore,
} from './results.ts';
export type { Protocol, ResultRow, CellKey, CellPredictions, StoredCell } from './results.ts';
export {
  meanStd, summarize, diagonal, curveAuc, degradationAucs, quantileSorted, patientGroups, resampleWeights,
  pairedBootstrap, holm, withHolm,
} from './stats.ts';
export type { Metric, SummaryRow, CurveAuc, PairedBootstrapInput, PairedBootstrapResult, Comparison } from './stats.ts';
export {
  bandCaption, DASHES, escapeXml, fixed, MARKERS, markerSvg, PALETTE, panelsSvg, legendSvg, linePlotSvg, heatmapSvg, protocolModality, protocolPlotSvg, levelMatrix, matrixHeatmapSvg, seriesStyle,
} from './plot.ts';
export type { LineSeries, LinePlotOptions, HeatmapOptions, Marker, SeriesStyle } from './plot.ts';
export { atFloor, escapeMarkdown, fileSafe, markdownReport, htmlReport, pText, reportArtifacts, writeFigurePngs, writeReportArtifacts } from './report.ts';
export type { Figure } from './report.ts';
export type { ReportInput, ReportTable } from './report.ts';
export {
  METHODS, METHOD_DEFINITIONS, PROPOSED, PRETRAINED, USES_DROPOUT_CHOICE, methodTraining, protocolPoint, jobKey, jobName, planCell, planJobs, modelPlans, parseMethods,
} from './methods.ts';
export type { MethodName, MissPoint, JobSpec, Plan, ModelPlan } from './methods.ts';
export { DEFAULT_LEVELS, DEFAULT_GRID, SANITY_GAP, runStress, protocolComparisons, sanityChecks, sanityText } from './runner.ts';
export type { StressOptions, StressResult, SanityCheck } from './runner.ts';
