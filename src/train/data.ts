/**
 * What a run trains on: the data set (the synthetic one generated on first use), its progress display, the
 * model config it implies, the checkpoint metadata, and the view of it shared with the worker replicas.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateSynthetic, loadDataset, syntheticSetComplete, SYNTH_MARKER } from '../data/index.ts';
import type { DecoderName, PreparedDataset } from '../data/index.ts';
import { presetConfig } from '../model/index.ts';
import type { ModelConfig } from '../model/index.ts';
import type { TrainConfig } from './config.ts';
import type { SharedDataset } from './replica.ts';

/** Where run messages go (console.log by default). */
export type Logger = (line: string) => void;

/** Load (or first generate) the data set the config names. */
export async function prepareData(cfg: TrainConfig, threads: number, log: Logger): Promise<{ ds: PreparedDataset; dir: string }> {
  let dir = cfg.data;
  if (!dir && !cfg.cxrDir) {
    dir = resolve(cfg.synthDir);
    if (!syntheticSetComplete(dir)) {
      // A set without its marker (written last) is half-written: a synth or a first training killed midway.
      if (existsSync(join(dir, 'mimic-cxr-jpg')) || existsSync(join(dir, 'mimic-iv'))) {
        log(`the synthetic data set in ${dir} is incomplete (no ${SYNTH_MARKER}: its generation was interrupted); generating it again (seed 0) ...`);
      } else log(`generating the synthetic data set in ${dir} (seed 0) ...`);
      await generateSynthetic({ out: dir, patients: cfg.synthPatients || undefined, seed: 0 } as Parameters<typeof generateSynthetic>[0]);
    }
  }
  const preset = presetConfig(cfg.preset as 'tiny' | 'small' | 'base');
  const t0 = performance.now();
  const progress = dataProgress(cfg.progress, log);
  const ds = await loadDataset(dir, {
    imageSize: preset.imageSize,
    cacheDir: cfg.cacheDir || undefined,
    decoder: cfg.decoder as DecoderName,
    cxrDir: cfg.cxrDir || undefined,
    mimicIvDir: cfg.mimicIvDir || undefined,
    mimicIvEdDir: cfg.mimicIvEdDir || undefined,
    strict: cfg.strict,
    allowLateral: cfg.allowLateral,
    windowHours: cfg.windowHours || undefined,
    threads,
    onProgress: progress.update,
  }).finally(progress.end);
  log(`data: ${ds.n} studies from ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { ds, dir };
}

/**
 * Data preparation progress: an in-place line on a terminal, a log line per phase and per 10% of decoding
 * otherwise. `end` finishes an in-place line, so the next message never lands on it.
 */
function dataProgress(mode: string, log: Logger): { update: (done: number, total: number, phase: string) => void; end: () => void } {
  const bar = mode === 'bar' || (mode === 'auto' && process.stderr.isTTY);
  let lastPhase = '', lastTenth = -1, lastDraw = 0, open = false;
  const update = (done: number, total: number, phase: string) => {
    if (mode === 'none') return;
    if (bar) {
      const now = performance.now();
      if (now - lastDraw < 100 && done !== total) return;
      lastDraw = now;
      const ends = phase === 'decode' && done === total;
      process.stderr.write(`\r${phase} ${total > 1 ? `${done}/${total}` : ''}\x1b[K${ends ? '\n' : ''}`);
      open = !ends;
      return;
    }
    if (phase !== lastPhase) { lastPhase = phase; lastTenth = -1; if (phase !== 'decode') log(`data: reading ${phase}`); }
    if (phase === 'decode' && total > 0) {
      const tenth = Math.floor((10 * done) / total);
      if (tenth > lastTenth) { lastTenth = tenth; log(`data: decoded ${done}/${total} images`); }
    }
  };
  const end = () => {
    if (open) process.stderr.write('\n');
    open = false;
  };
  return { update, end };
}

/** The model config of a preset on this data set (image size, feature counts, vocabularies). */
export function modelConfigFor(cfg: TrainConfig, ds: PreparedDataset): ModelConfig {
  return {
    ...presetConfig(cfg.preset as 'tiny' | 'small' | 'base'),
    imageSize: ds.S,
    numFeatures: ds.schema.numeric.length,
    catCardinalities: ds.schema.categorical.map((c) => c.vocab.length),
    uncertain: cfg.uncertain as 'ignore' | 'ones' | 'zeros',
    attentionMasking: cfg.attentionMasking,
  } as ModelConfig;
}

/**
 * The metadata a checkpoint carries for prediction: feature schema, normalization, labels, and how many
 * training samples had each feature (`trainingCounts`): a feature with none was never learned, and the
 * predictor treats it as missing rather than feed its untrained embedding.
 */
export function checkpointMetadata(ds: PreparedDataset): Record<string, unknown> {
  return {
    schema: ds.schema, normalization: { pixelMean: ds.pixelMean, pixelStd: ds.pixelStd, imageSize: ds.S, decoder: ds.report.cache.decoder }, labels: ds.labelNames,
    trainingCounts: trainingCounts(ds),
  };
}

/** Training-split samples with each numeric and each categorical feature present. */
export function trainingCounts(ds: Pick<PreparedDataset, 'n' | 'split' | 'numPresent' | 'catPresent' | 'schema'>): { numeric: number[]; categorical: number[] } {
  const Fn = ds.schema.numeric.length, Fc = ds.schema.categorical.length;
  const numeric = new Array<number>(Fn).fill(0), categorical = new Array<number>(Fc).fill(0);
  for (let s = 0; s < ds.n; s++) {
    if (ds.split[s] !== 0) continue;
    for (let j = 0; j < Fn; j++) numeric[j] += ds.numPresent[s * Fn + j];
    for (let c = 0; c < Fc; c++) categorical[c] += ds.catPresent[s * Fc + c];
  }
  return { numeric, categorical };
}

/** The typed arrays the worker replicas read (shared memory, no copies). */
export function shareDataset(ds: PreparedDataset): SharedDataset {
  const { S, n, labelNames, split, subjectId, studyId, pixels, pixelFile, hasImage, num, numPresent, cat, catPresent, labels, schema, pixelMean, pixelStd } = ds;
  return { S, n, labelNames, split, subjectId, studyId, pixels, pixelFile, hasImage, num, numPresent, cat, catPresent, labels, schema, pixelMean, pixelStd };
}
