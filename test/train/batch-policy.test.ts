/**
 * The batch policy (src/train/batch-policy.ts): one function makes every batch, and says what it showed.
 * Training batches get injection and dropout, evaluation batches injection only; what was shown is the
 * availability before imputation; with --impute a dropped image is refilled with the training mean image
 * (the documented --impute x dropout behaviour).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fakeDataset } from '../../bench/train.ts';
import { hasTabular } from '../../src/engine/index.ts';
import type { PreparedDataset } from '../../src/data/index.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../../src/train/config.ts';
import { batchPolicy, plainPolicy, prepareBatch } from '../../src/train/batch-policy.ts';
import { injectedMissing } from '../../src/train/missing.ts';

const ds = fakeDataset(200, 16, 4, 2, 0.5) as unknown as PreparedDataset;
const rows = Int32Array.from({ length: 200 }, (_, i) => i);
const Fn = ds.schema.numeric.length, Fc = ds.schema.categorical.length;
const hasTab = (r: number) => hasTabular(ds.numPresent, ds.catPresent, r, Fn, Fc);
const both = [...rows].filter((r) => ds.hasImage[r] && hasTab(r));

test('evaluation batches: injection only (no dropout, whatever the rates); what was shown is what injection left', () => {
  const policy = batchPolicy(applyOverrides(TRAIN_DEFAULTS, { dropImage: 0.5, dropTab: 0.5, seed: 7 }, 'test'));
  const { batch, shown } = prepareBatch(ds, policy, rows, { kind: 'eval', missImage: 0.3, missTab: 0.2 });
  for (const r of rows) {
    assert.is(shown.hasImage[r], ds.hasImage[r] && !injectedMissing(7, 'image', r, 0.3) ? 1 : 0, `image of ${r}`);
    assert.is(shown.hasTab[r], hasTab(r) && !injectedMissing(7, 'tab', r, 0.2) ? 1 : 0, `table of ${r}`);
    assert.is(batch.hasImage[r], shown.hasImage[r]);
  }
});

test('training batches: modality dropout acts (never both), deterministic in (seed, step, sample)', () => {
  const policy = batchPolicy(applyOverrides(TRAIN_DEFAULTS, { dropImage: 0.5, dropTab: 0.5, dropFeature: 0 }, 'test'));
  const a = prepareBatch(ds, policy, rows, { kind: 'train', step: 3 });
  const b = prepareBatch(ds, policy, rows, { kind: 'train', step: 3 });
  const c = prepareBatch(ds, policy, rows, { kind: 'train', step: 4 });
  assert.equal([...a.shown.hasImage], [...b.shown.hasImage]);
  assert.not.equal([...a.shown.hasImage], [...c.shown.hasImage], 'another step draws again');
  let lost = 0;
  for (const r of both) {
    assert.ok(a.shown.hasImage[r] + a.shown.hasTab[r] === 1, `sample ${r} with both loses exactly one at rates 0.5 + 0.5`);
    lost++;
  }
  assert.ok(lost > 20);
  // the plain policy shows every sample as it is
  const p = prepareBatch(ds, plainPolicy(8), rows, { kind: 'train', step: 3 });
  for (const r of rows) assert.is(p.shown.hasImage[r], ds.hasImage[r] ? 1 : 0);
});

test('--impute with dropout: the dropped image is refilled with the mean image; shown says it was dropped', () => {
  const cfg = applyOverrides(TRAIN_DEFAULTS, { impute: true, dropImage: 1, dropTab: 0, dropFeature: 0 }, 'test');
  const meanImage = new Float32Array(16 * 16).fill(0.25), catModes = new Int32Array(Fc);
  const { batch, shown } = prepareBatch(ds, batchPolicy(cfg, { meanImage, catModes }), rows, { kind: 'train', step: 0 });
  for (const r of both) {
    assert.is(shown.hasImage[r], 0, 'dropped (rate 1)');
    assert.is(batch.hasImage[r], 1, 'refilled');
    assert.ok(batch.image.subarray(r * 256, (r + 1) * 256).every((v) => v === 0.25), 'with the mean image');
  }
  assert.throws(() => batchPolicy(cfg), /needs the training split's fill values/);
});

test.run();
