import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Training configuration: one defaults object, a comment per key (nanoGPT style). A JSON file (`--config`)
 * and `--key value` flags override it; every override is checked against the default's type and an unknown
 * key is an error. Flags are written in kebab-case (`--drop-image 0.2`) or as the key itself.
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
  /** Worker threads (0: all cores). Results are bit-identical for any value. */
  threads: 0,
  /** Chunks each batch is cut into, whatever `threads` is: gradients are summed over chunks in order. */
  chunks: 4,
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

const ENUMS: Partial<Record<keyof TrainConfig, string[]>> = {
  preset: ['tiny', 'small', 'base'],
  uncertain: ['ignore', 'ones', 'zeros'],
  backend: ['auto', 'relaxed', 'simd', 'reference', 'webgpu'],
  progress: ['auto', 'bar', 'lines', 'none'],
};

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Check and apply overrides (from JSON or flags) onto a config. */
export function applyOverrides(base: TrainConfig, over: Record<string, unknown>, source: string): TrainConfig {
  const out = { ...base } as Record<string, unknown>;
  for (const [rawKey, raw] of Object.entries(over)) {
    const key = camel(rawKey);
    if (!(key in TRAIN_DEFAULTS)) throw new Error(`${source}: unknown option '${rawKey}' (see --help)`);
    const def = (TRAIN_DEFAULTS as Record<string, unknown>)[key];
    let v: unknown = raw;
    if (typeof def === 'number') {
      v = typeof raw === 'string' ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${source}: option '${rawKey}' expects a number, got ${JSON.stringify(raw)}`);
    } else if (typeof def === 'boolean') {
      if (raw === 'true' || raw === true) v = true;
      else if (raw === 'false' || raw === false) v = false;
      else throw new Error(`${source}: option '${rawKey}' expects true or false, got ${JSON.stringify(raw)}`);
    } else if (typeof raw !== 'string') {
      throw new Error(`${source}: option '${rawKey}' expects a string, got ${JSON.stringify(raw)}`);
    }
    const allowed = ENUMS[key as keyof TrainConfig];
    if (allowed && !allowed.includes(v as string)) throw new Error(`${source}: option '${rawKey}' must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
    out[key] = v;
  }
  return out as TrainConfig;
}

/** Parse `--key value` / `--flag` (boolean) arguments into an override object. */
export function parseFlags(argv: string[]): { overrides: Record<string, unknown>; config?: string; help: boolean } {
  const overrides: Record<string, unknown> = {};
  let config: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') { help = true; continue; }
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (options are --key value)`);
    let key = a.slice(2), value: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) { value = key.slice(eq + 1); key = key.slice(0, eq); }
    const ck = camel(key);
    if (ck === 'config') { config = value ?? argv[++i]; continue; }
    const def = (TRAIN_DEFAULTS as Record<string, unknown>)[ck];
    if (value === undefined) {
      if (typeof def === 'boolean' && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) value = 'true';
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new Error(`option --${key} needs a value`);
    }
    overrides[key] = value;
  }
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
  const lines = ['usage: npm run train -- [--config file.json] [--key value ...]', '', 'options (default):'];
  for (const [k, v] of Object.entries(TRAIN_DEFAULTS)) {
    lines.push(`  --${kebab(k)} ${JSON.stringify(v)}`.padEnd(34) + (comments[k] ?? ''));
  }
  return lines.join('\n');
}
