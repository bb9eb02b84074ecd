/**
 * Missingness injection, modality dropout and feature dropout as behaviour: each decision checked against
 * its documented rule (src/train/missing.ts) drawn from its own random stream, the counters, the guards,
 * the imputation of the early-fusion baseline, and end to end: the availability flags the trainer stores
 * with its test predictions say what the model was actually given (a tabular flag drawn from the image
 * stream fails here).
 *
 * Mutants of scripts/mutate.ts argued equivalent (lines at commit 2f9718b):
 *   src/train/missing.ts:22:12 `rate <= 0` -> `< 0`: at rate 0 the draw decides `u < 0`, false for every u in [0, 1).
 *   src/train/missing.ts:23:12 `rate >= 1` -> `> 1`: at rate 1 the draw decides `u < 1`, true for every u in [0, 1).
 *   src/train/missing.ts:55:21 `i < b.B` -> `<=`: sample B is past every array of the batch (typed arrays and views ignore the writes).
 *   src/train/missing.ts:72:38 `r.image > 0` -> `>=` and 72:51 `r.tab > 0` -> `>=`: the guard only skips a draw; with both rates 0
 *                   the draw drops nothing (u < 0 is false), and draws are counter-based, so skipping one changes no other.
 *   src/train/missing.ts:101:43 (imputeBatch) `b.num.length / b.B` -> `*`: sample 0's loop then walks every sample's numeric
 *                   features (same writes), and the other samples' loops fall past the arrays' ends.
 *   src/train/missing.ts:107:23 (imputeBatch) `f < Fn` -> `<=`: the extra step imputes the next sample's first numeric feature
 *                   early with the same value 0 (or falls past the array's end).
 *   src/train/random.ts:29:9 `init: 6` -> `0`: no code draws from Stream.init (it is unused), and 0 is still distinct.
 *   src/train/random.ts:35:25 `i > 0` -> `>=`: the extra step swaps p[0] with itself (j = floor(u * 1) = 0).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Batch } from '../../src/engine/index.ts';
import { NUM_LABELS } from '../../src/engine/index.ts';
// Internal today: the trainer's missingness and its counter-based randomness, from the modules that export them.
import { applyDropout, imputeBatch, injectMissing, injectedMissing } from '../../src/train/missing.ts';
import { Stream, permutation, uniform } from '../../src/train/random.ts';
import { generateSynthetic } from '../../src/data/index.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../../src/train/config.ts';
import { train } from '../../src/train/trainer.ts';
import { testPointPredictions } from '../../src/train/evaluation.ts';
import type { TestPointOutputs } from '../../src/train/evaluation.ts';

const Fn = 3, Fc = 2;

/** B samples, all with an image and every feature, ids 1000 + i unless given. */
function full(B: number): Batch {
  return {
    B, S: 2, image: new Float32Array(B * 4).fill(0.5), hasImage: new Uint8Array(B).fill(1),
    num: Float32Array.from({ length: B * Fn }, (_, i) => i), numPresent: new Uint8Array(B * Fn).fill(1),
    cat: Int32Array.from({ length: B * Fc }, (_, i) => i % 3), catPresent: new Uint8Array(B * Fc).fill(1),
    labels: new Float32Array(B * NUM_LABELS),
  };
}
const ids = (B: number) => Int32Array.from({ length: B }, (_, i) => 1000 + 7 * i);
const hasTab = (b: Batch, i: number) => b.numPresent.subarray(i * Fn, (i + 1) * Fn).some((v) => v) || b.catPresent.subarray(i * Fc, (i + 1) * Fc).some((v) => v);

test('the counter-based draws are pinned (same seed, same bits across versions) and depend on every key', () => {
  // Checkpoints, resumes and the protocols' paired injections rely on these exact values.
  assert.is(uniform(0), 0.5733975800685585);
  assert.is(uniform(7, 1, 2), 0.8933031400665641);
  assert.is(uniform(7, 2, 1), 0.3729554445017129);
  assert.is(uniform(-1, 0), uniform(0xffffffff, 0));
  assert.is.not(uniform(1, 5), uniform(2, 5));
  assert.is.not(uniform(1, 5), uniform(1, 6));
  assert.is.not(uniform(1, 5, 0), uniform(1, 5));
  assert.equal(new Set(Object.values(Stream)).size, Object.keys(Stream).length, 'streams are distinct');
  const p = permutation(50, 3, 1);
  assert.equal([...p].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assert.equal([...permutation(6, 3, 1)], [...permutation(6, 3, 1)]);
  assert.is.not([...permutation(50, 3, 2)].join(), [...p].join());
  assert.is.not([...permutation(50, 4, 1)].join(), [...p].join());
  assert.equal([...permutation(8, 3, 1)], [0, 4, 5, 7, 1, 6, 2, 3]);
  assert.equal([...permutation(1, 3, 1)], [0]);
  // Every position is reachable, the last one included (an off-by-one in j would never move it there).
  const seen = new Set<number>();
  for (let e = 0; e < 200; e++) seen.add(permutation(4, 9, e)[3]);
  assert.is(seen.size, 4);
  // The last swap (i = 1) happens too: two elements come out in both orders.
  const firsts = new Set<number>();
  for (let e = 0; e < 50; e++) firsts.add(permutation(2, 9, e)[0]);
  assert.is(firsts.size, 2);
});

test('injection: each modality its own stream, exactly u < rate, by sample id, 0 and 1 exact', () => {
  let both = 0, img = 0, tab = 0;
  const N = 4000;
  for (let id = 0; id < N; id++) {
    const i = injectedMissing(11, 'image', id, 0.5), t = injectedMissing(11, 'tab', id, 0.5);
    assert.is(i, uniform(11, Stream.missImage, id) < 0.5);
    assert.is(t, uniform(11, Stream.missTab, id) < 0.5);
    img += +i; tab += +t; both += +(i && t);
    assert.is(injectedMissing(11, 'image', id, 0), false);
    assert.is(injectedMissing(11, 'tab', id, 1), true);
  }
  // Independent streams: about a quarter lose both (the same stream would make it a half).
  assert.ok(Math.abs(both / N - 0.25) < 0.03, `both missing ${both / N}`);
  assert.ok(Math.abs(img / N - 0.5) < 0.03 && Math.abs(tab / N - 0.5) < 0.03);
  // The boundary: u exactly equal to the rate keeps the modality.
  const u = uniform(11, Stream.missTab, 5);
  assert.is(injectedMissing(11, 'tab', 5, u), false);
  assert.is(injectedMissing(11, 'tab', 5, Math.min(0.999999, u + 1e-12)), true);
  assert.is(injectedMissing(11, 'image', 5, -0.5), false);
  assert.is(injectedMissing(11, 'image', 5, 1.5), true);

  const b = full(40), id = ids(40);
  injectMissing(b, id, 11, 0.3, 0.6);
  for (let i = 0; i < 40; i++) {
    assert.is(b.hasImage[i], injectedMissing(11, 'image', id[i], 0.3) ? 0 : 1, `image of sample ${i}`);
    const lost = injectedMissing(11, 'tab', id[i], 0.6);
    for (let f = 0; f < Fn; f++) assert.is(b.numPresent[i * Fn + f], lost ? 0 : 1, `num ${i},${f}`);
    for (let f = 0; f < Fc; f++) assert.is(b.catPresent[i * Fc + f], lost ? 0 : 1, `cat ${i},${f}`);
  }
  // Values and labels are untouched: only the presence flags change.
  assert.equal(b.num, full(40).num);
});

test('modality dropout: image when u < p_image, table when p_image <= u < p_image + p_tab, counted; one modality kept', () => {
  const B = 400, id = ids(B), r = { image: 0.3, tab: 0.25, feature: 0 };
  const b = full(B);
  // Sample 0 has no image, sample 1 no table: they keep what they have.
  b.hasImage[0] = 0;
  b.numPresent.fill(0, Fn, 2 * Fn);
  b.catPresent.fill(0, Fc, 2 * Fc);
  const got = applyDropout(b, id, 5, 9, r);
  let wi = 0, wt = 0;
  for (let i = 0; i < B; i++) {
    if (i < 2) {
      assert.is(b.hasImage[i], i === 0 ? 0 : 1);
      assert.is(hasTab(b, i), i === 0);
      continue;
    }
    const u = uniform(5, Stream.dropModality, 9, id[i]);
    const dropImg = u < r.image, dropTab = !dropImg && u < r.image + r.tab;
    wi += +dropImg; wt += +dropTab;
    assert.is(b.hasImage[i], dropImg ? 0 : 1, `image of ${i} (u ${u})`);
    assert.is(hasTab(b, i), !dropTab, `table of ${i} (u ${u})`);
    if (dropTab) assert.ok(b.catPresent.subarray(i * Fc, (i + 1) * Fc).every((v) => v === 0), 'a dropped table loses its categorical features too');
  }
  assert.equal(got, { image: wi, tab: wt });
  assert.ok(wi > 80 && wt > 60, `counts ${wi}, ${wt}`);
  // Another step draws again; rates 0 change nothing.
  const c = full(B);
  applyDropout(c, id, 5, 10, r);
  assert.is.not([...c.hasImage].join(), [...b.hasImage].join());
  const z = full(B);
  assert.equal(applyDropout(z, id, 5, 9, { image: 0, tab: 0, feature: 0 }), { image: 0, tab: 0 });
  assert.equal(z, full(B));
  // One rate alone still drops (the draw is not skipped when the other rate is 0).
  for (const only of [{ image: 0.5, tab: 0, feature: 0 }, { image: 0, tab: 0.5, feature: 0 }]) {
    const x = full(100), n = applyDropout(x, ids(100), 5, 9, only);
    assert.ok(only.image ? n.image > 25 && n.tab === 0 : n.tab > 25 && n.image === 0, `rates ${JSON.stringify(only)} dropped ${JSON.stringify(n)}`);
  }
  // Exact boundaries: u equal to p_image keeps the image; u equal to p_image + p_tab keeps the table.
  const u0 = uniform(5, Stream.dropModality, 9, id[0]);
  const e1 = full(1);
  assert.equal(applyDropout(e1, id, 5, 9, { image: u0, tab: 0, feature: 0 }), { image: 0, tab: 0 });
  const e2 = full(1);
  assert.equal(applyDropout(e2, id, 5, 9, { image: u0 / 2, tab: u0 / 2, feature: 0 }), { image: 0, tab: 0 });
  assert.ok(u0 / 2 + u0 / 2 === u0);
  const e3 = full(1);
  assert.equal(applyDropout(e3, id, 5, 9, { image: u0 / 2, tab: u0, feature: 0 }), { image: 0, tab: 1 });
  // p_image + p_tab = 1: every complete sample loses exactly one modality.
  const one = full(50);
  const n = applyDropout(one, ids(50), 5, 9, { image: 0.5, tab: 0.5, feature: 0 });
  assert.is(n.image + n.tab, 50);
  for (let i = 0; i < 50; i++) assert.ok(one.hasImage[i] !== (hasTab(one, i) ? 1 : 0));
});

test('feature dropout: each present feature masked when its own u < p; an image-less sample keeps its first dropped feature', () => {
  const B = 60, id = ids(B), p = 0.5;
  const b = full(B);
  for (let i = 0; i < B; i += 2) b.hasImage[i] = 0; // even samples: table only
  b.numPresent[3 * Fn + 1] = 0; // an absent feature is never "kept" back
  const before = full(B);
  before.hasImage.set(b.hasImage);
  before.numPresent.set(b.numPresent);
  assert.equal(applyDropout(b, id, 8, 2, { image: 0, tab: 0, feature: p }), { image: 0, tab: 0 });
  let rescued = 0;
  for (let i = 0; i < B; i++) {
    const drop: boolean[] = [];
    for (let f = 0; f < Fn + Fc; f++) {
      const present = f < Fn ? before.numPresent[i * Fn + f] : before.catPresent[i * Fc + f - Fn];
      drop.push(!!present && uniform(8, Stream.dropFeature, 2, id[i], f) < p);
    }
    const left = drop.filter((d, f) => !d && (f < Fn ? before.numPresent[i * Fn + f] : 1)).length;
    const rescue = b.hasImage[i] === 0 && left === 0 ? drop.indexOf(true) : -1;
    if (rescue >= 0) rescued++;
    for (let f = 0; f < Fn + Fc; f++) {
      const was = f < Fn ? before.numPresent[i * Fn + f] : before.catPresent[i * Fc + f - Fn];
      const now = f < Fn ? b.numPresent[i * Fn + f] : b.catPresent[i * Fc + f - Fn];
      assert.is(now, was && (!drop[f] || f === rescue) ? 1 : 0, `sample ${i} feature ${f}`);
    }
    assert.is(b.hasImage[i], before.hasImage[i]);
  }
  assert.ok(rescued > 0, 'some image-less sample needed its feature kept back');
  // Rate 1: an image-less sample keeps exactly one feature (the first present), one with an image none.
  const all = full(4);
  all.hasImage[0] = 0;
  all.numPresent[0] = 0;
  applyDropout(all, ids(4), 8, 2, { image: 0, tab: 0, feature: 1 });
  assert.equal([...all.numPresent.subarray(0, Fn), ...all.catPresent.subarray(0, Fc)], [0, 1, 0, 0, 0]);
  assert.ok(!hasTab(all, 1));
  // The first feature of the first sample (flat index 0) is kept back too, not a later one.
  const first = full(1);
  first.hasImage[0] = 0;
  applyDropout(first, ids(1), 8, 2, { image: 0, tab: 0, feature: 1 });
  assert.equal([...first.numPresent, ...first.catPresent], [1, 0, 0, 0, 0]);
  // A feature exactly at its draw is kept (u < p drops).
  const fu = uniform(8, Stream.dropFeature, 2, 1000, 0), at = full(1);
  applyDropout(at, ids(1), 8, 2, { image: 0, tab: 0, feature: fu });
  assert.is(at.numPresent[0], 1);
  // Feature dropout does not touch a sample whose table modality dropout removed.
  const md = full(30);
  applyDropout(md, ids(30), 8, 3, { image: 0, tab: 1, feature: 1 });
  for (let i = 0; i < 30; i++) assert.ok(md.hasImage[i] === 1 && !hasTab(md, i));
});

test('dropout rates are checked at their bounds (by the option schema, wherever a config enters)', () => {
  const at = (over: Record<string, unknown>) => applyOverrides(TRAIN_DEFAULTS, over, 'x.json');
  at({ dropImage: 0, dropTab: 0, dropFeature: 0 });
  at({ dropImage: 1, dropTab: 0, dropFeature: 1 });
  at({ dropImage: 0.5, dropTab: 0.5, dropFeature: 0.2 });
  assert.throws(() => at({ dropImage: 0.6, dropTab: 0.5 }), /x\.json: dropImage 0\.6 \+ x\.json: dropTab 0\.5 must be at most 1/);
  assert.throws(() => at({ dropImage: -0.01 }), /x\.json: option 'dropImage' expects a number in \[0, 1\], got -0\.01/);
  assert.throws(() => at({ dropTab: 1.01 }), /option 'dropTab' expects a number in \[0, 1\]/);
  assert.throws(() => at({ dropFeature: NaN }), /option 'dropFeature' expects a number, got NaN/);
});

test('imputation (early-fusion baseline): missing image -> mean image, numeric -> 0, categorical -> mode; present kept', () => {
  const b = full(3);
  b.hasImage[1] = 0;
  b.numPresent[0 * Fn + 2] = 0;
  b.catPresent[2 * Fc + 1] = 0;
  b.numPresent[1 * Fn + 0] = 0;
  b.catPresent[1 * Fc + 0] = 0;
  const mean = Float32Array.from([9, 8, 7, 6]), modes = Int32Array.from([4, 5]);
  const ref = full(3);
  imputeBatch(b, mean, modes);
  assert.equal([...b.image.subarray(4, 8)], [9, 8, 7, 6]);
  assert.equal(b.image.subarray(0, 4), ref.image.subarray(0, 4));
  assert.equal(b.image.subarray(8, 12), ref.image.subarray(8, 12));
  assert.equal([...b.hasImage], [1, 1, 1]);
  assert.is(b.num[2], 0);
  assert.is(b.num[Fn], 0);
  assert.equal([...b.num].filter((_, i) => i !== 2 && i !== Fn), [...ref.num].filter((_, i) => i !== 2 && i !== Fn));
  assert.is(b.cat[2 * Fc + 1], 5);
  assert.is(b.cat[Fc], 4);
  assert.equal([...b.cat].filter((_, i) => i !== 2 * Fc + 1 && i !== Fc), [...ref.cat].filter((_, i) => i !== 2 * Fc + 1 && i !== Fc));
  assert.ok(b.numPresent.every((v) => v === 1) && b.catPresent.every((v) => v === 1));
});

test('trainer: the availability flags stored with test predictions are what the model was given', async () => {
  const root = mkdtempSync(join(tmpdir(), 'rf-behaviour-'));
  try {
    const data = join(root, 'data');
    await generateSynthetic({ out: data, patients: 400, seed: 5, imageSize: 32 });
    const cfg = applyOverrides(TRAIN_DEFAULTS, { data, out: join(root, 'runs'), name: 'r', preset: 'tiny', epochs: 1, threads: 1, progress: 'none', seed: 3 }, 'test');
    const points = [{ missImage: 0, missTab: 0 }, { missImage: 0, missTab: 0.5 }, { missImage: 0.5, missTab: 0 }];
    let outs: TestPointOutputs | undefined;
    await train(cfg, { log: () => {}, afterTest: async (ctx) => { outs = await testPointPredictions(ctx, points); } });
    const [base, noTab, noImg] = outs!.predictions;
    const n = base.hasImage.length;
    assert.ok(n > 20, `${n} test samples`);
    // Tabular injection leaves images alone and vice versa; flags only ever go from 1 to 0.
    assert.equal(noTab.hasImage, base.hasImage);
    assert.equal(noImg.hasTab, base.hasTab);
    let tabLost = 0, imgLost = 0;
    for (let i = 0; i < n; i++) {
      const row = (a: Float32Array) => a.subarray(i * NUM_LABELS, (i + 1) * NUM_LABELS);
      const same = (a: Float32Array) => row(a).every((v, j) => v === row(base.probs)[j]);
      assert.ok(noTab.hasTab[i] <= base.hasTab[i] && noImg.hasImage[i] <= base.hasImage[i]);
      // A sample whose flag says it kept its table (image) got exactly the inputs of rate 0: same probabilities.
      // One whose flag says it lost it got other inputs: other probabilities.
      if (base.hasTab[i]) {
        assert.is(same(noTab.probs), noTab.hasTab[i] === 1, `test sample ${i}: tabular flag ${noTab.hasTab[i]} disagrees with its predictions`);
        tabLost += 1 - noTab.hasTab[i];
      } else assert.ok(same(noTab.probs));
      if (base.hasImage[i]) {
        assert.is(same(noImg.probs), noImg.hasImage[i] === 1, `test sample ${i}: image flag ${noImg.hasImage[i]} disagrees with its predictions`);
        imgLost += 1 - noImg.hasImage[i];
      } else assert.ok(same(noImg.probs));
    }
    assert.ok(tabLost > 3 && imgLost > 3, `injection removed ${tabLost} tables and ${imgLost} images`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
