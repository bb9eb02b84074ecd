import { applyObject, bool, checkCrossOptions, choice, defaultsOf, int, num, path, segment, str } from '../options/schema.ts';
import type { CrossCheck, Origins } from '../options/schema.ts';
import { helpText as formatHelp, parseCommandLine } from '../options/command-line.ts';
import type { CommandSpec } from '../options/command-line.ts';

/**
 * Training configuration: one declaration per key -- default, doc line, range or choices, path or not --
 * (nanoGPT style, with the checks beside the defaults: src/options/schema.ts). A JSON file (`--config`), a
 * resumed run's config.json, a queue job's settings and `--key value` flags override it, each through the
 * same checks; an unknown key is an error. Flags are written in kebab-case (`--drop-image 0.2`) or as the key
 * itself.
 */
/** Rates in [0, 1]. */
const RATE = { min: 0, max: 1 } as const;

export const TRAIN_OPTIONS = {
  data: path('', 'Data set folder (MIMIC-CXR-JPG + MIMIC-IV, flat or as PhysioNet downloads them); empty with no cxrDir: the built-in synthetic data set.'),
  cxrDir: path('', 'MIMIC-CXR-JPG folder (e.g. physionet.org/files/mimic-cxr-jpg/2.1.0); empty: found under `data`.'),
  mimicIvDir: path('', 'MIMIC-IV folder holding hosp/ (e.g. physionet.org/files/mimiciv/3.1); empty: found under `data`.'),
  mimicIvEdDir: path('', 'MIMIC-IV-ED folder holding ed/ (e.g. physionet.org/files/mimic-iv-ed/2.2); empty: found under `data`.'),
  synthDir: path('data/synthetic', 'Where the synthetic data set is generated on first use (when `data` is empty).'),
  synthPatients: int(0, 'Patients in the generated synthetic data set (0: the generator\'s default).', { min: 0, max: 1_000_000 }),
  cacheDir: path('', 'Folder of the image cache (empty: next to the data set).'),
  decoder: choice('jpeg-js', ['sharp', 'jpeg-js'], 'Image decoder: jpeg-js (default: the edge bundle\'s and the demo\'s decoder, so a model gives the same bits in the browser as in `predict`) or sharp (libvips, faster cache builds: JPEG shrink-on-load; its pixels differ, which the browser cannot reproduce; docs/usage.md, "Train/serve skew").'),
  out: path('runs', 'Parent folder of run folders.'),
  name: segment('', 'Run folder name under `out` (empty: preset-seed-timestamp).'),
  preset: choice('small', ['tiny', 'small', 'base'], 'Model preset: tiny, small or base.'),
  seed: int(0, 'Seed of initialization, shuffling, dropout and injected missingness.', { min: 0, max: 0xffffffff }),
  threads: int(0, 'Worker threads (0: all cores). Results are bit-identical for any value; at most one per micro-batch of a batch works.', { min: 0, max: 4096 }),
  microBatch: int(0, 'Samples per unit of parallel work: a batch is cut into ceil(batch / microBatch) units whose gradients are summed in order; the bits depend on it, never on --threads. 0: the preset\'s, 2 for base (a batch of 256 is then 128 units, four for each of 32 threads) and 8 for tiny and small; on a few cores a base step takes 10-14% longer in units of 2 than with --micro-batch 8 (docs/benchmarks.md, "32 threads").', { min: 0, max: 4096 }),
  epochs: int(10, 'Training epochs.', { min: 1, max: 100_000 }),
  batch: int(32, 'Samples per optimizer step.', { min: 1, max: 65_536 }),
  lr: num(1e-3, 'Peak learning rate (AdamW).', { above: 0, max: 1 }),
  minLr: num(1e-5, 'Final learning rate of the cosine schedule.', { min: 0, max: 1 }),
  warmup: int(50, 'Linear warmup steps.', { min: 0, max: 100_000_000 }),
  weightDecay: num(0.05, 'AdamW decoupled weight decay on linear and patch weights (not biases, norms, embeddings, tokens).', { min: 0, max: 1 }),
  beta1: num(0.9, 'AdamW first-moment decay.', { min: 0, max: 0.999999 }),
  beta2: num(0.999, 'AdamW second-moment decay.', { min: 0, max: 0.999999999 }),
  eps: num(1e-8, 'AdamW denominator epsilon.', { above: 0, max: 1 }),
  clip: num(1.0, 'Global gradient-norm clipping threshold (0: off).', { min: 0 }),
  dropImage: num(0.15, 'Modality dropout: probability that a training sample with both modalities loses its image.', RATE),
  dropTab: num(0.15, 'Modality dropout: probability that a training sample with both modalities loses its table.', RATE),
  dropFeature: num(0.1, 'Feature dropout: probability that a present tabular feature is masked in training.', RATE),
  missImage: num(0, 'Injected image missingness in train and validation (on top of natural missingness; nested in the rate).', RATE),
  missTab: num(0, 'Injected tabular missingness in train and validation.', RATE),
  testMissImage: num(-1, 'Injected image missingness at test time (-1: same as missImage).', { ...RATE, also: [-1] }),
  testMissTab: num(-1, 'Injected tabular missingness at test time (-1: same as missTab).', { ...RATE, also: [-1] }),
  uncertain: choice('ignore', ['ignore', 'ones', 'zeros'], 'Uncertain (-1) labels in the loss: ignore, ones or zeros. Evaluation always scores certain labels only.'),
  attentionMasking: bool(true, 'Mask missing modalities and features out of attention (false: the no-masking ablation).'),
  impute: bool(false, 'Early-fusion baseline: fill missing features with training means/modes and missing images with the mean image; nothing masked. Modality and feature dropout still act first and imputation fills what they removed (the protocols\' early-fusion sets both rates to 0).'),
  freeze: str('', 'Comma-separated parameter-name prefixes kept frozen (no gradient step), e.g. "vision.,tabular.".'),
  initFrom: str('', 'Initialize parameters from checkpoints: "path=prefix,prefix;path2=prefix" (names and shapes must match).'),
  initVision: path('', 'ImageNet ViT weights (timm safetensors, F32) for the vision encoder; sets width, heads, depth, patch and gelu erf (docs/pretrained.md).'),
  initVisionNorm: choice('inception', ['inception', 'imagenet'], 'The --init-vision checkpoint\'s input normalization: inception (mean = std = 0.5, the augreg ViTs) or imagenet (0.485/0.229, ...).'),
  initVisionHeads: int(0, 'Attention heads of the --init-vision checkpoint (0: width / 64, as in every standard ViT).', { min: 0, max: 1024 }),
  pretrainEncoders: bool(false, 'Two-stage training from `npm run train`: an image-only and a tabular-only run (stage 1), then this fusion run initialized from their encoders (stage 2); each in its own run folder, rerun the command to resume.'),
  encoderLrScale: num(1, 'Stage 2 (or any run): the encoders\' (vision.*, tabular.*) learning rate as a multiple of lr.', { min: 0, max: 1000 }),
  encoderWarmupEpochs: int(0, 'Stage 2 (or any run): epochs at the start with the encoders frozen (fusion and head train alone first).', { min: 0, max: 100_000 }),
  patience: int(4, 'Early stopping: epochs without a better validation macro AUROC (0: off).', { min: 0, max: 100_000 }),
  calibrate: bool(true, 'Fit one temperature per finding on validation (minimum NLL on observed labels) and store it, with the validation thresholds, in model.safetensors; false: thresholds only, probabilities uncalibrated.'),
  evalBatch: int(64, 'Samples per forward pass in evaluation.', { min: 1, max: 4096 }),
  resume: path('', 'Continue the interrupted run in this folder.'),
  maxSteps: int(0, 'Stop (saving like Ctrl-C) after this many optimizer steps in total (0: no limit).', { min: 0, max: Number.MAX_SAFE_INTEGER }),
  saveEvery: int(0, 'Save the resume state every N optimizer steps inside an epoch as well as at its end (0: at the first step after 5 minutes without a save), so a killed run loses little work; saves never change the bits.', { min: 0, max: 100_000_000 }),
  continue: path('', 'Continue a finished run for more epochs into a new run folder (--name, under --out): its parameters, AdamW moments and counters, with --epochs the new total; the learning rate follows the cosine schedule of a run of the new total length from the step reached. The original folder is not touched.'),
  backend: choice('auto', ['auto', 'relaxed', 'simd', 'reference', 'webgpu'], 'Compute backend: auto, relaxed, simd, reference, or webgpu (the optional GPU backend: each worker opens a device).'),
  progress: choice('auto', ['auto', 'bar', 'lines', 'none'], 'Progress display: auto (a bar on a terminal, log lines otherwise), bar, lines or none.'),
  allowLateral: bool(false, 'Allow lateral views when no frontal one exists.'),
  windowHours: num(0, 'Widen the ED stay window around the study time by this many hours.', { min: 0, max: 8760 }),
  strict: bool(false, 'Corrupt images are errors instead of image-missing samples.'),
};

/**
 * The micro-batch of `--micro-batch 0` per preset. base is the servers' preset: with 2 a batch of 256 is 128
 * units, so each of 32 threads takes four from the shared counter and one slow unit no longer sets the step
 * (docs/benchmarks.md, "32 threads"); a step in units of 2 takes 10-14% longer than in units of 8 on 1-2
 * threads (smaller GEMMs, four times the slots to sum), which tiny and small, run on laptops with few threads,
 * do not pay.
 */
export const PRESET_MICRO_BATCH: Readonly<Record<string, number>> = { tiny: 8, small: 8, base: 2 };

/** The micro-batch a run of `preset` uses: `microBatch`, or the preset's when it is 0. */
export function resolveMicroBatch(preset: string, microBatch: number): number {
  if (microBatch > 0) return microBatch;
  const m = PRESET_MICRO_BATCH[preset];
  if (!m) throw new Error(`no default micro-batch for preset '${preset}'`);
  return m;
}

/** The defaults, as a plain object. */
export const TRAIN_DEFAULTS = defaultsOf(TRAIN_OPTIONS);

export type TrainConfig = typeof TRAIN_DEFAULTS;

/** Options that do not change what a run computes, so a resumed run may give them anew. */
export const RUNTIME_KEYS: (keyof TrainConfig)[] = ['threads', 'resume', 'maxSteps', 'progress', 'out', 'name', 'saveEvery', 'continue'];

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

/** Checks across training options, on the resolved config (each names the options as they were given). */
export const TRAIN_CHECKS: readonly CrossCheck<TrainConfig>[] = [
  (c, n) => (c.minLr > c.lr ? `${n('minLr')} ${c.minLr} is above ${n('lr')} ${c.lr}: the cosine schedule decays from lr down to minLr` : undefined),
  (c, n) => (c.dropImage + c.dropTab > 1 ? `${n('dropImage')} ${c.dropImage} + ${n('dropTab')} ${c.dropTab} must be at most 1 (a sample never loses both modalities)` : undefined),
  (c, n) => (c.resume && c.continue ? `${n('continue')} and ${n('resume')} together: --resume continues an interrupted run in its folder, --continue a finished one into a new folder` : undefined),
];

/** The train command for the shared parser (src/options/command-line.ts). */
export const TRAIN_SPEC: CommandSpec<typeof TRAIN_OPTIONS> = {
  usage: 'usage: npm run train -- [--config file.json] [--key value ...]',
  options: TRAIN_OPTIONS, checks: TRAIN_CHECKS, config: true,
};

/**
 * Check and apply overrides (a JSON config, a run's config.json, a queue job's settings, or a program's own
 * object; values of the defaults' JSON types) onto a config, then the cross-option checks. `source` names
 * them in errors (`runs/x/config.json: option 'lr' expects a number > 0 and <= 1, got -5`). Unknown keys,
 * wrong types, values out of range and bad choices throw.
 */
export function applyOverrides(base: TrainConfig, over: Record<string, unknown>, source: string, origins: Origins = new Map()): TrainConfig {
  const cfg = applyObject(TRAIN_OPTIONS, base, over, source, origins);
  checkCrossOptions(TRAIN_CHECKS, cfg, origins);
  return cfg;
}

/**
 * Parse `--key value` / `--flag` arguments into typed overrides (keys as in TRAIN_DEFAULTS: only those
 * given), the `--config` path and whether --help was asked. The config file is not read here.
 */
export function parseFlags(argv: string[]): { overrides: Partial<TrainConfig>; config?: string; help: boolean } {
  const { overrides, config, help } = parseCommandLine(TRAIN_SPEC, argv);
  return { overrides, config, help };
}

/** `--help` text: every option with its default and doc line, from the declarations. */
export function helpText(): string {
  return formatHelp(TRAIN_SPEC);
}
