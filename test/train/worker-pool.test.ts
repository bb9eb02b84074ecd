/**
 * The training pool is reused from run to run in one process: a protocol run trains hundreds of models, and
 * each new worker thread left ~70 file descriptors open (tsx's loader), which ended `npm run stress -- --quick`
 * with EMFILE after ~145 runs. Two runs in a row must leave the descriptor count where the first left it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../../src/data/index.ts';
import { train } from '../../src/train/trainer.ts';
import { applyOverrides, TRAIN_DEFAULTS } from '../../src/train/config.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-pool-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

test('runs in one process reuse the worker threads: no file descriptors or threads pile up', async () => {
  if (!existsSync('/proc/self/fd')) {
    console.log('  [train-pool] skipped: no /proc/self/fd to count descriptors on this system');
    return;
  }
  const data = join(root, 'data');
  await generateSynthetic({ out: data, patients: 60, seed: 2, imageSize: 32 });
  const fds = () => readdirSync('/proc/self/fd').length;
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const cfg = applyOverrides(TRAIN_DEFAULTS, { data, out: join(root, 'runs'), name: `r${i}`, preset: 'tiny', epochs: 1, maxSteps: 2, threads: 2, batch: 16, progress: 'none' }, 'test');
    await train(cfg, { log: () => {} });
    counts.push(fds());
  }
  assert.ok(counts[2] <= counts[0] + 4, `descriptors after runs 1, 2, 3: ${counts.join(', ')}`);
});

test.run();
