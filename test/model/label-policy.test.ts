/**
 * Label policies as behaviour: what the loss and its gradient take as targets for 1, 0, soft labels,
 * -1 (uncertain, per `uncertain: ignore | ones | zeros`) and NaN (blank), checked against BCE written out
 * by hand from the model's own logits, and the three label counts (model.observedCount, observedLabels,
 * the trainer's observedCount) agreeing. Mapping `ones` to target 0 (or `zeros` to 1) fails here.
 *
 * Mutants of scripts/mutate.ts argued equivalent:
 *   src/train/batching.ts:9:23 (evalTargets) `j < L` -> `<=`: the extra entry written is the next row's first, which the next
 *                   iteration overwrites; for the last row it lies past the array's end (a typed array ignores the write).
 *   src/train/batching.ts:21:21 (observedCount) `r < rows.length` -> `<=`: rows[length] is undefined, so the index is NaN and
 *                   labels[NaN] is undefined, never counted.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createModel, labelTargets, observedLabels, presetConfig } from '../../src/model/index.ts';
import type { UncertainPolicy } from '../../src/model/index.ts';

import type { Batch } from '../../src/engine/index.ts';
import { NUM_LABELS } from '../../src/engine/index.ts';
// Internal today (the trainer's batch normalizer); imported from the module that exports it.
import { evalTargets, observedCount } from '../../src/train/batching.ts';
import { close, rng } from '../util/harness.ts';
import { syntheticBatch } from '../../src/model/synthetic.ts';

const CFG = { ...presetConfig('tiny'), imageSize: 16, numFeatures: 2, catCardinalities: [3] };
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The policy's (target, weight) of one label value, written from the docs, not from the code. */
function want(v: number, policy: UncertainPolicy): [number, number] {
  if (Number.isNaN(v)) return [0, 0];
  if (v === -1) return policy === 'ignore' ? [0, 0] : [policy === 'ones' ? 1 : 0, 1];
  return [v, 1];
}

/** A batch whose labels cycle through 1, 0, -1, NaN and the soft labels 0.25, 0.75. */
function batch(B: number, seed: number): Batch {
  const b = syntheticBatch(CFG, Array.from({ length: B }, (_, i) => (['both', 'image', 'table', 'partial'] as const)[i % 4]), seed);
  const vals = [1, 0, -1, NaN, 0.25, 0.75, -1];
  for (let i = 0; i < b.labels.length; i++) b.labels[i] = vals[(i * 5 + seed) % vals.length];
  return b;
}

for (const policy of ['ignore', 'ones', 'zeros'] as const) {
  test(`uncertain=${policy}: the loss and head.bias gradient are masked BCE against the policy's targets`, () => {
    const m = createModel({ ...CFG, uncertain: policy }, { seed: 3, backend: 'reference' });
    // Off the zero head bias, so logits are far from 0 and target 0 vs 1 matters a lot.
    const hb = m.parameters()['head.bias'];
    for (let j = 0; j < NUM_LABELS; j++) hb[j] = (j % 2 ? 1.5 : -1.5) + 0.1 * j;
    const b = batch(5, 2);
    const logits = m.forward(b);
    let sum = 0, n = 0;
    const gBias = new Float64Array(NUM_LABELS);
    for (let i = 0; i < b.labels.length; i++) {
      const [t, w] = want(b.labels[i], policy);
      sum += w * (softplus(logits[i]) - t * logits[i]);
      n += w;
      gBias[i % NUM_LABELS] += w * (sigmoid(logits[i]) - t);
    }
    for (let j = 0; j < NUM_LABELS; j++) gBias[j] /= n;
    assert.is(m.observedCount(b), n);
    const r = m.lossAndGrad(b);
    close(`loss (${policy})`, [r.loss], [sum / n], 1e-6, 1e-6);
    close(`head.bias grad (${policy})`, r.grads['head.bias'], gBias, 1e-6, 1e-5);
    close(`loss() (${policy})`, [m.loss(b)], [sum / n], 1e-6, 1e-6);
    // An explicit normalizer divides the same sum.
    close(`loss with normalizer (${policy})`, [m.lossAndGrad(b, { normalizer: 2 * n }).loss], [sum / (2 * n)], 1e-6, 1e-6);
  });
}

test('uncertain labels alone: ignore gives loss 0 and no gradient; ones and zeros pull the logits opposite ways', () => {
  const b = batch(3, 4);
  b.labels.fill(-1);
  const grads: Record<string, Float64Array> = {};
  for (const policy of ['ignore', 'ones', 'zeros'] as const) {
    const m = createModel({ ...CFG, uncertain: policy }, { seed: 5, backend: 'reference' });
    const r = m.lossAndGrad(b);
    grads[policy] = Float64Array.from(r.grads['head.bias']);
    if (policy === 'ignore') {
      assert.is(r.loss, 0);
      assert.is(m.observedCount(b), 0);
      for (const v of m.gradData()) assert.is(v, 0);
    } else {
      assert.is(m.observedCount(b), b.labels.length);
      assert.ok(r.loss > 0.5 && r.loss < 1, `loss ${r.loss} near ln 2 at init`);
    }
  }
  // Near zero logits: d loss / d bias = sigmoid - t, negative for target 1 and positive for target 0.
  for (let j = 0; j < NUM_LABELS; j++) {
    assert.ok(grads.ones[j] < -0.01, `ones: head.bias[${j}] grad ${grads.ones[j]} must be negative`);
    assert.ok(grads.zeros[j] > 0.01, `zeros: head.bias[${j}] grad ${grads.zeros[j]} must be positive`);
  }
});

test('the normalizer: must be positive when something is observed; nothing observed gives loss 0 and no gradient', () => {
  const m = createModel({ ...CFG, uncertain: 'zeros' }, { seed: 6, backend: 'reference' });
  const b = batch(2, 1);
  for (const bad of [0, -3, NaN]) assert.throws(() => m.lossAndGrad(b, { normalizer: bad }), /normalizer must be positive/);
  assert.throws(() => m.loss(b, { normalizer: 0 }), /normalizer must be positive/);
  b.labels.fill(NaN);
  for (const opts of [{}, { normalizer: 0 }, { normalizer: 5 }]) {
    assert.is(m.loss(b, opts), 0);
    const r = m.lossAndGrad(b, opts);
    assert.is(r.loss, 0);
    for (const v of m.gradData()) assert.is(v, 0);
  }
  // One observed entry: the loss is its BCE alone; the gradient reaches only its head row.
  b.labels[3] = 1;
  const logit = m.forward(b)[3];
  close('one observed entry', [m.lossAndGrad(b).loss], [softplus(logit) - logit], 1e-6, 1e-6);
  const hb = m.gradients()['head.bias'];
  for (let j = 0; j < NUM_LABELS; j++) assert.is(hb[j] !== 0, j === 3, `head.bias[${j}] gradient ${hb[j]}`);
  assert.throws(() => m.lossAndGrad(b, { normalizer: 0 }), /normalizer must be positive/, 'one observed entry is enough to need a normalizer');
  // loss() checks the batch like lossAndGrad.
  assert.throws(() => m.loss({ ...b, S: 8 }), /image size 8/);
  assert.throws(() => m.loss({ ...b, labels: b.labels.subarray(0, 5) }), /labels has 5 values/);
  assert.throws(() => m.lossAndGrad({ ...b, labels: b.labels.subarray(0, 5) }), /labels has 5 values/);
});

test('labelTargets: targets, weights and count per value and policy; bad labels name the entry', () => {
  const vals = [1, 0, -1, NaN, 0.5, 0.001, 0.999, -1];
  for (const policy of ['ignore', 'ones', 'zeros'] as const) {
    const t = new Float64Array(vals.length).fill(7), w = new Float64Array(vals.length).fill(7);
    const n = labelTargets(t, w, vals, vals.length, policy);
    let count = 0;
    vals.forEach((v, i) => {
      const [tt, ww] = want(v, policy);
      assert.is(t[i], tt, `${policy}: target of ${v}`);
      assert.is(w[i], ww, `${policy}: weight of ${v}`);
      count += ww;
    });
    assert.is(n, count);
    assert.is(observedLabels(Float32Array.from({ length: NUM_LABELS }, (_, i) => vals[i % vals.length]), 1, policy),
      Array.from({ length: NUM_LABELS }, (_, i) => want(vals[i % vals.length], policy)[1]).reduce((a, c) => a + c, 0));
    // Only the first n entries are touched.
    const t2 = new Float64Array(3).fill(7), w2 = new Float64Array(3).fill(7);
    assert.is(labelTargets(t2, w2, [1, 1, 1], 2, policy), 2);
    assert.is(t2[2], 7);
  }
  for (const bad of [2, -0.5, 1.0001, -2]) {
    assert.throws(() => labelTargets(new Float64Array(3), new Float64Array(3), [0, bad, 1], 3, 'ignore'), new RegExp(`entry 1: label ${bad} is not`));
  }
});

test('the three label counts agree: model.observedCount, observedLabels and the trainer normalizer', () => {
  const r = rng(9), B = 7, vals = [1, 0, -1, NaN];
  const rows = Int32Array.from([0, 2, 3, 5]);
  // Rows outside the selection are all positive, so a count that strays into a neighbour row shows.
  const labels = Float32Array.from({ length: B * NUM_LABELS }, (_, i) => (rows.includes(Math.floor(i / NUM_LABELS)) ? vals[Math.floor(r() * 4)] : 1));
  const sub = new Float32Array(rows.length * NUM_LABELS);
  rows.forEach((row, i) => sub.set(labels.subarray(row * NUM_LABELS, (row + 1) * NUM_LABELS), i * NUM_LABELS));
  for (const policy of ['ignore', 'ones', 'zeros'] as const) {
    let n = 0;
    for (const v of sub) n += want(v, policy)[1];
    assert.is(observedLabels(sub, rows.length, policy), n, `observedLabels ${policy}`);
    assert.is(observedCount(labels, rows, policy), n, `trainer observedCount ${policy}`);
  }
  assert.ok(observedCount(labels, rows, 'ones') > observedCount(labels, rows, 'ignore'));
  // Evaluation sees only certain labels: -1 and NaN become NaN, 0 and 1 stay.
  const et = evalTargets(labels, rows);
  assert.is(et.length, rows.length * NUM_LABELS);
  et.forEach((v, i) => {
    const src = sub[i];
    if (src === 0 || src === 1) assert.is(v, src);
    else assert.ok(Number.isNaN(v), `evalTargets of ${src} must be NaN`);
  });
});

test('one label rule: the loss, the model count and the trainer normalizer agree on every kind of label (soft labels included)', () => {
  const values = [1, 0, 0.5, 0.25, -1, NaN, 1, 0, 0.75, -1, NaN, 0, 1, 0.5];
  const labels = Float32Array.from(values);
  for (const policy of ['ignore', 'ones', 'zeros'] as const) {
    const t = new Float32Array(14), w = new Float32Array(14);
    const loss = labelTargets(t, w, labels, 14, policy);
    const expected = values.filter((v) => !Number.isNaN(v) && (v !== -1 || policy !== 'ignore')).length;
    assert.is(loss, expected, policy);
    assert.is(observedLabels(labels, 1, policy), expected, `model count, ${policy}`);
    assert.is(observedCount(labels, [0], policy), expected, `trainer normalizer, ${policy}`);
    assert.is(t[2], 0.5, 'a soft label is its own target');
    assert.is(t[4], policy === 'ones' ? 1 : 0);
  }
  assert.throws(() => labelTargets(new Float32Array(1), new Float32Array(1), [2], 1, 'ignore'), /entry 0: label 2 is not 1, 0/);
});

test.run();
