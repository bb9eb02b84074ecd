/**
 * The options of every command, declared once (default, doc line, range or choices, path or not: the schema
 * of src/options/schema.ts), so --help, the checks and the option-schema test read the same declarations.
 * The train command's options are the training config itself (src/train/config.ts: TRAIN_SPEC); the
 * benchmarks' are in bench/util.ts (BENCH_SPEC).
 */
import { SYNTH_DEFAULT_PATIENTS } from '../data/synth.ts';
import { DEFAULT_OPSET, ONNX_OPSETS } from '../export/opsets.ts';
import { DEFAULT_PERMUTATIONS } from '../infer/explain.ts';
import { METHODS, METHOD_DEFINITIONS } from '../protocols/methods.ts';
import { DEFAULT_GRID, DEFAULT_LEVELS, SANITY_GAP } from '../protocols/runner.ts';
import { bool, choice, int, names, num, nums, path, str } from '../options/schema.ts';
import type { Values } from '../options/schema.ts';
export { TRAIN_SPEC } from '../train/config.ts';

// npm run synth
export const SYNTH_OPTIONS = {
  out: path('data/synthetic', 'output folder (its mimic-cxr-jpg/ and mimic-iv/ are replaced)'),
  patients: int(SYNTH_DEFAULT_PATIENTS, 'patients; about 1.5 studies each', { min: 1, max: 1_000_000 }),
  seed: int(0, 'seed of everything', { min: 0, max: 0xffffffff }),
  gzip: bool(true, 'write .csv.gz (true) or plain .csv (false)'),
  imageSize: int(256, 'JPEG height in pixels (width 87.5-100% of it)', { min: 16, max: 4096 }),
  splitFile: bool(true, 'write mimic-cxr-2.0.0-split (false: the reader stratifies)'),
  quality: int(90, 'JPEG quality 1..100', { min: 1, max: 100 }),
  mnar: num(0, 'missing not at random: probability in [0, 1] that each lab value of a study with no finding is left out (0: off; docs/synthetic-data.md)', { min: 0, max: 1 }),
};

export const SYNTH_SPEC = { usage: 'usage: npm run synth -- [options]', options: SYNTH_OPTIONS };

// npm run data
export const DATA_OPTIONS = {
  data: path('data/synthetic', 'data set folder (mimic-cxr-jpg/ and mimic-iv/ inside, or PhysioNet download trees)'),
  cxrDir: path('', 'MIMIC-CXR-JPG folder, e.g. physionet.org/files/mimic-cxr-jpg/2.1.0 (empty: found under --data)'),
  mimicIvDir: path('', 'MIMIC-IV folder holding hosp/, e.g. physionet.org/files/mimiciv/3.1 (empty: found under --data)'),
  mimicIvEdDir: path('', 'MIMIC-IV-ED folder holding ed/, e.g. physionet.org/files/mimic-iv-ed/2.2 (empty: found under --data)'),
  json: bool(false, 'print the report as JSON'),
  imageSize: int(64, 'image side S of the cache to build or read', { min: 8, max: 4096 }),
  cacheDir: path('', 'image cache folder (empty: the data set folder, or a per-user cache folder when that is read-only)'),
  decoder: choice('jpeg-js', ['sharp', 'jpeg-js'], 'image decoder: jpeg-js (the default, as training: the browser reproduces its pixels) or sharp (faster)'),
  strict: bool(false, 'an unreadable or missing image is an error'),
  labelSource: choice('chexpert', ['chexpert', 'negbio'], 'chexpert or negbio'),
  allowLateral: bool(false, 'use a lateral view when a study has no frontal one'),
  windowHours: num(0, 'widen the ED stay window by this many hours on each side', { min: 0, max: 8760 }),
  featureSpec: path('', 'feature spec JSON file (empty: the default spec)'),
  seed: int(0, 'seed of the stratified split (without the official split file)', { min: 0, max: 0xffffffff }),
  threads: int(0, 'decoding threads (0: all cores)', { min: 0, max: 4096 }),
};

export const DATA_SPEC = {
  usage: 'usage: npm run data -- inspect [options]\n\ncommands:\n  inspect   samples per split, missingness, label counts and every problem found',
  options: DATA_OPTIONS,
  positional: { what: 'command', choices: ['inspect'], max: 1 },
};

// npm run demo
export const DEMO_OPTIONS = {
  model: path('', 'checkpoint the page loads at start (empty: pick one in the page)'),
  port: int(8080, 'port to listen on (0: any free port)', { min: 0, max: 65535 }),
  host: str('127.0.0.1', 'interface to listen on (127.0.0.1: this machine only)'),
  allowHost: names([], undefined, 'more Host names to serve, comma-separated (e.g. the machine\'s LAN name with --host 0.0.0.0)'),
};
export const DEMO_SPEC = { usage: 'usage: npm run demo -- [options]', options: DEMO_OPTIONS };

// npm run worker
export const WORKER_OPTIONS = {
  queue: str('', 'Redis URL: redis://[:PASSWORD@]HOST:PORT[/DB], or rediss:// for TLS; REDIS_PASSWORD also gives the password'),
  out: path('', 'output folder shared by every worker (a network mount): run folders and model files'),
  data: path('', 'the data folder jobs may read (the coordinator\'s --data, or a folder above it); empty: jobs on the synthetic set only'),
  threads: int(0, 'trainer threads per job (0: all cores); results do not depend on it', { min: 0, max: 4096 }),
  concurrency: int(1, 'jobs this worker runs at once', { min: 1, max: 256 }),
  synthDir: path('data/synthetic', 'where the synthetic set is generated when a job uses it (runs without --data)'),
  lockMs: int(30_000, 'job lock duration (ms): a worker that dies loses its job after this long', { min: 1000, max: 86_400_000 }),
  stalledMs: int(30_000, 'how often (ms) this worker looks for jobs whose worker died', { min: 500, max: 86_400_000 }),
};
export const WORKER_SPEC = {
  usage: [
    'usage: npm run worker -- --queue URL --out SHARED_FOLDER [options]',
    '',
    'Runs the training jobs that `npm run stress -- ... --queue URL` enqueues, until stopped. Every worker needs',
    'a checkout of the coordinator\'s commit and the same --out folder (and data folder path) as the others.',
  ].join('\n'),
  options: WORKER_OPTIONS,
};

// npm run predict
export const PREDICT_OPTIONS = {
  model: path('', 'checkpoint (model.safetensors written by `npm run train`); required'),
  data: path('', 'data set folder (mimic-cxr-jpg/ and mimic-iv/ inside): predict every study of --split'),
  split: choice('test', ['test', 'validate', 'train', 'all'], 'with --data: test, validate, train or all'),
  image: path('', 'one chest X-ray JPEG (leave out: no image)'),
  table: str('', 'JSON object of raw clinical values by field name, e.g. {"temperature": 101.2, "gender": "F"}'),
  tableFile: path('', 'a file holding that JSON object'),
  format: choice('json', ['json', 'csv'], 'json or csv'),
  out: path('', 'output file (empty: stdout)'),
  backend: choice('wasm', ['wasm', 'webgpu', 'auto', 'relaxed', 'simd', 'reference'], 'wasm (the WebAssembly engine: relaxed SIMD where supported, else SIMD), webgpu (the optional GPU backend), or relaxed, simd, reference (auto = wasm)'),
  featureSpec: path('', 'feature spec JSON file for parsing rules (empty: the checkpoint\'s, else the built-in spec)'),
  threads: int(0, 'with --data: image decoding threads (0: all cores)', { min: 0, max: 4096 }),
  cacheDir: path('', 'with --data: image cache folder (empty: the data set folder)'),
  decoder: choice('', ['', 'sharp', 'jpeg-js'], 'image decoder, sharp or jpeg-js (empty: the one the model was trained with, from its checkpoint)'),
  windowHours: num(0, 'with --data: widen the ED stay window by this many hours (use the value the model was trained with)', { min: 0, max: 8760 }),
  allowLateral: bool(false, 'with --data: use a lateral view when a study has no frontal one (as in training)'),
  batchSize: int(64, 'samples per forward pass', { min: 1, max: 4096 }),
  fields: bool(false, 'print the model\'s table fields (name, kind, input unit, valid range, categories) as JSON and exit'),
  explain: bool(false, 'with one study: why, as Shapley values by masking: each modality\'s contribution per finding (exact, 4 passes) and the top table features\' (exact up to 12 present features, else sampled), image held as given'),
  top: int(5, 'with --explain: table features listed per finding, largest |contribution| first (0: all)', { min: 0, max: 10_000 }),
  permutations: int(DEFAULT_PERMUTATIONS, 'with --explain, above 12 present features: permutations sampled (even, >= 4; standard errors over antithetic pairs)', { min: 4, max: 100_000 }),
  seed: int(0, 'with --explain: seed of the sampled permutations', { min: 0, max: 0xffffffff }),
  allowEmpty: bool(false, 'with one study: allow a prediction from no input at all (no image, no usable field): the model\'s priors, marked as such'),
  dumpInputs: path('', 'with --image/--table: also write the preprocessed arrays (the ONNX export\'s inputs: image, image_present, num, num_present, cat, cat_present) to this JSON file'),
};
export type PredictConfig = Values<typeof PREDICT_OPTIONS>;


export const PREDICT_SPEC = {
  usage: 'usage: npm run predict -- --model RUN/model.safetensors (--data DIR [--split test] | [--image x.jpg] [--table JSON | --table-file f.json]) [options]',
  options: PREDICT_OPTIONS,
};

// npm run stress
/** What --quick sets (each can still be overridden by its own flag). Measured: see docs/benchmarks.md, "Results". */
export const STRESS_QUICK = { preset: 'tiny', levels: [0, 0.25, 0.5, 0.75, 1], seeds: 3, epochs: 10 } as const;

export const STRESS_OPTIONS = {
  protocol: choice('both', ['image', 'tabular', 'both'], 'image: the image missing rate is raised; tabular: the tabular one; both'),
  levels: nums(DEFAULT_LEVELS, 'train and test missing rates in [0, 1]', { min: 0, max: 1 }),
  methods: names(METHODS, METHODS, 'comma-separated, of the methods listed below'),
  seeds: int(3, 'seeds 0..K-1', { min: 1, max: 1000 }),
  preset: choice('small', ['tiny', 'small', 'base'], 'model preset: tiny, small or base'),
  epochs: int(10, 'per training run; the best epoch by validation macro AUROC is kept', { min: 1, max: 100_000 }),
  data: path('', 'data set folder (MIMIC-CXR-JPG + MIMIC-IV layout); empty: the built-in synthetic set'),
  synthDir: path('data/synthetic', 'where the synthetic set is generated on first use'),
  out: path('', 'output folder (empty: runs/stress-<preset>; with --quick runs/stress-quick)'),
  threads: int(0, 'worker threads per run (0: all cores); results do not depend on it', { min: 0, max: 4096 }),
  grid: nums(DEFAULT_GRID, 'modality dropout rates (dropImage = dropTab) tried for proposed', { min: 0, max: 0.5 }),
  replicates: int(2000, 'paired bootstrap replicates per comparison', { min: 1, max: 1_000_000 }),
  batch: int(0, 'samples per step of every training run (0: the trainer\'s default)', { min: 0, max: 65_536 }),
  lr: num(0, 'peak learning rate of every training run (0: the trainer\'s default)', { min: 0, max: 1 }),
  quick: bool(false, `preset ${STRESS_QUICK.preset}, levels ${STRESS_QUICK.levels.join(',')}, ${STRESS_QUICK.seeds} seeds, ${STRESS_QUICK.epochs} epochs (about 6-10 minutes on 2 cores); each can still be given`),
  verbose: bool(false, 'show every training run\'s own log'),
  queue: str('', 'run the training jobs on queue workers through Redis: redis://[:PASSWORD@]HOST:PORT[/DB] or rediss:// (docs/queue.md)'),
  status: bool(false, 'with --queue: print the queue run\'s state (done, running, waiting, failed with their logs) and exit'),
  retryFailed: bool(false, 'with --queue: retry the run\'s failed jobs, then wait for the run as usual'),
  fresh: bool(false, 'with --queue: start the run at this commit although the queue holds its jobs of another version or commit (removes them; running ones finish and are ignored)'),
};

export const STRESS_SPEC = {
  usage: [
    'usage: npm run stress -- [options]',
    '',
    'Runs the stress-test protocols: the missing rate of one modality raised in training and test, every method',
    'trained at every train level and evaluated at every test level, over seeds; then writes the report.',
    'A rerun with the same --out continues where the last one stopped (finished cells are never recomputed).',
  ].join('\n'),
  options: STRESS_OPTIONS,
  epilog: [
    'methods:',
    ...METHODS.map((m) => `  ${m.padEnd(19)} ${METHOD_DEFINITIONS[m]}`),
    '',
    `Sanity checks (printed after the run): at image level 1 proposed vs tabular-only, at tabular level 1 proposed`,
    `vs image-only; a gap above ${SANITY_GAP} macro AUROC is a warning.`,
  ].join('\n'),
};

// npm run export
export const EXPORT_OPTIONS = {
  model: path('', 'checkpoint (model.safetensors written by `npm run train`); required'),
  out: path('', 'the .onnx file to write (replaced atomically if it exists); required'),
  opset: int(DEFAULT_OPSET, `ONNX opset of the default domain, ${ONNX_OPSETS[0]}..${ONNX_OPSETS[ONNX_OPSETS.length - 1]} (all tested in onnxruntime)`, { min: ONNX_OPSETS[0], max: ONNX_OPSETS[ONNX_OPSETS.length - 1] }),
};

export const EXPORT_SPEC = {
  usage: 'usage: npm run export -- --model RUN/model.safetensors --out model.onnx [--opset 21]',
  options: EXPORT_OPTIONS,
  epilog: 'Inputs: image [B,1,S,S], image_present [B], num/num_present [B,Fn], cat (int64)/cat_present [B,Fc]; outputs: logits, probabilities [B,14].\n'
    + '`npm run predict -- ... --dump-inputs f.json` writes these arrays for one study, preprocessed as the engine does.',
};

// npm run evaluate
export const EVALUATE_OPTIONS = {
  model: path('', 'checkpoint (model.safetensors written by `npm run train`); required'),
  data: path('', 'data set folder (mimic-cxr-jpg/ and mimic-iv/ inside); required'),
  split: choice('test', ['test', 'validate', 'train', 'all'], 'test, validate, train or all'),
  missImage: num(0, 'injected image missingness at evaluation, a rate in [0, 1] (on top of the natural missingness)', { min: 0, max: 1 }),
  missTab: num(0, 'injected table missingness at evaluation, a rate in [0, 1]', { min: 0, max: 1 }),
  seed: int(0, 'seed of the injected missingness (the training run\'s seed injects what its test did) and of the bootstrap', { min: 0, max: 0xffffffff }),
  out: path('', 'output folder (created if absent); required'),
  replicates: int(1000, 'patient-level bootstrap replicates of every confidence interval (1000 gives 95% intervals to about 0.01)', { min: 1, max: 100_000 }),
  minGroup: int(50, 'subgroups and availability groups with fewer studies are withheld as too small', { min: 1, max: 1_000_000 }),
  featureSpec: path('', 'feature spec JSON file for the readers (empty: the built-in spec, as the trainer uses)'),
  threads: int(0, 'image decoding threads (0: all cores)', { min: 0, max: 4096 }),
  cacheDir: path('', 'image cache folder (empty: the data set folder)'),
  decoder: choice('', ['', 'sharp', 'jpeg-js'], 'image decoder, sharp or jpeg-js (empty: the one the model was trained with, from its checkpoint)'),
  windowHours: num(0, 'widen the ED stay window by this many hours (use the value the model was trained with)', { min: 0, max: 8760 }),
  allowLateral: bool(false, 'use a lateral view when a study has no frontal one (as in training)'),
  batchSize: int(64, 'samples per forward pass', { min: 1, max: 4096 }),
  backend: choice('wasm', ['wasm', 'auto', 'relaxed', 'simd', 'reference'], 'wasm, or relaxed, simd, reference (auto = wasm)'),
};

export const EVALUATE_SPEC = {
  usage: 'usage: npm run evaluate -- --model RUN/model.safetensors --data DIR [--split test] [--miss-image r --miss-tab r] --out DIR',
  options: EVALUATE_OPTIONS,
};
