/**
 * Prediction from raw inputs with a loaded model: any subset of {image, table fields}, preprocessed as the
 * checkpoint prescribes (spec.ts, inputs.ts), one forward pass, sigmoid. No Node.js API: the CLI, the edge
 * bundle and the demo share it.
 */
import type { Batch } from '../engine/batch.ts';
import { NUM_LABELS } from '../engine/batch.ts';
import type { FeatureSpec } from '../data/features.ts';
import type { DecodeLimits } from '../data/jpeg.ts';
import type { Model } from '../model/model.ts';
import { sigmoidProbabilities } from '../model/loss.ts';
import { calibrateProbabilities } from '../eval/calibration.ts';
import type { Backend, SyncBackend } from '../engine/types.ts';
import { buildBatch, encodeImage, encodeTable, rangeInInputUnit } from './inputs.ts';
import type { EncodedInput, FieldReport, ImageInput, TableInput } from './inputs.ts';
import { inferenceSpec, inputFields } from './spec.ts';
import { explainFromLogits, explainRows, EXPLAIN_CHUNK, maskedBatch, MODALITY_ROWS, presentFeatures } from './explain.ts';
import type { ExplainOptions, ExplainPlan, Explanation } from './explain.ts';
import type { InferenceSpec } from './spec.ts';

/** One study to predict: an image and/or a table of raw clinical values; either may be left out. */
export interface PredictInput {
  image?: ImageInput | null;
  table?: TableInput | null;
}

/** The answer for one input. */
export interface Prediction {
  /**
   * Probability of each finding by label name: sigmoid of the logit, rounded to float32, then, when the
   * checkpoint carries temperatures, sigmoid(logit(p) / T) rounded to float32 (src/eval/calibration.ts).
   */
  probabilities: Record<string, number>;
  /** Whether `probabilities` are temperature-calibrated (the checkpoint carries temperatures). */
  calibrated: boolean;
  /**
   * Positive (true) or negative call per label: probability >= the checkpoint's validation threshold. Present
   * only when the checkpoint carries thresholds.
   */
  calls?: Record<string, boolean>;
  /** Which modalities entered the model. */
  modalities: { image: boolean; table: boolean };
  /** What became of each tabular field. */
  features: FieldReport;
  /** Why: modality and feature contributions (Shapley values by masking), from `Predictor.explain*` only. */
  explanation?: Explanation;
}

/** A field of the model's table, for building forms: name, kind, unit of the raw value, categories. */
export interface FieldInfo {
  name: string;
  kind: 'numeric' | 'categorical';
  /** Raw input unit (numeric; e.g. F for temperature). */
  unit?: string;
  /** Valid range, in the input unit (numeric): values beyond it are clipped or, further out, dropped. */
  valid?: [number, number];
  /** Categories seen in training (categorical). */
  vocab?: string[];
  /** Accepts pain text such as "4-5" (numeric). */
  text?: boolean;
  /** No training sample had this field (the checkpoint's trainingCounts): a value given is ignored. */
  untrained?: true;
}

export interface PredictorOptions {
  /** Parsing rules by feature name (default: the checkpoint's, else the built-in DEFAULT_FEATURE_SPEC). */
  featureSpec?: FeatureSpec;
  /** JPEG decoder limits (default: the data readers'). */
  decodeLimits?: DecodeLimits;
}

/** Runs a model on raw inputs with the preprocessing its checkpoint prescribes. */
export class Predictor<B extends Backend = SyncBackend> {
  readonly spec: InferenceSpec;

  constructor(readonly model: Model<B>, private readonly opts: PredictorOptions = {}) {
    this.spec = inferenceSpec(model.config, model.metadata, opts.featureSpec);
  }

  /** The label names in logit order. */
  get labels(): string[] { return this.spec.labels; }

  /** The tabular fields this model takes, in token order. */
  fields(): FieldInfo[] {
    return inputFields(this.spec).map((f): FieldInfo => {
      const untrained = f.trained === 0 ? { untrained: true as const } : {};
      if (f.kind === 'categorical') return { name: f.name, kind: 'categorical', vocab: [...f.vocab], ...untrained };
      const v = f.def.valid;
      const valid = v && rangeInInputUnit(f.def, v); // in the input unit (F), as the invalid-value message
      return { name: f.name, kind: 'numeric', unit: f.inputUnit, valid, text: f.def.parse === 'pain', ...untrained };
    });
  }

  /** Encode one input (throws a clear error on an unknown field, a bad image or a non-object table). */
  encode(input: PredictInput): EncodedInput {
    if (typeof input !== 'object' || input === null) throw new Error('input: expected {image?, table?}');
    const pixels = input.image === undefined || input.image === null ? null : encodeImage(this.spec, input.image, this.opts.decodeLimits);
    return { pixels, table: encodeTable(this.spec, input.table) };
  }

  /**
   * Probabilities [B,14] of a prepared batch: forward + sigmoid, then the checkpoint's temperatures when it has
   * them. Synchronous backends (see probabilitiesAsync).
   */
  probabilities(this: Predictor<SyncBackend>, batch: Batch): Float32Array {
    return this.calibrate(sigmoidProbabilities(this.model.forward(batch)));
  }

  /** Whether this checkpoint's probabilities are temperature-calibrated. */
  get calibrated(): boolean { return this.spec.temperatures !== undefined; }

  /** The checkpoint's temperatures applied to raw probabilities [B,14] (unchanged without them). */
  calibrate(raw: Float32Array): Float32Array {
    return this.spec.temperatures ? calibrateProbabilities(raw, this.spec.temperatures) : raw;
  }

  /** Calls per label (probability >= threshold) of one row of [14] probabilities, or undefined without thresholds. */
  calls(probs: ArrayLike<number>): Record<string, boolean> | undefined {
    const t = this.spec.thresholds;
    if (!t) return undefined;
    const c: Record<string, boolean> = {};
    for (let k = 0; k < NUM_LABELS; k++) c[this.spec.labels[k]] = probs[k] >= t[k];
    return c;
  }

  /**
   * As `probabilities`, on every backend (WebGPU included: model.forwardAsync, which on the WebAssembly and
   * reference backends runs the same kernels, so the result is the synchronous one bit for bit).
   */
  async probabilitiesAsync(batch: Batch): Promise<Float32Array> {
    return this.calibrate(await this.rawProbabilitiesAsync(batch));
  }

  /** Probabilities [B,14] before the checkpoint's temperatures (forward + sigmoid), on every backend. */
  async rawProbabilitiesAsync(batch: Batch): Promise<Float32Array> {
    return sigmoidProbabilities(await this.model.forwardAsync(batch));
  }

  /** Predict several inputs in one batch. Synchronous backends (see predictManyAsync). */
  predictMany(this: Predictor<SyncBackend>, inputs: readonly PredictInput[]): Prediction[] {
    const enc = this.encodeAll(inputs);
    return enc.length === 0 ? [] : this.results(enc, this.probabilities(buildBatch(this.spec, enc)));
  }

  /** As `predictMany`, on every backend. */
  async predictManyAsync(inputs: readonly PredictInput[]): Promise<Prediction[]> {
    const enc = this.encodeAll(inputs);
    return enc.length === 0 ? [] : this.results(enc, await this.probabilitiesAsync(buildBatch(this.spec, enc)));
  }

  /** Predict one input. Synchronous backends (see predictAsync). */
  predict(this: Predictor<SyncBackend>, input: PredictInput): Prediction {
    return this.predictMany([input])[0];
  }

  /** As `predict`, on every backend (WebGPU included). */
  async predictAsync(input: PredictInput): Promise<Prediction> {
    return (await this.predictManyAsync([input]))[0];
  }

  /**
   * Predict one input and explain it (src/infer/explain.ts): exact Shapley values over {image, table} from 4
   * rows, and over the present table features with the image held as given (exact up to 12 features, else
   * seeded permutation sampling with standard errors). The probabilities are those of `predict`, computed in
   * the same batch. Synchronous backends (see explainAsync).
   */
  explain(this: Predictor<SyncBackend>, input: PredictInput, options: ExplainOptions = {}): Prediction {
    const { enc, study, plan } = this.explainPlan(input, options);
    const logits = new Float32Array(plan.rows.length * NUM_LABELS);
    for (let r = 0; r < plan.rows.length; r += EXPLAIN_CHUNK) {
      const to = Math.min(plan.rows.length, r + EXPLAIN_CHUNK);
      logits.set(this.model.forward(maskedBatch(study, plan, r, to)), r * NUM_LABELS);
    }
    return this.explained(enc, plan, logits);
  }

  /** As `explain`, on every backend (WebGPU included). */
  async explainAsync(input: PredictInput, options: ExplainOptions = {}): Promise<Prediction> {
    const { enc, study, plan } = this.explainPlan(input, options);
    const logits = new Float32Array(plan.rows.length * NUM_LABELS);
    for (let r = 0; r < plan.rows.length; r += EXPLAIN_CHUNK) {
      const to = Math.min(plan.rows.length, r + EXPLAIN_CHUNK);
      logits.set(await this.model.forwardAsync(maskedBatch(study, plan, r, to)), r * NUM_LABELS);
    }
    return this.explained(enc, plan, logits);
  }

  /**
   * The explanation of row `i` of a prepared batch (e.g. makeBatch over a data set's test split, as the
   * trainer's evaluation builds it), for aggregates such as summarizeContributions. Synchronous backends.
   */
  explainRow(this: Predictor<SyncBackend>, batch: Batch, i: number, options: ExplainOptions = {}): Explanation {
    if (!Number.isInteger(i) || i < 0 || i >= batch.B) throw new Error(`explainRow: row ${i} is not in a batch of ${batch.B}`);
    const plan = explainRows(presentFeatures(batch, i), batch.hasImage[i] === 1, options);
    const logits = new Float32Array(plan.rows.length * NUM_LABELS);
    for (let r = 0; r < plan.rows.length; r += EXPLAIN_CHUNK) {
      const to = Math.min(plan.rows.length, r + EXPLAIN_CHUNK);
      logits.set(this.model.forward(maskedBatch(batch, plan, r, to, i)), r * NUM_LABELS);
    }
    const probs = sigmoidProbabilities(logits.subarray(0, MODALITY_ROWS * NUM_LABELS));
    return explainFromLogits(plan, logits, probs, inputFields(this.spec).map((f) => f.name), this.spec.labels);
  }

  private explainPlan(input: PredictInput, options: ExplainOptions): { enc: EncodedInput; study: Batch; plan: ExplainPlan } {
    const enc = this.encode(input);
    const study = buildBatch(this.spec, [enc]);
    return { enc, study, plan: explainRows(presentFeatures(study), enc.pixels !== null, options) };
  }

  private explained(enc: EncodedInput, plan: ExplainPlan, logits: Float32Array): Prediction {
    const probs = sigmoidProbabilities(logits.subarray(0, MODALITY_ROWS * NUM_LABELS));
    const names = inputFields(this.spec).map((f) => f.name);
    const explanation = explainFromLogits(plan, logits, probs, names, this.spec.labels);
    return { ...this.results([enc], probs.subarray(0, NUM_LABELS))[0], explanation };
  }

  private results(enc: EncodedInput[], probs: Float32Array): Prediction[] {
    return enc.map((e, i) => {
      const p: Record<string, number> = {};
      for (let k = 0; k < NUM_LABELS; k++) p[this.spec.labels[k]] = probs[i * NUM_LABELS + k];
      const calls = this.calls(probs.subarray(i * NUM_LABELS, (i + 1) * NUM_LABELS));
      return {
        probabilities: p, calibrated: this.calibrated, ...(calls ? { calls } : {}),
        modalities: { image: e.pixels !== null, table: e.table.fields.used.length > 0 }, features: e.table.fields,
      };
    });
  }

  private encodeAll(inputs: readonly PredictInput[]): EncodedInput[] {
    return inputs.map((x) => this.encode(x));
  }
}

/** Re-exported: the one sigmoid lives with the head (src/model/loss.ts). */
export { sigmoidProbabilities };
