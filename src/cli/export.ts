/**
 * `npm run export -- --model RUN/model.safetensors --out model.onnx [--opset 17..21]`: the whole model as an
 * ONNX file (standard operators only) that onnxruntime can serve, with the labels, the preprocessing and the
 * calibration (when the checkpoint has one) in its metadata_props. See src/export/onnx.ts and docs/usage.md, "ONNX export".
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodeCheckpoint } from '../model/checkpoint.ts';
import { checkOpset, exportOnnx } from '../export/onnx.ts';
import { writeFileAtomic } from '../node/files.ts';
import { UsageError } from '../options/schema.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { EXPORT_SPEC as SPEC } from './specs.ts';
import { runMain } from './main.ts';
import { requirePath } from './paths.ts';

/**
 * Refuse a checkpoint trained with imputation (the early-fusion baseline, `impute: true` in the run folder's
 * config.json beside it): its training and evaluation filled missing inputs with training means and modes that
 * the checkpoint does not store, so no exported graph (nor `predict`) computes the function it was evaluated as.
 */
function refuseImputed(model: string): void {
  const cfgPath = join(dirname(model), 'config.json');
  if (!existsSync(cfgPath)) return;
  let cfg: unknown;
  try {
    if (statSync(cfgPath).size > 1e6) return; // not a run folder's config
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch {
    return; // not a run folder's config: nothing says the model was imputed
  }
  if (typeof cfg === 'object' && cfg !== null && (cfg as Record<string, unknown>).impute === true) {
    throw new UsageError(`--model ${model}: trained with impute true (${cfgPath}); missing inputs were filled with training means/modes that the checkpoint does not store, so the export would not compute the evaluated model: not exported`);
  }
}

async function main(): Promise<number> {
  const { cfg, help } = parseArgs(SPEC, process.argv.slice(2));
  if (help) {
    console.log(helpText(SPEC));
    return 0;
  }
  if (!cfg.model) throw new UsageError('--model is required (a model.safetensors written by `npm run train`; see --help)');
  if (!cfg.out) throw new UsageError('--out is required (the .onnx file to write; see --help)');
  try {
    checkOpset(cfg.opset);
  } catch (e) {
    throw new UsageError(`--opset ${cfg.opset}: ${(e as Error).message.replace(/^opset \S+ /, '')}`);
  }
  requirePath('--model', cfg.model, 'file');
  if (existsSync(cfg.out) && statSync(cfg.out).isDirectory()) throw new UsageError(`--out ${cfg.out}: a folder (give the .onnx file to write)`);
  if (!existsSync(dirname(cfg.out) || '.')) throw new UsageError(`--out ${cfg.out}: no such folder ${dirname(cfg.out)}`);
  refuseImputed(cfg.model);

  let bytes: Uint8Array;
  try {
    const ck = decodeCheckpoint(new Uint8Array(readFileSync(cfg.model)));
    bytes = exportOnnx(ck, { opset: cfg.opset, producerVersion: packageVersion() });
  } catch (e) {
    throw new Error(`${cfg.model}: ${(e as Error).message}`);
  }
  writeFileAtomic(cfg.out, bytes);
  console.error(`export: wrote ${cfg.out} (${(bytes.length / 1e6).toFixed(2)} MB, opset ${cfg.opset})`);
  return 0;
}

/** This package's version, for the model's producer_version (empty if package.json cannot be read). */
function packageVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : '';
  } catch {
    return '';
  }
}

runMain('export', main);
