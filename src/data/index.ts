/**
 * Data: MIMIC-CXR-JPG + MIMIC-IV readers, the synthetic data set writer, the image cache, splits and the
 * batch gatherer (docs/design.md, "Data"; docs/data.md, docs/synthetic-data.md).
 */
export { loadDataset, inspectDataset } from './dataset.ts';
export { makeBatch } from './batch.ts';
export { admissionAttributes, ageAttribute, ageBand, raceGroup, sexAttribute, studyAttributes } from './demographics.ts';
export { characteristicsFacts, cohortFlowLines, sourceLines } from './cohort.ts';
export type { StudyAttribute } from './demographics.ts';
export type { LoadOptions, PreparedDataset } from './dataset.ts';
export { locateSources } from './layout.ts';
export type { DataLayout, LayoutOptions } from './layout.ts';
export { generateSynthetic, renderImage, syntheticSetComplete, SYNTH_DEFAULT_PATIENTS, SYNTH_MARKER } from './synth.ts';
export type { SynthOptions, SynthSummary, Latent } from './synth.ts';
export { DEFAULT_FEATURE_SPEC, checkFeatureSpec, parsePain, parseNumber, numericValue, categoricalValue } from './features.ts';
export { resolveFeatureSpec } from './feature-spec-file.ts';
export type { FeatureSpec, FeatureDef, NumericFeature, CategoricalFeature, FeatureSource } from './features.ts';
export { formatReport } from './report.ts';
export type { DataReport, DataSources, FeatureReport, LabelReport, Problem, SourceInfo } from './report.ts';
export { DataError, DEFAULT_CSV_LIMITS, readCsv, findCsv, splitCsvRecord, csvLine, parseTimestamp, parseStudyDateTime } from './csv.ts';
export type { CsvHeader, CsvLimits, RowHandler } from './csv.ts';
export { encodeGrayJpeg, decodeGray, grayFromColor, resizeGray, DEFAULT_DECODE_LIMITS } from './jpeg.ts';
export type { DecodeLimits } from './jpeg.ts';
export { loadImages, readImageCache, imageKey, checksum32, fallbackCacheDir, cacheFileBytes, CACHE_MAGIC, CACHE_VERSION, DEFAULT_MEMORY_LIMIT, DEFAULT_CHUNK_BYTES } from './images.ts';
export type { ImageSet, ImageOptions } from './images.ts';
export { readImageFile, resolveDecoder, MAX_IMAGE_FILE_BYTES, DECODER_NAMES } from './decoders.ts';
export type { DecoderName } from './decoders.ts';
export { readPixelRows } from './pixel-store.ts';
export type { PixelFile } from './pixel-store.ts';
export { iterativeStratification, SPLIT_NAMES, SPLIT_TRAIN, SPLIT_VALIDATE, SPLIT_TEST } from './split.ts';
