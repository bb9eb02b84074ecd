import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Batch } from '../../src/engine/index.ts';
import { applyDropout, injectMissing, injectedMissing } from '../../src/train/missing.ts';
import { permutation, uniform } from '../../src/train/random.ts';
import { learningRate } from '../../src/train/schedule.ts';
import { SAVE_MINUTES, saveDue } from '../../src/train/loop.ts';
import { TRAIN_DEFAULTS, TRAIN_OPTIONS, applyOverrides, helpText, parseFlags } from '../../src/train/config.ts';
import { cutUnits } from '../../src/train/batching.ts';

function batch(B: number, Fn: number, Fc: number, fill: (i: number) => { img: boolean; tab: boolean }): Batch {
  const b: Batch = {
    B, S: 2, image: new Float32Array(B * 4), hasImage: new Uint8Array(B),
    num: new Float32Array(B * Fn), numPresent: new Uint8Array(B * Fn), cat: new Int32Array(B * Fc), catPresent: new Uint8Array(B * Fc),
    labels: new Float32Array(B * 14),
  };
  for (let i = 0; i < B; i++) {
    const f = fill(i);
    b.hasImage[i] = f.img ? 1 : 0;
    if (f.tab) { b.numPresent.fill(1, i * Fn, (i + 1) * Fn); b.catPresent.fill(1, i * Fc, (i + 1) * Fc); }
  }
  return b;
}
const ids = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
const hasTab = (b: Batch, i: number, Fn: number, Fc: number) =>
  b.numPresent.subarray(i * Fn, (i + 1) * Fn).some((v) => v) || b.catPresent.subarray(i * Fc, (i + 1) * Fc).some((v) => v);

test('uniform draws are deterministic, in [0,1) and roughly uniform', () => {
  assert.is(uniform(1, 2, 3), uniform(1, 2, 3));
  assert.is.not(uniform(1, 2, 3), uniform(1, 2, 4));
  let s = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) { const u = uniform(5, 9, i); assert.ok(u >= 0 && u < 1); s += u; }
  assert.ok(Math.abs(s / n - 0.5) < 0.01);
  const p = permutation(100, 3, 1);
  assert.equal([...p].sort((a, b) => a - b), [...Array(100).keys()]);
  assert.equal(p, permutation(100, 3, 1));
  assert.not.equal(p, permutation(100, 3, 2));
});

test('modality dropout never removes every modality, and its rates are right', () => {
  const B = 20000, Fn = 3, Fc = 1;
  const b = batch(B, Fn, Fc, (i) => ({ img: i % 4 !== 3, tab: i % 4 !== 2 }));
  // i%4: 0,1 both; 2 image only; 3 table only.
  const r = applyDropout(b, ids(B), 11, 0, { image: 0.3, tab: 0.2, feature: 0 });
  let both = 0, lostImg = 0, lostTab = 0;
  for (let i = 0; i < B; i++) {
    const img = b.hasImage[i] === 1, tab = hasTab(b, i, Fn, Fc);
    assert.ok(img || tab, `sample ${i} lost every modality`);
    if (i % 4 === 2) assert.ok(img && !tab, 'an image-only sample keeps its image');
    if (i % 4 === 3) assert.ok(!img && tab, 'a table-only sample keeps its table');
    if (i % 4 < 2) { both++; if (!img) lostImg++; if (!tab) lostTab++; }
  }
  assert.is(r.image, lostImg);
  assert.is(r.tab, lostTab);
  assert.ok(Math.abs(lostImg / both - 0.3) < 0.015, `image dropout rate ${lostImg / both}`);
  assert.ok(Math.abs(lostTab / both - 0.2) < 0.015, `table dropout rate ${lostTab / both}`);
});

test('feature dropout masks at its rate, never leaves a sample empty, and depends on the step', () => {
  const B = 5000, Fn = 4, Fc = 2;
  const b = batch(B, Fn, Fc, (i) => ({ img: i % 2 === 0, tab: true }));
  applyDropout(b, ids(B), 3, 7, { image: 0, tab: 0, feature: 0.5 });
  let masked = 0, total = 0;
  for (let i = 0; i < B; i++) {
    assert.ok(b.hasImage[i] === 1 || hasTab(b, i, Fn, Fc), `sample ${i} left empty`);
    if (i % 2 === 0) for (let f = 0; f < Fn; f++) { total++; if (!b.numPresent[i * Fn + f]) masked++; }
  }
  assert.ok(Math.abs(masked / total - 0.5) < 0.03, `feature dropout rate ${masked / total}`);
  const c = batch(B, Fn, Fc, (i) => ({ img: i % 2 === 0, tab: true }));
  applyDropout(c, ids(B), 3, 8, { image: 0, tab: 0, feature: 0.5 });
  assert.not.equal(Array.from(b.numPresent), Array.from(c.numPresent));
});

test('injected missingness: rate right, nested across rates, 0 and 1 exact', () => {
  const n = 20000;
  let prev = new Set<number>();
  for (const r of [0, 0.1, 0.25, 0.5, 0.9, 1]) {
    const cur = new Set<number>();
    for (let i = 0; i < n; i++) if (injectedMissing(4, 'image', i, r)) cur.add(i);
    for (const i of prev) assert.ok(cur.has(i), `rate ${r}: sample ${i} missing at a lower rate is present`);
    assert.ok(Math.abs(cur.size / n - r) < 0.01, `rate ${r}: got ${cur.size / n}`);
    prev = cur;
  }
  assert.is(prev.size, n);
  const b = batch(10, 2, 0, () => ({ img: true, tab: true }));
  injectMissing(b, ids(10), 4, 1, 1);
  assert.ok(b.hasImage.every((v) => v === 0) && b.numPresent.every((v) => v === 0));
});

test('learning rate: warmup then cosine to the minimum', () => {
  assert.ok(Math.abs(learningRate(0, 100, 1, 10, 0) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(9, 100, 1, 10, 0) - 1) < 1e-12);
  assert.ok(Math.abs(learningRate(10, 100, 1, 10, 0) - 1) < 1e-12);
  assert.ok(Math.abs(learningRate(99, 100, 1, 10, 0.01) - 0.01) < 1e-12);
  for (let t = 11; t < 100; t++) assert.ok(learningRate(t, 100, 1, 10, 0) <= learningRate(t - 1, 100, 1, 10, 0));
});

test('config: flags and JSON overrides are type-checked; unknown keys are errors', () => {
  const { overrides } = parseFlags(['--drop-image', '0.2', '--preset', 'tiny', '--strict', '--threads=2']);
  const c = applyOverrides(TRAIN_DEFAULTS, overrides, 'cli');
  assert.is(c.dropImage, 0.2);
  assert.is(c.preset, 'tiny');
  assert.is(c.strict, true);
  assert.is(c.threads, 2);
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { dropImag: 0.2 }, 'cli'), /unknown option 'dropImag'/);
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { epochs: 'ten' }, 'cli'), /expects a number/);
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { preset: 'huge' }, 'cli'), /must be one of/);
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { strict: 'yes' }, 'x.json'), /x\.json.*true or false/);
});

test('units: micro-batches of fixed size, contiguous, the last one shorter', () => {
  const rows = Int32Array.from({ length: 10 }, (_, i) => i);
  const c = cutUnits(rows, 4);
  assert.equal(c.map((x) => x.length), [4, 4, 2]);
  assert.equal(c.flatMap((x) => [...x]), [...rows]);
  assert.is(cutUnits(rows.subarray(0, 2), 4).length, 1);
  assert.is(cutUnits(rows.subarray(0, 0), 4).length, 0);
  assert.throws(() => cutUnits(rows, 0), /micro-batch must be a positive integer, got 0/);
});

test('--help lists every option with its default and a doc line', () => {
  for (const [k, d] of Object.entries(TRAIN_OPTIONS)) assert.ok(d.doc.length > 5, `option ${k} has no doc line`);
  const text = helpText();
  assert.is(text.split('\n').filter((l) => l.startsWith('  --')).length, Object.keys(TRAIN_DEFAULTS).length);
  assert.ok(text.includes('--drop-image 0.15'));
});

test('saves inside an epoch: every N steps with --save-every N, else once SAVE_MINUTES have passed since the last save', () => {
  for (let step = 1; step <= 12; step++) assert.is(saveDue(4, step, 0, 1e12), step % 4 === 0, `--save-every 4, step ${step}`);
  const min = SAVE_MINUTES * 60_000, last = 1_000_000;
  assert.not.ok(saveDue(0, 7, last, last), 'just saved');
  assert.not.ok(saveDue(0, 7, last, last + min - 1), 'a millisecond early');
  assert.ok(saveDue(0, 7, last, last + min), `after ${SAVE_MINUTES} minutes`);
  assert.ok(saveDue(0, 7, last, last + 3 * min));
});

test.run();
