/**
 * `npm run predict -- --model RUN/model.safetensors ...`: probabilities of the 14 findings, with the
 * preprocessing stored in the checkpoint.
 *   --data DIR [--split test|validate|train|all]   every study of a data set folder
 *   --image x.jpg and/or --table '{"temperature": 101.2, "pain": "4-5"}' (or --table-file f.json)
 *                                                   one study; any field, and the image, may be left out
 * Output: JSON (default) or CSV (--format csv), to stdout or --out FILE. `--backend webgpu` runs the model on the
 * optional WebGPU backend (no adapter: an error naming the fix, exit code 1). `--help` lists every option.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { resolveFeatureSpec } from '../data/feature-spec-file.ts';
import { DECODER_NAMES, decodeToGray, readImageFile, resolveDecoder } from '../data/decoders.ts';
import type { DecoderName } from '../data/decoders.ts';
import { DEFAULT_DECODE_LIMITS } from '../data/jpeg.ts';
import type { Backend, BackendKind } from '../engine/index.ts';
import { createBackend } from '../engine/index.ts';
import { datasetRecords, predictDataset, Predictor, singleRecord, toCsv, toJson } from '../infer/index.ts';
import type { ImageInput, PredictOutput, SplitChoice, TableInput } from '../infer/index.ts';
import { MAX_TABLE_BYTES } from '../infer/inputs.ts';
import { loadModel } from '../node/model.ts';
import { writeFileAtomic } from '../node/files.ts';
import { helpText, parseArgs, runMain, UsageError } from './flags.ts';
import { DATA_FOLDER_HINT, requirePath } from './paths.ts';

const DEFAULTS = {
  model: '',
  data: '',
  split: 'test',
  image: '',
  table: '',
  tableFile: '',
  format: 'json',
  out: '',
  backend: 'wasm',
  featureSpec: '',
  threads: 0,
  cacheDir: '',
  decoder: '',
  windowHours: 0,
  allowLateral: false,
  batchSize: 64,
  fields: false,
};
const DOCS: Record<keyof typeof DEFAULTS, string> = {
  model: 'checkpoint (model.safetensors written by `npm run train`); required',
  data: 'data set folder (mimic-cxr-jpg/ and mimic-iv/ inside): predict every study of --split',
  split: 'with --data: test, validate, train or all',
  image: 'one chest X-ray JPEG (leave out: no image)',
  table: 'JSON object of raw clinical values by field name, e.g. {"temperature": 101.2, "gender": "F"}',
  tableFile: 'a file holding that JSON object',
  format: 'json or csv',
  out: 'output file (empty: stdout)',
  backend: 'wasm (the WebAssembly engine: relaxed SIMD where supported, else SIMD), webgpu (the optional GPU backend), or relaxed, simd, reference (auto = wasm)',
  featureSpec: 'feature spec JSON file for parsing rules (empty: the checkpoint\'s, else the built-in spec)',
  threads: 'with --data: image decoding threads (0: all cores)',
  cacheDir: 'with --data: image cache folder (empty: the data set folder)',
  decoder: 'image decoder, sharp or jpeg-js (empty: the one the model was trained with, from its checkpoint)',
  windowHours: 'with --data: widen the ED stay window by this many hours (use the value the model was trained with)',
  allowLateral: 'with --data: use a lateral view when a study has no frontal one (as in training)',
  batchSize: 'samples per forward pass',
  fields: 'print the model\'s table fields (name, kind, input unit, valid range, categories) as JSON and exit',
};

/** The WebGPU backend in use, released at exit (Dawn's device would otherwise keep the process alive). */
let gpu: { destroy(): void; device: { destroy(): void } } | undefined;

const SPEC = {
  usage: 'usage: npm run predict -- --model RUN/model.safetensors (--data DIR [--split test] | [--image x.jpg] [--table JSON | --table-file f.json]) [options]',
  defaults: DEFAULTS, docs: DOCS,
  choices: { split: ['test', 'validate', 'train', 'all'], format: ['json', 'csv'], backend: ['wasm', 'webgpu', 'auto', 'relaxed', 'simd', 'reference'] },
  integers: { threads: 0, batchSize: 1 },
};

/** The backend for --backend: WebGPU is created asynchronously (no adapter: its error names the fix). */
async function backendOf(kind: string): Promise<Backend> {
  if (kind === 'wasm') return createBackend('auto');
  if (kind !== 'webgpu') return createBackend(kind as BackendKind);
  const { createWebGPUBackend } = await import('../engine/webgpu/index.ts');
  const be = await createWebGPUBackend();
  console.error(`predict: WebGPU on ${be.adapterInfo}`);
  gpu = be;
  return be;
}

function usage(): string {
  return helpText(SPEC);
}

function readTable(cfg: typeof DEFAULTS): TableInput | undefined {
  if (cfg.table && cfg.tableFile) throw new Error('give --table or --table-file, not both');
  let text: string, where: string;
  if (cfg.table) {
    text = cfg.table;
    where = '--table';
  } else if (cfg.tableFile) {
    where = `--table-file ${cfg.tableFile}`;
    if (requirePath('--table-file', cfg.tableFile, 'file') > MAX_TABLE_BYTES) throw new UsageError(`${where}: larger than ${MAX_TABLE_BYTES / 1e6} MB (one study's table of field values is a few hundred bytes)`);
    try {
      text = readFileSync(cfg.tableFile, 'utf8');
    } catch (e) {
      throw new Error(`${where}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  } else return undefined;
  if (text.length > MAX_TABLE_BYTES) throw new UsageError(`${where}: longer than ${MAX_TABLE_BYTES / 1e6} MB (one study's table of field values is a few hundred bytes)`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: expected a JSON object of field values, e.g. {"temperature": 101.2}`);
  return v as TableInput;
}

async function main(): Promise<number> {
  const { cfg, help } = parseArgs(SPEC, process.argv.slice(2));
  if (help) {
    console.log(usage());
    return 0;
  }
  if (!cfg.model) throw new UsageError('--model is required (a model.safetensors written by `npm run train`; see --help)');
  requirePath('--model', cfg.model, 'file'); // one line, before any work
  const single = !!(cfg.image || cfg.table || cfg.tableFile);
  if (cfg.fields) {
    const p = new Predictor(loadModel(cfg.model, { backend: 'reference' }));
    process.stdout.write(`${JSON.stringify(p.fields(), null, 2)}\n`);
    return 0;
  }
  if (cfg.data && single) throw new Error('give --data, or --image/--table for one study, not both');
  if (!cfg.data && !single) throw new UsageError(`nothing to predict: give --data DIR, or --image and/or --table (--table '{}' for no fields); see --help`);
  if (cfg.data) requirePath('--data', cfg.data, 'folder', DATA_FOLDER_HINT);
  if (cfg.image) requirePath('--image', cfg.image, 'file');
  if (cfg.featureSpec) requirePath('--feature-spec', cfg.featureSpec, 'file');
  console.error(`predict: ${JSON.stringify(cfg)}`);

  const table = readTable(cfg);
  const featureSpec = cfg.featureSpec ? resolveFeatureSpec(cfg.featureSpec) : undefined;
  const model = loadModel(cfg.model, { backend: await backendOf(cfg.backend) });
  let predictor: Predictor<Backend>;
  try {
    predictor = new Predictor(model, { featureSpec });
  } catch (e) {
    throw new Error(`${cfg.model}: ${(e as Error).message}`);
  }
  const out: PredictOutput = { model: cfg.model, labels: predictor.labels, calibrated: predictor.calibrated, predictions: [] };
  const thr = predictor.spec.thresholds;
  if (thr) out.thresholds = Object.fromEntries(predictor.labels.map((l, k) => [l, thr[k]]));

  if (cfg.decoder && !DECODER_NAMES.includes(cfg.decoder as DecoderName)) throw new UsageError(`--decoder: '${cfg.decoder}' is not one of ${DECODER_NAMES.join(', ')}`);
  const decoder = (cfg.decoder || predictor.spec.decoder) as DecoderName;
  if (cfg.data) {
    const tty = process.stderr.isTTY;
    const p = await predictDataset(predictor, cfg.data, {
      split: cfg.split as SplitChoice,
      featureSpec,
      cacheDir: cfg.cacheDir || undefined,
      decoder,
      threads: cfg.threads || undefined,
      windowHours: cfg.windowHours || undefined,
      allowLateral: cfg.allowLateral,
      batchSize: cfg.batchSize,
      onProgress: tty ? (done, total, phase) => process.stderr.write(`\r${phase} ${total ? `${done}/${total}` : done}`.padEnd(40)) : undefined,
    });
    if (tty) process.stderr.write('\r'.padEnd(41) + '\r');
    out.data = { dir: cfg.data, split: cfg.split, absent_features: p.absentFeatures, restandardized: p.restandardized, unseen_categories: p.unseen };
    out.predictions = datasetRecords(p, predictor.labels);
    console.error(`predict: ${p.rows.length} studies (${cfg.split}) from ${cfg.data}`);
  } else {
    let image: ImageInput | undefined;
    if (cfg.image) image = await readImage(cfg.image, decoder, predictor.spec.imageSize);
    let pred;
    try {
      pred = await predictor.predictAsync({ image, table });
    } catch (e) {
      throw new Error(`${(e as Error).message.replace(/^image:/, `--image ${cfg.image}:`)}`);
    }
    out.predictions = [singleRecord(pred, cfg.image ? basename(cfg.image) : undefined)];
    for (const f of pred.features.invalid) console.error(`predict: warning: ${f.name}: ${f.reason}; treated as missing`);
  }

  const text = cfg.format === 'csv' ? toCsv(out) : toJson(out);
  // Atomic: a full disk or a kill leaves the old file (or none), never truncated JSON; errors name the file.
  if (cfg.out) writeFileAtomic(cfg.out, text);
  else process.stdout.write(text);
  return 0;
}

/** Set the exit code; with WebGPU, release the device and exit once stdout has drained. */
function finish(code: number): void {
  process.exitCode = code;
  if (!gpu) return;
  try {
    gpu.destroy();
    gpu.device.destroy();
  } catch { /* exiting anyway */ }
  process.stdout.write('', () => process.exit(code));
}

runMain('predict', main, finish);

/**
 * The --image file as the predictor's input: read under the data readers' rules (a regular file under the
 * size limit), then, for a model trained on sharp's pixels, decoded and resized by sharp exactly as the image
 * cache does (an S x S grey image, which the predictor's resize leaves unchanged); jpeg-js models get the bytes.
 */
async function readImage(path: string, decoder: DecoderName, S: number): Promise<ImageInput> {
  let bytes: Uint8Array;
  try {
    bytes = readImageFile(path);
  } catch (e) {
    throw new Error(`--image ${path}: cannot read (${(e as Error).message})`);
  }
  const use = resolveDecoder(decoder);
  if (use.notice) console.error(`predict: ${use.notice}`);
  if (use.decoder === 'jpeg-js') return bytes;
  const out = new Uint8Array(S * S);
  try {
    await decodeToGray(bytes, S, 'sharp', DEFAULT_DECODE_LIMITS, out, 0);
  } catch (e) {
    throw new Error(`--image ${path}: unreadable JPEG: ${(e as Error).message}`);
  }
  return { width: S, height: S, data: out, channels: 1 };
}
