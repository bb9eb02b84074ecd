/**
 * Explanations (issue 27): Shapley values by masking. On a `tiny` model with 8 features (6 numeric, 2
 * categorical) whose parameters are moved off the initialization: efficiency for modalities and features
 * (to float32 rounding), exact values against brute-force enumeration of all k! orders (the value function
 * computed by an independent path: a table holding only the subset's fields, encoded and run alone),
 * sampled against exact within their standard errors, absent inputs get exactly 0, and symmetry of two
 * identical features.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeGrayJpeg } from '../../src/data/index.ts';
import { buildBatch, Predictor } from '../../src/infer/index.ts';
import type { PredictInput, TableInput } from '../../src/infer/index.ts';
import { exactShapley, explainRows, summarizeContributions } from '../../src/infer/explain.ts';
import type { Explanation } from '../../src/infer/explain.ts';
import { presetConfig } from '../../src/model/index.ts';
import type { ModelConfig } from '../../src/model/index.ts';

import { rng } from '../util/harness.ts';
import { createModel } from '../../src/model/index.ts';

const NAMES = ['temperature', 'heartrate', 'pain', 'age', 'x1', 'x2'];
const config: ModelConfig = { ...presetConfig('tiny'), imageSize: 32, numFeatures: 6, catCardinalities: [2, 3] } as ModelConfig;
const metadata = {
  schema: {
    numeric: [
      { name: 'temperature', mean: 37.2, std: 0.8, unit: 'C' }, { name: 'heartrate', mean: 90, std: 18, unit: 'bpm' },
      { name: 'pain', mean: 4, std: 3, unit: '0-10' }, { name: 'age', mean: 60, std: 17, unit: 'years' },
      { name: 'x1', mean: 1, std: 2 }, { name: 'x2', mean: 1, std: 2 },
    ],
    categorical: [{ name: 'gender', vocab: ['F', 'M'] }, { name: 'arrival_transport', vocab: ['AMBULANCE', 'OTHER', 'WALK IN'] }],
  },
  normalization: { pixelMean: 0.4, pixelStd: 0.22, imageSize: 32 },
};

/** A model off its initialization; x1 and x2 share their token parameters (identical features). */
function makePredictor(): Predictor {
  const m = createModel(config, { seed: 3, metadata });
  const p = Float32Array.from(m.paramData());
  const r = rng(21);
  for (let i = 0; i < p.length; i++) p[i] += 0.25 * (2 * r() - 1);
  const d = config.dim;
  for (const name of ['tabular.num.weight', 'tabular.num.bias']) {
    const e = m.layout.find((x) => x.name === name)!;
    p.copyWithin(e.offset + 5 * d, e.offset + 4 * d, e.offset + 5 * d); // x2 := x1
  }
  m.setParams(p);
  return new Predictor(m);
}
const predictor = makePredictor();

const W = 40, H = 44;
const jpeg = encodeGrayJpeg(Uint8Array.from({ length: W * H }, (_, i) => Math.round(128 + 90 * Math.sin(i / 9) * Math.cos(i / 41))), W, H, 90);
const TABLE: TableInput = { temperature: 101.3, heartrate: 128, pain: '7', age: 71, x1: 3.5, x2: -1.25, gender: 'M', arrival_transport: 'AMBULANCE' };

/** float32 rounding of a value of magnitude `m`, a few times over (the sums run in float64 over float32 outputs). */
const f32tol = (m: number): number => 4 * 2 ** -23 * Math.max(1, Math.abs(m));

function logitsOf(input: PredictInput): Float32Array {
  return predictor.model.forward(buildBatch(predictor.spec, [predictor.encode(input)]));
}

test('modalities: base + image + table = full (logit and probability), full is the prediction, probabilities are predict\'s bits', () => {
  const e = predictor.explain({ image: jpeg, table: TABLE });
  const x = e.explanation!;
  const plain = predictor.predict({ image: jpeg, table: TABLE });
  const direct = logitsOf({ image: jpeg, table: TABLE });
  const none = logitsOf({});
  const imageOnly = logitsOf({ image: jpeg });
  predictor.labels.forEach((l, k) => {
    assert.ok(Object.is(e.probabilities[l], plain.probabilities[l]), `${l}: explain's probability is predict's`);
    const m = x.modalities[l];
    assert.ok(Math.abs(m.base + m.image + m.table - m.full) <= f32tol(m.full), `${l}: logit sum ${m.base + m.image + m.table} vs ${m.full}`);
    assert.is(m.full, direct[k], `${l}: full is the prediction's logit`);
    assert.is(m.base, none[k], `${l}: base is the no-input logit`);
    // Two players: image = ((f(I) - f(0)) + (f(IT) - f(T))) / 2.
    const tableOnly = logitsOf({ table: TABLE })[k];
    assert.ok(Math.abs(m.image - 0.5 * (imageOnly[k] - none[k] + direct[k] - tableOnly)) <= f32tol(m.full));
    const p = x.probability[l];
    assert.ok(Math.abs(p.base + p.image + p.table - p.full) <= f32tol(1), `${l}: probability sum`);
    assert.is(p.full, plain.probabilities[l]);
  });
  assert.ok(predictor.labels.some((l) => Math.abs(x.modalities[l].image) > 1e-3) && predictor.labels.some((l) => Math.abs(x.modalities[l].table) > 1e-3), 'both modalities move something');
});

test('features: exact values sum to f(all) - f(none) and equal brute-force enumeration of all 8! orders', () => {
  const x = predictor.explain({ image: jpeg, table: TABLE }).explanation!;
  assert.is(x.features.method, 'exact');
  assert.is(x.features.present.length, 8);
  assert.is(x.rows, 4 + 2 ** 8 - 2);
  assert.is(x.features.image, 'held as given (present)');
  // The value function by an independent path: a table with only the subset's fields, encoded and run alone.
  const fields = x.features.present;
  const k = fields.length;
  const cache = new Map<number, Float32Array>();
  const v = (s: number): Float32Array => {
    let out = cache.get(s);
    if (!out) {
      const t: TableInput = {};
      fields.forEach((f, j) => { if (s & (1 << j)) t[f] = TABLE[f]; });
      out = logitsOf({ image: jpeg, table: t });
      cache.set(s, out);
    }
    return out;
  };
  // Brute force: every order of the k features, the marginal contribution of each feature in it.
  const brute = Array.from({ length: 14 }, () => new Float64Array(k));
  let orders = 0;
  const perm: number[] = [];
  const used = new Array<boolean>(k).fill(false);
  const walk = (): void => {
    if (perm.length === k) {
      orders++;
      let s = 0;
      for (const j of perm) {
        const a = v(s), b = v(s | (1 << j));
        for (let l = 0; l < 14; l++) brute[l][j] += b[l] - a[l];
        s |= 1 << j;
      }
      return;
    }
    for (let j = 0; j < k; j++) if (!used[j]) {
      used[j] = true; perm.push(j); walk(); perm.pop(); used[j] = false;
    }
  };
  walk();
  assert.is(orders, 40320);
  predictor.labels.forEach((l, li) => {
    const f = x.features.findings[l];
    const sum = f.values.reduce((a, b) => a + b.value, 0);
    assert.ok(Math.abs(sum - (f.full - f.base)) <= f32tol(f.full), `${l}: efficiency ${sum} vs ${f.full - f.base}`);
    assert.is(f.base, v(0)[li], `${l}: base is the image-only output`);
    for (const fv of f.values) {
      const j = fields.indexOf(fv.name);
      const want = brute[li][j] / orders;
      assert.ok(Math.abs(fv.value - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${l} ${fv.name}: ${fv.value} vs brute force ${want}`);
      assert.is(fv.se, undefined);
    }
    // Largest |value| first.
    for (let i = 1; i < f.values.length; i++) assert.ok(Math.abs(f.values[i - 1].value) >= Math.abs(f.values[i].value));
  });
  // exactShapley itself on a known game: v(s) = |s|^2 over 3 players gives 3 each (efficiency: 9).
  const phi = exactShapley((s) => { let n = 0; for (let t = s; t; t &= t - 1) n++; return n * n; }, 3);
  assert.equal([...phi].map((p) => Math.round(p * 1e12) / 1e12), [3, 3, 3]);
});

test('features: sampled values (seeded permutations) agree with the exact ones within their standard errors; efficiency holds', () => {
  const exact = predictor.explain({ image: jpeg, table: TABLE }).explanation!;
  const sampled = predictor.explain({ image: jpeg, table: TABLE }, { exactMax: 0, permutations: 1000, seed: 7 }).explanation!;
  assert.is(sampled.features.method, 'permutation');
  assert.is(sampled.features.permutations, 1000);
  assert.is(sampled.features.seed, 7);
  assert.is(sampled.rows, 4 + 1000 * 7);
  let worst = 0, positiveSe = 0;
  for (const l of predictor.labels) {
    const f = sampled.features.findings[l];
    const sum = f.values.reduce((a, b) => a + b.value, 0);
    assert.ok(Math.abs(sum - (f.full - f.base)) <= f32tol(f.full), `${l}: sampled efficiency ${sum} vs ${f.full - f.base}`);
    for (const fv of f.values) {
      const want = exact.features.findings[l].values.find((e) => e.name === fv.name)!.value;
      assert.ok(typeof fv.se === 'number' && fv.se >= 0);
      if (fv.se! > 0) positiveSe++;
      const z = Math.abs(fv.value - want) / (fv.se! + 1e-7);
      worst = Math.max(worst, z);
      assert.ok(z <= 5, `${l} ${fv.name}: sampled ${fv.value} +- ${fv.se}, exact ${want} (${z.toFixed(2)} standard errors)`);
    }
  }
  assert.ok(positiveSe > 50, 'standard errors are not all zero');
  // Same seed, same values; another seed, other values.
  const again = predictor.explain({ image: jpeg, table: TABLE }, { exactMax: 0, permutations: 1000, seed: 7 }).explanation!;
  assert.equal(again.features.findings, sampled.features.findings);
  const other = predictor.explain({ image: jpeg, table: TABLE }, { exactMax: 0, permutations: 1000, seed: 8 }).explanation!;
  assert.not.equal(other.features.findings.Edema.values, sampled.features.findings.Edema.values);
});

test('absent inputs contribute exactly 0: a missing image, a missing table, a feature masked in the study', () => {
  const noImage = predictor.explain({ table: TABLE }).explanation!;
  const noTable = predictor.explain({ image: jpeg }).explanation!;
  const partial = predictor.explain({ image: jpeg, table: { ...TABLE, heartrate: null, gender: '' } }).explanation!;
  for (const l of predictor.labels) {
    assert.is(noImage.modalities[l].image, 0, `${l}: no image, image contribution exactly 0`);
    assert.is(noImage.probability[l].image, 0);
    assert.is(noTable.modalities[l].table, 0, `${l}: no table, table contribution exactly 0`);
    assert.equal(noTable.features.findings[l].values, []);
    assert.equal(partial.features.findings[l].values.map((v) => v.name).sort(), NAMES.filter((n) => n !== 'heartrate').concat('arrival_transport').sort());
  }
  assert.is(noImage.features.image, 'held as given (absent)');
  assert.equal(partial.features.absent, ['heartrate', 'gender']);
  assert.equal(noTable.features.present, []);
  assert.is(noTable.rows, 4);
});

test('symmetry: two identical features with their values swapped get their values swapped', () => {
  const a = predictor.explain({ image: jpeg, table: { ...TABLE, x1: 3.5, x2: -1.25 } }).explanation!;
  const b = predictor.explain({ image: jpeg, table: { ...TABLE, x1: -1.25, x2: 3.5 } }).explanation!;
  const val = (e: Explanation, l: string, n: string): number => e.features.findings[l].values.find((v) => v.name === n)!.value;
  for (const l of predictor.labels) {
    assert.ok(Math.abs(val(a, l, 'x1') - val(b, l, 'x2')) <= 1e-5, `${l}: x1 ${val(a, l, 'x1')} vs swapped x2 ${val(b, l, 'x2')}`);
    assert.ok(Math.abs(val(a, l, 'x2') - val(b, l, 'x1')) <= 1e-5, `${l}: x2 vs swapped x1`);
  }
  assert.ok(predictor.labels.some((l) => Math.abs(val(a, l, 'x1') - val(a, l, 'x2')) > 1e-3), 'the two values differ, so the swap means something');
});

test('options are checked; the plan has the stated rows; summaries average |value| per feature', () => {
  for (const o of [{ exactMax: -1 }, { exactMax: 17 }, { permutations: 3 }, { permutations: 5 }, { seed: -1 }, { exactMax: 1.5 }]) {
    assert.throws(() => explainRows([0, 1], true, o), /explain: /);
  }
  assert.is(explainRows([0, 1, 2], true, { features: false }).rows.length, 4);
  // Bounded work: 100000 permutations of 20 features would be 1.9 million rows.
  assert.throws(() => explainRows(Array.from({ length: 20 }, (_, i) => i), true, { permutations: 100000 }), /explain: 100000 permutations of 20 features take 1900004 forward rows, more than the 1048576 allowed/);
  assert.is(explainRows(Array.from({ length: 20 }, (_, i) => i), true, { permutations: 12 }).rows.length, 4 + 12 * 19);
  const e1 = predictor.explain({ image: jpeg, table: TABLE }).explanation!;
  const e2 = predictor.explain({ table: { age: 30 } }).explanation!;
  const s = summarizeContributions([e1, e2], predictor.labels);
  assert.is(s.features.age.count, 2);
  assert.is(s.features.temperature.count, 1);
  const ageE1 = Math.abs(e1.features.findings.Edema.values.find((v) => v.name === 'age')!.value);
  const ageE2 = Math.abs(e2.features.findings.Edema.values.find((v) => v.name === 'age')!.value);
  assert.ok(Math.abs(s.features.age.meanAbs.Edema - (ageE1 + ageE2) / 2) < 1e-12);
  assert.is(s.modalityShare['image+table'].count, 1);
  assert.is(s.modalityShare['table only'].count, 1);
  assert.is(s.modalityShare['table only'].table.Edema, 1, 'no image: the table has the whole share');
  // A prepared batch's row gives the same explanation as the raw input.
  const batch = buildBatch(predictor.spec, [predictor.encode({ table: { age: 30 } }), predictor.encode({ image: jpeg, table: TABLE })]);
  assert.equal(predictor.explainRow(batch, 1), e1);
  assert.equal(predictor.explainRow(batch, 0), e2);
  assert.throws(() => predictor.explainRow(batch, 2), /row 2 is not in a batch of 2/);
});

test.run();
