/**
 * Child process of `npm run bench -- train` (its memory row): two training steps of a preset at a given
 * worker count in a fresh process, then one JSON line with the resident set in bytes. A fresh process per
 * count, because Node keeps memory freed by an earlier pool mapped.
 * Usage: node --import tsx bench/train-memory.ts '{"preset":"base","threads":8,"batch":256,"microBatch":8}'
 */
import { presetConfig } from '../src/model/index.ts';
import type { PresetName } from '../src/model/index.ts';
import { fakeDataset, timeTraining } from './train.ts';

const a = JSON.parse(process.argv[2] ?? '{}') as { preset: PresetName; threads: number; batch: number; microBatch: number };
const cfg = { ...presetConfig(a.preset), numFeatures: 32, catCardinalities: [] as number[] };
const data = fakeDataset(Math.max(256, a.batch), cfg.imageSize, 32, 1, 0);
// timeTraining runs 2 warm-up steps before the timed ones; rss is read while the pool is still open.
let rss = 0;
await timeTraining(cfg, data, a.threads, a.batch, a.microBatch, 0, { beforeClose: () => { rss = process.memoryUsage().rss; } });
console.log(JSON.stringify({ rss }));
