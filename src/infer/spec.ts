/**
 * The preprocessing a checkpoint prescribes, read from its `__metadata__` (written by the trainer): image side
 * and pixel mean/std, and per tabular feature its standardization (numeric) or vocabulary (categorical), in
 * the model's token order. Each feature is paired with its definition in the feature spec (unit conversion,
 * valid ranges, category groups), so raw values go through the same parsing as the data readers.
 *
 * The metadata is treated as hostile: every entry is checked against the config before use and each failure
 * says which entry is wrong. No Node.js API: the edge bundle uses this file.
 */
import { DEFAULT_FEATURE_SPEC } from '../data/features.ts';
import type { CategoricalFeature, FeatureDef, FeatureSpec, NumericFeature } from '../data/features.ts';
import { LABEL_NAMES } from '../engine/batch.ts';
import type { ModelConfig } from '../model/config.ts';

/** A numeric input field: raw value -> numericValue(def) -> (v - mean) / std. */
export interface NumericField {
  kind: 'numeric';
  name: string;
  /** Position among the numeric features (the model's numeric token). */
  index: number;
  mean: number;
  std: number;
  /** Unit after conversion (the checkpoint's schema). */
  unit?: string;
  /** Unit of the raw value the field takes (before conversion, e.g. F for temperature). */
  inputUnit?: string;
  def: NumericFeature;
  /** Training samples that had the feature (the checkpoint's `trainingCounts`; undefined in older checkpoints). 0: never learned. */
  trained?: number;
}

/** A categorical input field: raw value -> categoricalValue(def) -> code in vocab (unseen: missing). */
export interface CategoricalField {
  kind: 'categorical';
  name: string;
  /** Position among the categorical features. */
  index: number;
  vocab: string[];
  def: CategoricalFeature;
  /** Training samples that had the feature (as NumericField.trained). */
  trained?: number;
}

export type InputField = NumericField | CategoricalField;

export interface InferenceSpec {
  /** Image side S. */
  imageSize: number;
  /** Mean and std of pixels/255 over the training images. */
  pixelMean: number;
  pixelStd: number;
  numeric: NumericField[];
  categorical: CategoricalField[];
  /** The 14 label names, in logit order. */
  labels: string[];
  /** Names of schema features the feature spec does not define (parsed as plain numbers / upper-cased text). */
  undefinedFeatures: string[];
  /**
   * The JPEG decoder whose pixels the model was trained on ('sharp' or 'jpeg-js'; checkpoints from before the
   * decoder was recorded were all trained on jpeg-js). Node's predict decodes a single JPEG with it, so one
   * study and the data-set path see the same pixels.
   */
  decoder: 'sharp' | 'jpeg-js';
  /**
   * Probability thresholds in label order (metadata `thresholds.values`, chosen on validation by the trainer and
   * applied to the calibrated probability): a finding is called positive where probability >= threshold.
   * Absent in checkpoints written before thresholds were stored.
   */
  thresholds?: number[];
  /** Per-label temperatures T (metadata `calibration.temperatures`): probability = sigmoid(logit / T). Absent: uncalibrated. */
  temperatures?: number[];
}

function fail(msg: string): never {
  throw new Error(`checkpoint metadata: ${msg}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The raw unit a feature's input is given in (before conversion and transform). */
function inputUnitOf(f: NumericFeature): string | undefined {
  if (f.convert === 'f_to_c') return 'F';
  if (f.transform === 'log' && f.unit?.startsWith('ln ')) return f.unit.slice(3);
  return f.unit;
}

/**
 * Read and check the preprocessing of a checkpoint. `featureSpec` (default: the spec stored in the metadata
 * as `featureSpec`, else the built-in DEFAULT_FEATURE_SPEC) supplies parsing rules by feature name; a
 * schema feature it does not define is parsed without conversion or range checks (listed in
 * `undefinedFeatures`).
 */
export function inferenceSpec(config: ModelConfig, metadata: Record<string, unknown>, featureSpec?: FeatureSpec): InferenceSpec {
  // --- normalization -------------------------------------------------------------------------------------
  const norm = metadata.normalization;
  if (norm === undefined) fail(`no 'normalization' entry (pixel mean/std and image size); was this checkpoint written by the trainer?`);
  if (!isObject(norm)) fail(`'normalization' is not an object`);
  const { pixelMean, pixelStd, imageSize } = norm;
  if (typeof pixelMean !== 'number' || !Number.isFinite(pixelMean)) fail(`normalization.pixelMean ${JSON.stringify(pixelMean)} is not a finite number`);
  if (typeof pixelStd !== 'number' || !Number.isFinite(pixelStd) || !(pixelStd > 0)) fail(`normalization.pixelStd ${JSON.stringify(pixelStd)} is not a positive number`);
  if (imageSize !== undefined && imageSize !== config.imageSize) fail(`normalization.imageSize ${JSON.stringify(imageSize)} differs from the config's imageSize ${config.imageSize}`);
  const decoder = norm.decoder ?? 'jpeg-js';
  if (decoder !== 'sharp' && decoder !== 'jpeg-js') fail(`normalization.decoder ${JSON.stringify(norm.decoder)} is not 'sharp' or 'jpeg-js'`);

  // --- feature schema ------------------------------------------------------------------------------------
  const Fc = config.catCardinalities.length;
  let schema = metadata.schema;
  if (schema === undefined) {
    if (config.numFeatures !== 0 || Fc !== 0) fail(`no 'schema' entry, but the model has ${config.numFeatures} numeric and ${Fc} categorical features`);
    schema = { numeric: [], categorical: [] };
  }
  if (!isObject(schema) || !Array.isArray(schema.numeric) || !Array.isArray(schema.categorical)) fail(`'schema' is not {numeric: [...], categorical: [...]}`);
  const num = schema.numeric as unknown[], cat = schema.categorical as unknown[];
  if (num.length !== config.numFeatures) fail(`schema has ${num.length} numeric features, the config ${config.numFeatures}`);
  if (cat.length !== Fc) fail(`schema has ${cat.length} categorical features, the config ${Fc}`);

  const defs = new Map<string, FeatureDef>();
  const specFromMeta = isObject(metadata.featureSpec) && Array.isArray(metadata.featureSpec.features) ? (metadata.featureSpec as unknown as FeatureSpec) : undefined;
  for (const f of (featureSpec ?? specFromMeta ?? DEFAULT_FEATURE_SPEC).features) if (isObject(f) && typeof f.name === 'string') defs.set(f.name, f);
  const names = new Set<string>();
  const undefinedFeatures: string[] = [];
  const checkName = (n: unknown, where: string): string => {
    if (typeof n !== 'string' || n === '' || n.length > 200) fail(`${where}.name ${JSON.stringify(n)} is not a feature name`);
    if (names.has(n)) fail(`feature '${n}' appears twice in the schema`);
    names.add(n);
    return n;
  };

  const numeric: NumericField[] = num.map((e, index) => {
    const where = `schema.numeric[${index}]`;
    if (!isObject(e)) fail(`${where} is not an object`);
    const name = checkName(e.name, where);
    const { mean, std } = e;
    if (typeof mean !== 'number' || !Number.isFinite(mean)) fail(`${where} (${name}): mean ${JSON.stringify(mean)} is not a finite number`);
    if (typeof std !== 'number' || !Number.isFinite(std) || !(std > 0)) fail(`${where} (${name}): std ${JSON.stringify(std)} is not a positive number`);
    let def = defs.get(name);
    if (def && def.kind !== 'numeric') fail(`${where}: '${name}' is numeric in the checkpoint but categorical in the feature spec`);
    if (!def) {
      undefinedFeatures.push(name);
      def = { name, kind: 'numeric', source: 'derived' };
    }
    const unit = typeof e.unit === 'string' ? e.unit : (def as NumericFeature).unit;
    return { kind: 'numeric', name, index, mean, std, unit, inputUnit: inputUnitOf(def as NumericFeature), def: def as NumericFeature };
  });
  const categorical: CategoricalField[] = cat.map((e, index) => {
    const where = `schema.categorical[${index}]`;
    if (!isObject(e)) fail(`${where} is not an object`);
    const name = checkName(e.name, where);
    const vocab = e.vocab;
    if (!Array.isArray(vocab) || !vocab.every((v) => typeof v === 'string')) fail(`${where} (${name}): vocab is not a list of strings`);
    if (vocab.length !== config.catCardinalities[index]) fail(`${where} (${name}): vocab has ${vocab.length} categories, the config ${config.catCardinalities[index]}`);
    if (new Set(vocab).size !== vocab.length) fail(`${where} (${name}): vocab has duplicate categories`);
    let def = defs.get(name);
    if (def && def.kind !== 'categorical') fail(`${where}: '${name}' is categorical in the checkpoint but numeric in the feature spec`);
    if (!def) {
      undefinedFeatures.push(name);
      def = { name, kind: 'categorical', source: 'derived', column: name };
    }
    return { kind: 'categorical', name, index, vocab: [...vocab] as string[], def: def as CategoricalFeature };
  });

  // --- training counts (optional: older checkpoints lack them) -------------------------------------------
  const tc = metadata.trainingCounts;
  if (tc !== undefined) {
    if (!isObject(tc)) fail(`'trainingCounts' is not {numeric: [...], categorical: [...]}`);
    const check = (v: unknown, n: number, kind: string): number[] => {
      if (!Array.isArray(v) || v.length !== n || !v.every((x) => Number.isSafeInteger(x) && x >= 0)) fail(`trainingCounts.${kind} is not ${n} non-negative integers`);
      return v as number[];
    };
    const cn = check(tc.numeric, numeric.length, 'numeric'), cc = check(tc.categorical, categorical.length, 'categorical');
    numeric.forEach((f, j) => { f.trained = cn[j]; });
    categorical.forEach((f, c) => { f.trained = cc[c]; });
  }

  const labels = metadata.labels;
  if (labels !== undefined && JSON.stringify(labels) !== JSON.stringify(LABEL_NAMES)) fail(`labels ${JSON.stringify(labels).slice(0, 200)} differ from this build's ${JSON.stringify(LABEL_NAMES)}`);
  const thresholds = thresholdsOf(metadata.thresholds);
  const temperatures = temperaturesOf(metadata.calibration);
  return {
    imageSize: config.imageSize, pixelMean, pixelStd, numeric, categorical, labels: [...LABEL_NAMES], undefinedFeatures, decoder,
    ...(thresholds ? { thresholds } : {}), ...(temperatures ? { temperatures } : {}),
  };
}

/** Largest temperature a checkpoint may carry (the trainer fits within [0.05, 20]; anything beyond is not a fit). */
export const MAX_TEMPERATURE = 1e3;

/** A list of one finite number per label, each passing `ok`; `where` names the entry in errors. */
function perLabel(v: unknown, where: string, ok: (x: number) => boolean, what: string): number[] {
  if (!Array.isArray(v)) fail(`${where} is not a list of ${LABEL_NAMES.length} numbers`);
  if (v.length !== LABEL_NAMES.length) fail(`${where} has ${v.length} values, the model has ${LABEL_NAMES.length} labels`);
  v.forEach((x, k) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) fail(`${where}[${k}] (${LABEL_NAMES[k]}) ${JSON.stringify(x)?.slice(0, 60)} is not ${what}`);
  });
  return [...(v as number[])];
}

/** `thresholds` = { values: number[14] in [0, 1], rule: string, split: 'validation' }, or absent. */
function thresholdsOf(t: unknown): number[] | undefined {
  if (t === undefined) return undefined;
  if (!isObject(t)) fail(`'thresholds' is not an object {values, rule, split}`);
  if (t.split !== 'validation') fail(`thresholds.split ${JSON.stringify(t.split)?.slice(0, 60)} is not 'validation' (thresholds are chosen on the validation split)`);
  if (typeof t.rule !== 'string' || t.rule.length > 500) fail(`thresholds.rule is not a string of at most 500 characters`);
  return perLabel(t.values, 'thresholds.values', (x) => x >= 0 && x <= 1, 'a probability in [0, 1]');
}

/** `calibration` = { method: 'temperature', temperatures: number[14] in (0, MAX_TEMPERATURE] }, or absent. */
function temperaturesOf(c: unknown): number[] | undefined {
  if (c === undefined) return undefined;
  if (!isObject(c)) fail(`'calibration' is not an object {method, temperatures}`);
  if (c.method !== 'temperature') fail(`calibration.method ${JSON.stringify(c.method)?.slice(0, 60)} is not 'temperature' (the only method this build applies)`);
  return perLabel(c.temperatures, 'calibration.temperatures', (x) => x > 0 && x <= MAX_TEMPERATURE, `a temperature in (0, ${MAX_TEMPERATURE}]`);
}

/** Every input field in the model's token order (numeric, then categorical). */
export function inputFields(spec: InferenceSpec): InputField[] {
  return [...spec.numeric, ...spec.categorical];
}
