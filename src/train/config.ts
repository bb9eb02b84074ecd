import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { applyObject, helpText as formatHelp, parseCommandLine } from '../cli/flags.ts';
import type { CommandSpec } from '../cli/flags.ts';

/**
 * Training configuration: one defaults object, a comment per key (nanoGPT style). A JSON file (`--config`)
 * and `--key value` flags override it; every override is checked against the default's type and an unknown
 * key is an error. Flags are written in kebab-case (`--drop-image 0.2`) or as the key itself. The checking
 * is the shared parser's (src/cli/flags.ts); this file holds the data: defaults, choices, integer keys.
 */
export const TRAIN_DEFAULTS = {
  /** Data set folder (MIMIC-CXR-JPG + MIMIC-IV, flat or as PhysioNet downloads them); empty with no cxrDir: the built-in synthetic data set. */
  data: '',
  /** MIMIC-CXR-JPG folder (e.g. physionet.org/files/mimic-cxr-jpg/2.1.0); empty: found under `data`. */
  cxrDir: '',
  /** MIMIC-IV folder holding hosp/ (e.g. physionet.org/files/mimiciv/3.1); empty: found under `data`. */
  mimicIvDir: '',
  /** MIMIC-IV-ED folder holding ed/ (e.g. physionet.org/files/mimic-iv-ed/2.2); empty: found under `data`. */
  mimicIvEdDir: '',
  /** Where the synthetic data set is generated on first use (when `data` is empty). */
  synthDir: 'data/synthetic',
  /** Patients in the generated synthetic data set (0: the generator's default). */
  synthPatients: 0,
  /** Folder of the image cache (empty: next to the data set). */
  cacheDir: '',
  /** Image decoder: sharp (libvips, fast; default) or jpeg-js (portable; the fallback where sharp cannot load). */
  decoder: 'sharp',
  /** Parent folder of run folders. */
  out: 'runs',
  /** Run folder name under `out` (empty: preset-seed-timestamp). */
  name: '',
  /** Model preset: tiny, small or base. */
  preset: 'small',
  /** Seed of initialization, shuffling, dropout and injected missingness. */
  seed: 0,
  /** Worker threads (0: all cores). Results are bit-identical for any value; at most one per micro-batch of a batch works. */
  threads: 0,
  /** Samples per unit of parallel work: a batch is cut into ceil(batch / microBatch) units whose gradients are summed in order. */
  microBatch: 8,
  /** Training epochs. */
  epochs: 10,
  /** Samples per optimizer step. */
  batch: 32,
  /** Peak learning rate (AdamW). */
  lr: 1e-3,
  /** Final learning rate of the cosine schedule. */
  minLr: 1e-5,
  /** Linear warmup steps. */
  warmup: 50,
  /** AdamW decoupled weight decay on linear and patch weights (not biases, norms, embeddings, tokens). */
  weightDecay: 0.05,
  /** AdamW first-moment decay. */
  beta1: 0.9,
  /** AdamW second-moment decay. */
  beta2: 0.999,
  /** AdamW denominator epsilon. */
  eps: 1e-8,
  /** Global gradient-norm clipping threshold (0: off). */
  clip: 1.0,
  /** Modality dropout: probability that a training sample with both modalities loses its image. */
  dropImage: 0.15,
  /** Modality dropout: probability that a training sample with both modalities loses its table. */
  dropTab: 0.15,
  /** Feature dropout: probability that a present tabular feature is masked in training. */
  dropFeature: 0.1,
  /** Injected image missingness in train and validation (on top of natural missingness; nested in the rate). */
  missImage: 0,
  /** Injected tabular missingness in train and validation. */
  missTab: 0,
  /** Injected image missingness at test time (-1: same as missImage). */
  testMissImage: -1,
  /** Injected tabular missingness at test time (-1: same as missTab). */
  testMissTab: -1,
  /** Uncertain (-1) labels in the loss: ignore, ones or zeros. Evaluation always scores certain labels only. */
  uncertain: 'ignore',
  /** Mask missing modalities and features out of attention (false: the no-masking ablation). */
  attentionMasking: true,
  /** Early-fusion baseline: fill missing features with training means/modes and missing images with the mean image; nothing masked. */
  impute: false,
  /** Comma-separated parameter-name prefixes kept frozen (no gradient step), e.g. "vision.,tabular.". */
  freeze: '',
  /** Initialize parameters from checkpoints: "path=prefix,prefix;path2=prefix" (names and shapes must match). */
  initFrom: '',
  /** ImageNet ViT weights (timm safetensors, F32) for the vision encoder; sets width, heads, depth, patch and gelu erf (docs/pretrained.md). */
  initVision: '',
  /** The --init-vision checkpoint's input normalization: inception (mean = std = 0.5, the augreg ViTs) or imagenet (0.485/0.229, ...). */
  initVisionNorm: 'inception',
  /** Attention heads of the --init-vision checkpoint (0: width / 64, as in every standard ViT). */
  initVisionHeads: 0,
  /** Two-stage training from `npm run train`: an image-only and a tabular-only run (stage 1), then this fusion run initialized from their encoders (stage 2); each in its own run folder, rerun the command to resume. */
  pretrainEncoders: false,
  /** Stage 2 (or any run): the encoders' (vision.*, tabular.*) learning rate as a multiple of lr. */
  encoderLrScale: 1,
  /** Stage 2 (or any run): epochs at the start with the encoders frozen (fusion and head train alone first). */
  encoderWarmupEpochs: 0,
  /** Fit one temperature per finding on validation (minimum NLL on observed labels) and store it, with the validation thresholds, in model.safetensors; false: thresholds only, probabilities uncalibrated. */
  calibrate: true,
  /** Early stopping: epochs without a better validation macro AUROC (0: off). */
  patience: 4,
  /** Samples per forward pass in evaluation. */
  evalBatch: 64,
  /** Continue the interrupted run in this folder. */
  resume: '',
  /** Stop (saving like Ctrl-C) after this many optimizer steps in total (0: no limit). */
  maxSteps: 0,
  /** Compute backend: auto, relaxed, simd, reference, or webgpu (the optional GPU backend: each worker opens a device). */
  backend: 'auto',
  /** Progress display: auto (a bar on a terminal, log lines otherwise), bar, lines or none. */
  progress: 'auto',
  /** Allow lateral views when no frontal one exists. */
  allowLateral: false,
  /** Widen the ED stay window around the study time by this many hours. */
  windowHours: 0,
  /** Corrupt images are errors instead of image-missing samples. */
  strict: false,
};

export type TrainConfig = typeof TRAIN_DEFAULTS;

/** Options that do not change what a run computes, so a resumed run may give them anew. */
export const RUNTIME_KEYS: (keyof TrainConfig)[] = ['threads', 'resume', 'maxSteps', 'progress', 'out', 'name'];

/** The values of the string options that take one of a few. */
export const TRAIN_CHOICES: { readonly [K in keyof TrainConfig]?: readonly string[] } = {
  preset: ['tiny', 'small', 'base'],
  uncertain: ['ignore', 'ones', 'zeros'],
  backend: ['auto', 'relaxed', 'simd', 'reference', 'webgpu'],
  progress: ['auto', 'bar', 'lines', 'none'],
  decoder: ['sharp', 'jpeg-js'],
  initVisionNorm: ['inception', 'imagenet'],
};

/** Integer-valued options and their minimum (`threads 2.5` or `threads -1` is an error). */
export const TRAIN_INTEGERS: { readonly [K in keyof TrainConfig]?: number } = {
  synthPatients: 0, seed: 0, threads: 0, microBatch: 1, epochs: 1, batch: 1, warmup: 0, patience: 0, evalBatch: 1, maxSteps: 0, initVisionHeads: 0, encoderWarmupEpochs: 0,
};

/**
 * Keys of older versions' config.json that a resume must not drop silently. `chunks` (a batch cut into a
 * fixed number of parts) was replaced by `microBatch`; an old run cannot continue to the bits it would
 * have had (the last, short batch of an epoch is cut differently), so resuming one is refused.
 */
export function checkLegacyConfig(saved: Record<string, unknown>, path: string): void {
  if (!('chunks' in saved)) return;
  const c = saved.chunks, b = saved.batch;
  const same = typeof c === 'number' && typeof b === 'number' && b % c === 0 ? ` (--micro-batch ${b / c} cuts full batches the same way)` : '';
  throw new Error(`--resume: ${path} was written with --chunks ${JSON.stringify(c)}, which this version replaced by --micro-batch; `
    + `the run cannot continue to the same bits here. Finish it with the version that started it, or start a new run${same}`);
}

/** The train command for the shared parser (src/cli/flags.ts); --help reads each key's comment from this file. */
export function trainSpec(comments: Record<string, string> = {}): CommandSpec<TrainConfig> {
  return {
    usage: 'usage: npm run train -- [--config file.json] [--key value ...]',
    defaults: TRAIN_DEFAULTS, docs: comments, choices: TRAIN_CHOICES, integers: TRAIN_INTEGERS, config: true,
  };
}

/**
 * Check and apply overrides (a JSON config or a program's object, values of the defaults' JSON types) onto
 * a config. `source` names them in errors. Unknown keys, wrong types, bad choices and bad integers throw.
 */
export function applyOverrides(base: TrainConfig, over: Record<string, unknown>, source: string): TrainConfig {
  return applyObject(trainSpec(), base, over, source);
}

/**
 * Parse `--key value` / `--flag` arguments into typed overrides (keys as in TRAIN_DEFAULTS: only those
 * given), the `--config` path and whether --help was asked. The config file is not read here.
 */
export function parseFlags(argv: string[]): { overrides: Partial<TrainConfig>; config?: string; help: boolean } {
  const { overrides, config, help } = parseCommandLine(trainSpec(), argv);
  return { overrides, config, help };
}

/** The doc comment above each key of TRAIN_DEFAULTS, read from this file's source so --help cannot drift. */
export function optionComments(): Record<string, string> {
  const src = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const out: Record<string, string> = {};
  const re = /\/\*\*((?:[^*]|\*(?!\/))*)\*\/\s*\n\s*(\w+):/g;
  for (let m; (m = re.exec(src)); ) out[m[2]] = m[1].replace(/\s*\n\s*\*\s*/g, ' ').trim();
  return out;
}

/** `--help` text: every option with its default and comment, read from this file's defaults. */
export function helpText(comments: Record<string, string>): string {
  return formatHelp(trainSpec(comments));
}
