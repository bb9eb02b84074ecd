/**
 * `npm run data -- inspect --data DIR [--json] [--image-size S] [...]`: prepare a data set (through the image
 * cache) and print samples per split, image and table missingness, per-feature missing rates, per-label
 * counts and every problem found (file and line). Malformed input stops with the file and line (exit 1).
 */
import { formatReport, inspectDataset } from '../data/index.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { DATA_SPEC as SPEC } from './specs.ts';
import { runMain } from './main.ts';
import { DATA_FOLDER_HINT, requirePath } from './paths.ts';
import type { DecoderName } from '../data/index.ts';


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
