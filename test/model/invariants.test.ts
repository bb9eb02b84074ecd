/**
 * The invariants of docs/design.md on the WebAssembly backend: absent values change no logit bit; a
 * sample's logits do not depend on the rest of its batch; an encoder gets exactly zero gradient from
 * samples that lack its modality.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createModel, presetConfig, sliceBatch } from '../../src/model/index.ts';

import type { Batch } from '../../src/engine/index.ts';
import { rng, sameBits } from '../util/harness.ts';
import { syntheticBatch } from '../../src/model/synthetic.ts';
import type { Availability } from '../../src/model/synthetic.ts';

const cfg = { ...presetConfig('tiny'), numFeatures: 5, catCardinalities: [3, 4] };
const PATTERNS: Availability[] = ['both', 'image', 'table', 'partial', 'tablePartial', 'none', 'both', 'partial', 'image'];

function model() {
  const m = createModel(cfg, { seed: 4 });
  // Off the symmetric init, so modality scale/shift and norms are not special values.
  const r = rng(3), p = Float32Array.from(m.paramData());
  for (let i = 0; i < p.length; i++) p[i] += 0.1 * (2 * r() - 1);
  m.setParams(p);
  return m;
}

const copyGrads = (g: Record<string, ArrayLike<number>>) => Object.fromEntries(Object.entries(g).map(([k, v]) => [k, Float32Array.from(v)]));

test('absent images and masked features change no logit or gradient bit (NaN, zero, random)', () => {
  const m = model();
  const nan = syntheticBatch(cfg, PATTERNS, 21, { absent: 'nan' });
  const zero = syntheticBatch(cfg, PATTERNS, 21, { absent: 'zero' });
  const rand = syntheticBatch(cfg, PATTERNS, 21, { absent: 'random' });
  // Same present values, different absent ones.
  for (let i = 0; i < nan.labels.length; i++) assert.ok(Object.is(nan.labels[i], rand.labels[i]));
  const want = m.forward(zero);
  for (const v of want) assert.ok(Number.isFinite(v));
  sameBits('logits NaN-filled', m.forward(nan), want);
  sameBits('logits random-filled', m.forward(rand), want);
  const g0 = copyGrads(m.lossAndGrad(zero).grads);
  for (const b of [nan, rand]) {
    const g = m.lossAndGrad(b).grads;
    for (const k of Object.keys(g0)) sameBits(`grad ${k}`, Float32Array.from(g[k]), g0[k]);
  }
});

test('a sample\'s logits are bit-identical alone and inside a batch', () => {
  const m = model();
  const batch = syntheticBatch(cfg, PATTERNS, 22);
  const all = m.forward(batch);
  for (let i = 0; i < batch.B; i++) {
    const one = m.forward(sliceBatch(batch, i, i + 1, cfg.numFeatures, cfg.catCardinalities.length));
    sameBits(`sample ${i} (${PATTERNS[i]})`, one, all.subarray(i * 14, (i + 1) * 14));
  }
  // A batch bigger than the forward chunk gives the same logits as its parts.
  const big = syntheticBatch(cfg, Array.from({ length: 150 }, (_, i) => PATTERNS[i % PATTERNS.length]), 23);
  const bl = m.forward(big);
  const part = m.forward(sliceBatch(big, 70, 75, cfg.numFeatures, 2));
  sameBits('samples 70..74 of 150', part, bl.subarray(70 * 14, 75 * 14));
});

function concat(a: Batch, b: Batch): Batch {
  const cat = <T extends Float32Array | Uint8Array | Int32Array>(x: T, y: T): T => {
    const out = new (x.constructor as new (n: number) => T)(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    B: a.B + b.B, S: a.S, image: cat(a.image, b.image), hasImage: cat(a.hasImage, b.hasImage), num: cat(a.num, b.num),
    numPresent: cat(a.numPresent, b.numPresent), cat: cat(a.cat, b.cat), catPresent: cat(a.catPresent, b.catPresent), labels: cat(a.labels, b.labels),
  };
}

test('encoders get exactly zero gradient from samples lacking their modality', () => {
  const m = model();
  const zeroOf = (prefix: string, g: Record<string, ArrayLike<number>>) => {
    for (const [k, v] of Object.entries(g)) {
      if (!k.startsWith(prefix)) continue;
      for (let i = 0; i < v.length; i++) if (v[i] !== 0) assert.unreachable(`${k}[${i}] = ${v[i]}, expected exactly 0`);
    }
  };
  const noImage = syntheticBatch(cfg, ['table', 'tablePartial', 'none', 'table'], 31);
  let r = m.lossAndGrad(noImage);
  assert.ok(r.loss > 0);
  zeroOf('vision.', r.grads);
  zeroOf('fusion.modality.vision.', r.grads);
  const noTable = syntheticBatch(cfg, ['image', 'none', 'image'], 32);
  r = m.lossAndGrad(noTable);
  assert.ok(r.loss > 0);
  zeroOf('tabular.', r.grads);
  zeroOf('fusion.modality.tabular.', r.grads);

  // Adding samples without an image (with labels) leaves the vision gradients bit for bit unchanged when
  // the normalizer is held fixed; likewise for the tabular encoder and samples without a table.
  const base = syntheticBatch(cfg, ['both', 'partial', 'image', 'tablePartial'], 33);
  const norm = 40;
  const g0 = copyGrads(m.lossAndGrad(base, { normalizer: norm }).grads);
  const gv = copyGrads(m.lossAndGrad(concat(base, noImage), { normalizer: norm }).grads);
  const gt = copyGrads(m.lossAndGrad(concat(base, noTable), { normalizer: norm }).grads);
  for (const k of Object.keys(g0)) {
    if (k.startsWith('vision.')) sameBits(`${k} with image-less samples added`, gv[k], g0[k]);
    if (k.startsWith('tabular.')) sameBits(`${k} with table-less samples added`, gt[k], g0[k]);
  }
});

test('chunk gradients with the batch normalizer sum to the batch gradient', () => {
  const m = model();
  const batch = syntheticBatch(cfg, PATTERNS, 41);
  const n = m.observedCount(batch);
  const whole = m.lossAndGrad(batch);
  const want = Float64Array.from(m.gradData());
  const sum = new Float64Array(m.numParams);
  let loss = 0;
  for (const [a, b] of [[0, 4], [4, 9]]) {
    const part = m.lossAndGrad(sliceBatch(batch, a, b, cfg.numFeatures, 2), { normalizer: n });
    loss += part.loss;
    const g = m.gradData();
    for (let i = 0; i < sum.length; i++) sum[i] += g[i];
  }
  assert.ok(Math.abs(loss - whole.loss) < 1e-6, `loss ${loss} vs ${whole.loss}`);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < sum.length; i++) assert.ok(Math.abs(sum[i] - want[i]) <= 1e-5 * scale, `grad ${i}: ${sum[i]} vs ${want[i]}`);
});

test('a batch without observed labels has loss 0 and zero gradients; bad inputs are rejected', () => {
  const m = model();
  const b = syntheticBatch(cfg, ['both', 'image'], 51);
  b.labels.fill(NaN);
  const r = m.lossAndGrad(b);
  assert.is(r.loss, 0);
  for (const v of m.gradData()) assert.is(v, 0);
  b.labels[3] = 2;
  assert.throws(() => m.lossAndGrad(b), /label 2/);
  const c = syntheticBatch(cfg, ['both'], 52);
  c.cat[0] = 7;
  assert.throws(() => m.forward(c), /outside/);
  assert.throws(() => m.forward({ ...c, S: 16 }), /image size/);
});

test('masking off (the ablation): complete samples unchanged, absent tokens attended as zeros, absent values still ignored', () => {
  const m = model();
  const off = createModel({ ...cfg, attentionMasking: false });
  off.setParams(m.paramData());
  const both = syntheticBatch(cfg, ['both', 'both', 'both'], 5);
  sameBits('complete samples, masking on vs off', off.forward(both), m.forward(both));
  const mixed = syntheticBatch(cfg, PATTERNS, 21, { absent: 'nan' });
  const zero = syntheticBatch(cfg, PATTERNS, 21, { absent: 'zero' });
  const a = off.forward(mixed);
  sameBits('masking off: absent values NaN vs zero', a, off.forward(zero));
  const on = m.forward(mixed);
  // A sample lacking the image sees Nv zero tokens without masking: its logits must differ.
  const idx = PATTERNS.indexOf('table');
  let differs = false;
  for (let j = 0; j < 14; j++) if (a[idx * 14 + j] !== on[idx * 14 + j]) differs = true;
  assert.ok(differs, 'without masking, the zero-filled image tokens must reach the CLS token');
});

test.run();
