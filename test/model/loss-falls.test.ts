/**
 * The loss falls: a tiny model with plain AdamW (the backend's kernel, per tensor, decay on Linear and
 * patch weights only) overfits one mixed batch of 16 samples.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createModel, presetConfig } from '../../src/index.ts';
import { syntheticBatch } from '../../src/model/synthetic.ts';
import type { Availability } from '../../src/model/synthetic.ts';

test('a tiny model overfits a batch of 16 (loss below 5% of its start)', () => {
  const cfg = { ...presetConfig('tiny'), numFeatures: 6, catCardinalities: [3, 4] };
  const m = createModel(cfg, { seed: 1 });
  const patterns: Availability[] = ['both', 'image', 'table', 'partial', 'tablePartial', 'none', 'both', 'both', 'image', 'image', 'table', 'partial', 'partial', 'tablePartial', 'both', 'table'];
  const batch = syntheticBatch(cfg, patterns, 12, { blank: 0.2 });
  const be = m.backend, P = m.numParams;
  const mom = be.alloc(P), vel = be.alloc(P);
  be.fill(mom, P, 0);
  be.fill(vel, P, 0);
  const losses: number[] = [];
  const t0 = performance.now();
  for (let step = 1; step <= 300; step++) {
    const { loss } = m.lossAndGrad(batch);
    losses.push(loss);
    for (const e of m.layout) {
      be.adamw(m.paramPtr + e.offset, m.gradPtr + e.offset, mom + e.offset, vel + e.offset, e.size, 3e-3, 0.9, 0.999, 1e-8, e.decay ? 1e-4 : 0, step);
    }
    if (loss < 0.05 * losses[0] / 2) break;
  }
  const last = losses[losses.length - 1];
  console.log(`  loss ${losses[0].toFixed(4)} -> ${last.toFixed(5)} in ${losses.length} steps, ${(performance.now() - t0).toFixed(0)} ms`);
  assert.ok(last < 0.05 * losses[0], `loss ${last} is not below 5% of ${losses[0]}`);
});

test.run();
