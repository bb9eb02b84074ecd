/**
 * `npm run data -- inspect --data DIR [--json] [--image-size S] [...]`: prepare a data set (through the image
 * cache) and print samples per split, image and table missingness, per-feature missing rates, per-label
 * counts and every problem found (file and line). Malformed input stops with the file and line (exit 1).
 */
import { formatReport, inspectDataset } from '../data/index.ts';
import { helpText, parseArgs, runMain } from './flags.ts';
import { DATA_FOLDER_HINT, requirePath } from './paths.ts';
import type { DecoderName } from '../data/index.ts';

const DEFAULTS = {
  data: 'data/synthetic',
  cxrDir: '',
  mimicIvDir: '',
  mimicIvEdDir: '',
  json: false,
  imageSize: 64,
  cacheDir: '',
  decoder: 'jpeg-js',
  strict: false,
  labelSource: 'chexpert',
  allowLateral: false,
  windowHours: 0,
  featureSpec: '',
  seed: 0,
  threads: 0,
};
const DOCS: Record<keyof typeof DEFAULTS, string> = {
  data: 'data set folder (mimic-cxr-jpg/ and mimic-iv/ inside, or PhysioNet download trees)',
  cxrDir: 'MIMIC-CXR-JPG folder, e.g. physionet.org/files/mimic-cxr-jpg/2.1.0 (empty: found under --data)',
  mimicIvDir: 'MIMIC-IV folder holding hosp/, e.g. physionet.org/files/mimiciv/3.1 (empty: found under --data)',
  mimicIvEdDir: 'MIMIC-IV-ED folder holding ed/, e.g. physionet.org/files/mimic-iv-ed/2.2 (empty: found under --data)',
  json: 'print the report as JSON',
  imageSize: 'image side S of the cache to build or read',
  cacheDir: 'image cache folder (empty: the data set folder, or a per-user cache folder when that is read-only)',
  decoder: 'image decoder: jpeg-js (the default, as training: the browser reproduces its pixels) or sharp (faster)',
  strict: 'an unreadable or missing image is an error',
  labelSource: 'chexpert or negbio',
  allowLateral: 'use a lateral view when a study has no frontal one',
  windowHours: 'widen the ED stay window by this many hours on each side',
  featureSpec: 'feature spec JSON file (empty: the default spec)',
  seed: 'seed of the stratified split (without the official split file)',
  threads: 'decoding threads (0: all cores)',
};

const SPEC = {
  usage: 'usage: npm run data -- inspect [options]\n\ncommands:\n  inspect   samples per split, missingness, label counts and every problem found',
  defaults: DEFAULTS, docs: DOCS,
  choices: { labelSource: ['chexpert', 'negbio'], decoder: ['sharp', 'jpeg-js'] },
  integers: { imageSize: 1, seed: 0, threads: 0 },
  positional: { what: 'command', choices: ['inspect'], max: 1 },
};

async function main(): Promise<number> {
  const { cfg, given, help } = parseArgs(SPEC, process.argv.slice(2));
  if (help) {
    console.log(helpText(SPEC));
    return 0;
  }
  if (given.has('data')) requirePath('--data', cfg.data, 'folder', DATA_FOLDER_HINT);
  const tty = process.stderr.isTTY && !cfg.json;
  let last = 0;
  const report = await inspectDataset(cfg.data, {
    cxrDir: cfg.cxrDir || undefined,
    mimicIvDir: cfg.mimicIvDir || undefined,
    mimicIvEdDir: cfg.mimicIvEdDir || undefined,
    imageSize: cfg.imageSize,
    cacheDir: cfg.cacheDir || undefined,
    decoder: cfg.decoder as DecoderName,
    strict: cfg.strict,
    labelSource: cfg.labelSource as 'chexpert' | 'negbio', // checked by the parser (choices)
    allowLateral: cfg.allowLateral,
    windowHours: cfg.windowHours,
    featureSpec: cfg.featureSpec || undefined,
    seed: cfg.seed,
    threads: cfg.threads || undefined,
    onProgress: (done, total, phase) => {
      if (!tty) return;
      const now = performance.now();
      if (now - last < 200 && done !== total) return;
      last = now;
      process.stderr.write(`\r${phase} ${total ? `${done}/${total}` : done}`.padEnd(40));
      if (done === total && phase === 'decode') process.stderr.write('\n');
    },
  });
  if (tty) process.stderr.write('\r'.padEnd(41) + '\r');
  console.log(cfg.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}

runMain('data', main);
