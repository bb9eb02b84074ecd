/**
 * `npm run predict -- --model RUN/model.safetensors ...`: probabilities of the 14 findings, with the
 * preprocessing stored in the checkpoint.
 *   --data DIR [--split test|validate|train|all]   every study of a data set folder
 *   --image x.jpg and/or --table '{"temperature": 101.2, "pain": "4-5"}' (or --table-file f.json)
 *                                                   one study; any field, and the image, may be left out
 * Output: JSON (default) or CSV (--format csv), to stdout or --out FILE. `--backend webgpu` runs the model on the
 * optional WebGPU backend (no adapter: an error naming the fix, exit code 1). `--help` lists every option.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { helpLines, parseDataFlags } from '../data/cli-args.ts';
import { resolveFeatureSpec } from '../data/features.ts';
import type { Backend, BackendKind } from '../engine/index.ts';
import { createBackend } from '../engine/index.ts';
import { datasetRecords, predictDataset, Predictor, singleRecord, toCsv, toJson } from '../infer/index.ts';
import type { PredictOutput, SplitChoice, TableInput } from '../infer/index.ts';
import { loadModel } from '../node/model.ts';

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
  windowHours: 'with --data: widen the ED stay window by this many hours (use the value the model was trained with)',
  allowLateral: 'with --data: use a lateral view when a study has no frontal one (as in training)',
  batchSize: 'samples per forward pass',
  fields: 'print the model\'s table fields (name, kind, input unit, valid range, categories) as JSON and exit',
};

/** The WebGPU backend in use, released at exit (Dawn's device would otherwise keep the process alive). */
let gpu: { destroy(): void; device: { destroy(): void } } | undefined;

const BACKENDS = ['wasm', 'webgpu', 'auto', 'relaxed', 'simd', 'reference'];

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
  return `usage: npm run predict -- --model RUN/model.safetensors (--data DIR [--split test] | [--image x.jpg] [--table JSON | --table-file f.json]) [options]\n${helpLines(DEFAULTS, DOCS)}`;
}

function readTable(cfg: typeof DEFAULTS): TableInput | undefined {
  if (cfg.table && cfg.tableFile) throw new Error('give --table or --table-file, not both');
  let text: string, where: string;
  if (cfg.table) {
    text = cfg.table;
    where = '--table';
  } else if (cfg.tableFile) {
    where = `--table-file ${cfg.tableFile}`;
    try {
      text = readFileSync(cfg.tableFile, 'utf8');
    } catch (e) {
      throw new Error(`${where}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  } else return undefined;
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
  const { cfg, help, positional } = parseDataFlags(process.argv.slice(2), DEFAULTS);
  if (help) {
    console.log(usage());
    return 0;
  }
  if (positional.length) throw new Error(`unexpected argument '${positional[0]}' (options are --key value)\n${usage()}`);
  if (!cfg.model) throw new Error(`--model is required\n${usage()}`);
  if (cfg.format !== 'json' && cfg.format !== 'csv') throw new Error(`--format: json or csv, got '${cfg.format}'`);
  if (!BACKENDS.includes(cfg.backend)) throw new Error(`--backend: ${BACKENDS.join(', ')}, got '${cfg.backend}'`);
  if (!['test', 'validate', 'train', 'all'].includes(cfg.split)) throw new Error(`--split: test, validate, train or all, got '${cfg.split}'`);
  if (!(Number.isInteger(cfg.batchSize) && cfg.batchSize >= 1)) throw new Error(`--batch-size: a positive integer, got ${cfg.batchSize}`);
  const single = !!(cfg.image || cfg.table || cfg.tableFile);
  if (cfg.fields) {
    const p = new Predictor(loadModel(cfg.model, { backend: 'reference' }));
    process.stdout.write(`${JSON.stringify(p.fields(), null, 2)}\n`);
    return 0;
  }
  if (cfg.data && single) throw new Error('give --data, or --image/--table for one study, not both');
  if (!cfg.data && !single) throw new Error(`nothing to predict: give --data DIR, or --image and/or --table (--table '{}' for no fields)\n${usage()}`);
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
  const out: PredictOutput = { model: cfg.model, labels: predictor.labels, predictions: [] };

  if (cfg.data) {
    const tty = process.stderr.isTTY;
    const p = await predictDataset(predictor, cfg.data, {
      split: cfg.split as SplitChoice,
      featureSpec,
      cacheDir: cfg.cacheDir || undefined,
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
    let image: Uint8Array | undefined;
    if (cfg.image) {
      try {
        image = new Uint8Array(readFileSync(cfg.image));
      } catch (e) {
        throw new Error(`--image ${cfg.image}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
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
  if (cfg.out) writeFileSync(cfg.out, text);
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

main().then(
  (code) => finish(code),
  (e: unknown) => {
    console.error(`predict: ${e instanceof Error ? e.message : String(e)}`);
    finish(1);
  },
);
