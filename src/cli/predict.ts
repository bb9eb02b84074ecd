/**
 * `npm run predict -- --model RUN/model.safetensors ...`: probabilities of the 14 findings, with the
 * preprocessing stored in the checkpoint.
 *   --data DIR [--split test|validate|train|all]   every study of a data set folder
 *   --image x.jpg and/or --table '{"temperature": 101.2, "pain": "4-5"}' (or --table-file f.json)
 *                                                   one study; any field, and the image, may be left out,
 *                                                   but not everything (--allow-empty: the priors, marked)
 *   --explain                                       with one study: modality and feature contributions
 * Output: JSON (default) or CSV (--format csv), to stdout or --out FILE. `--backend webgpu` runs the model on the
 * optional WebGPU backend (no adapter: an error naming the fix, exit code 1). `--help` lists every option.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { resolveFeatureSpec } from '../data/feature-spec-file.ts';
import { decodeToGray, loadSharp, readImageFile, resolveDecoder } from '../data/decoders.ts';
import type { DecoderName } from '../data/decoders.ts';
import { DEFAULT_DECODE_LIMITS } from '../data/jpeg.ts';
import type { Backend, BackendKind } from '../engine/index.ts';
import { createBackend } from '../engine/index.ts';
import { buildBatch, datasetRecords, predictDataset, Predictor, singleRecord, toCsv, toJson } from '../infer/index.ts';
import type { ImageInput, PredictOutput, SplitChoice, TableInput } from '../infer/index.ts';
import { MAX_TABLE_BYTES } from '../infer/inputs.ts';
import { loadModel } from '../node/model.ts';
import { onnxInputs } from '../export/inputs.ts';
import { writeFileAtomic } from '../node/files.ts';
import { UsageError } from '../options/schema.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { PREDICT_SPEC as SPEC } from './specs.ts';
import type { PredictConfig } from './specs.ts';
import { runMain } from './main.ts';
import { DATA_FOLDER_HINT, requirePath } from './paths.ts';

/** The WebGPU backend in use, released at exit (Dawn's device would otherwise keep the process alive). */
let gpu: { destroy(): void; device: { destroy(): void } } | undefined;


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

function readTable(cfg: PredictConfig): TableInput | undefined {
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
  if (cfg.dumpInputs && !single) throw new UsageError('--dump-inputs writes the arrays of one study: give --image and/or --table (not --data)');
  if (!cfg.data && !single) throw new UsageError(`nothing to predict: give --data DIR, or --image and/or --table (--table '{}' for no fields); see --help`);
  if (cfg.data && cfg.explain) throw new UsageError('--explain explains one study (--image and/or --table); over a data set, the library\'s Predictor.explain and summarizeContributions give the aggregates');
  if (cfg.data && cfg.allowEmpty) throw new UsageError('--allow-empty is for one study (--image and/or --table), not --data');
  if (cfg.permutations % 2 !== 0) throw new UsageError(`--permutations must be even (drawn in antithetic pairs), got ${cfg.permutations}`);
  if (cfg.permutations > 100000) throw new UsageError(`--permutations must be at most 100000, got ${cfg.permutations}`);
  if (cfg.seed > 0xffffffff) throw new UsageError(`--seed must be below 2^32, got ${cfg.seed}`);
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
      pred = cfg.explain
        ? await predictor.explainAsync({ image, table }, { permutations: cfg.permutations, seed: cfg.seed })
        : await predictor.predictAsync({ image, table });
    } catch (e) {
      throw new Error(`${(e as Error).message.replace(/^image:/, `--image ${cfg.image}:`)}`);
    }
    if (cfg.dumpInputs) dumpInputs(cfg.dumpInputs, predictor, { image, table });
    for (const f of pred.features.invalid) console.error(`predict: warning: ${f.name}: ${f.reason}; treated as missing`);
    if (!pred.modalities.image && !pred.modalities.table) {
      const given = pred.features.invalid.length ? ` (${pred.features.invalid.map((f) => f.name).join(', ')} could not be used)` : '';
      if (!cfg.allowEmpty) throw new UsageError(`no input: no image and no usable table field${given}, so the output would be the model's priors, not a prediction; give --image and/or --table, or --allow-empty to get the priors`);
      console.error('predict: no input: these are the model\'s priors (--allow-empty)');
    }
    out.predictions = [singleRecord(pred, cfg.image ? basename(cfg.image) : undefined, { top: cfg.top })];
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
 * --dump-inputs: the study's arrays exactly as the engine received them (the same encoding and batch), under
 * the ONNX graph's input names, with the labels and the checkpoint's preprocessing for reference.
 */
function dumpInputs(path: string, predictor: Predictor<Backend>, input: { image?: ImageInput; table?: TableInput }): void {
  const batch = buildBatch(predictor.spec, [predictor.encode(input)]);
  const { imageSize, pixelMean, pixelStd } = predictor.spec;
  const doc = { inputs: onnxInputs(batch), labels: predictor.labels, preprocessing: { imageSize, pixelMean, pixelStd } };
  writeFileAtomic(path, `${JSON.stringify(doc)}\n`);
}

/**
 * The --image file as the predictor's input: read under the data readers' rules (a regular file under the
 * size limit). A JPEG, for a model trained on sharp's pixels, is decoded and resized by sharp exactly as the
 * image cache does (an S x S grey image, which the predictor's resize leaves unchanged); jpeg-js models get
 * the bytes. Any other format sharp reads (PNG, WebP, TIFF, GIF, AVIF, ...) is decoded by sharp at full size
 * without a colour change and handed over as pixels, as the edge bundle takes a canvas's ImageData: the
 * predictor's grey conversion and resize then apply, the same arithmetic for every decoder.
 */
async function readImage(path: string, decoder: DecoderName, S: number): Promise<ImageInput> {
  let bytes: Uint8Array;
  try {
    bytes = readImageFile(path);
  } catch (e) {
    throw new Error(`--image ${path}: cannot read (${(e as Error).message})`);
  }
  if (!(bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8)) return decodeOther(path, bytes);
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

/**
 * A non-JPEG image through sharp: its pixels (alpha dropped), 1 or 3 channels, under the decoder's pixel
 * limit. 16-bit samples (common in radiographs saved as PNG) come out of sharp as their high byte (v >> 8).
 */
async function decodeOther(path: string, bytes: Uint8Array): Promise<ImageInput> {
  const sharp = loadSharp().fn as unknown as ((b: Uint8Array, o: Record<string, unknown>) => { removeAlpha(): { raw(): { toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }> } } }) | null;
  if (!sharp) throw new Error(`--image ${path}: not a JPEG, and other formats need sharp, which cannot load here (${loadSharp().error})`);
  try {
    const { data, info } = await sharp(bytes, { failOn: 'warning', limitInputPixels: Math.floor(DEFAULT_DECODE_LIMITS.maxResolutionInMP * 1e6), pages: 1 })
      .removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 && info.channels !== 3) throw new Error(`${info.channels} channels after dropping alpha`);
    const n = info.width * info.height * info.channels;
    if (data.length !== n) throw new Error(`${data.length} bytes for ${info.width} x ${info.height} x ${info.channels} samples`);
    const px = new Uint8Array(data.buffer, data.byteOffset, n);
    return { width: info.width, height: info.height, data: px, channels: info.channels as 1 | 3 };
  } catch (e) {
    throw new Error(`--image ${path}: unreadable image (not a JPEG; sharp: ${(e as Error).message.split('\n')[0]})`);
  }
}
