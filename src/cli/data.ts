/**
 * `npm run data -- inspect --data DIR [--json] [--image-size S] [...]`: prepare a data set (through the image
 * cache) and print samples per split, image and table missingness, per-feature missing rates, per-label
 * counts and every problem found (file and line). Malformed input stops with the file and line (exit 1).
 */
import { formatReport, inspectDataset } from '../data/index.ts';
import { helpLines, parseDataFlags } from '../data/cli-args.ts';
import type { DecoderName } from '../data/index.ts';

const DEFAULTS = {
  data: 'data/synthetic',
  cxrDir: '',
  mimicIvDir: '',
  mimicIvEdDir: '',
  json: false,
  imageSize: 64,
  cacheDir: '',
  decoder: 'sharp',
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
  decoder: 'image decoder: sharp (fast) or jpeg-js (portable)',
  strict: 'an unreadable or missing image is an error',
  labelSource: 'chexpert or negbio',
  allowLateral: 'use a lateral view when a study has no frontal one',
  windowHours: 'widen the ED stay window by this many hours on each side',
  featureSpec: 'feature spec JSON file (empty: the default spec)',
  seed: 'seed of the stratified split (without the official split file)',
  threads: 'decoding threads (0: all cores)',
};

async function main(): Promise<number> {
  const { cfg, help, positional } = parseDataFlags(process.argv.slice(2), DEFAULTS);
  const cmd = positional[0] ?? 'inspect';
  if (help || cmd !== 'inspect') {
    console.log(`usage: npm run data -- inspect [options]\n${helpLines(DEFAULTS, DOCS)}`);
    return help ? 0 : 1;
  }
  if (cfg.labelSource !== 'chexpert' && cfg.labelSource !== 'negbio') throw new Error(`--label-source: chexpert or negbio, got ${cfg.labelSource}`);
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
    labelSource: cfg.labelSource,
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

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`data: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
