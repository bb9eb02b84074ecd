/**
 * The checkpoint's thresholds and temperatures (the contract in docs/design.md): InferenceSpec reads them as
 * hostile input, the Predictor applies the temperatures and gives calls at the thresholds, and predict's
 * JSON and CSV carry the calls.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { calibrateProbabilities } from '../../src/eval/calibration.ts';
import { LABEL_NAMES } from '../../src/engine/batch.ts';
import { inferenceSpec, Predictor, singleRecord, toCsv } from '../../src/infer/index.ts';
import { presetConfig } from '../../src/model/index.ts';
import type { ModelConfig } from '../../src/model/index.ts';

import { rng } from '../util/harness.ts';
import { createModel } from '../../src/model/index.ts';

const config: ModelConfig = { ...presetConfig('tiny'), numFeatures: 0, catCardinalities: [] };
const norm = { pixelMean: 0.5, pixelStd: 0.25, imageSize: config.imageSize };
const temps = LABEL_NAMES.map((_, k) => 0.5 + k * 0.25);
const thr = LABEL_NAMES.map((_, k) => (k % 3) / 3 + 0.1);
const good = {
  normalization: norm,
  thresholds: { values: thr, rule: 'max F1 on validation', split: 'validation' },
  calibration: { method: 'temperature', temperatures: temps },
};

function rejects(meta: Record<string, unknown>, re: RegExp): void {
  assert.throws(() => inferenceSpec(config, meta), re);
}

test('inferenceSpec: thresholds and temperatures read, absent in old checkpoints', () => {
  const s = inferenceSpec(config, good);
  assert.equal(s.thresholds, thr);
  assert.equal(s.temperatures, temps);
  const old = inferenceSpec(config, { normalization: norm });
  assert.is(old.thresholds, undefined);
  assert.is(old.temperatures, undefined);
});

test('inferenceSpec: hostile thresholds and calibration entries fail naming the entry', () => {
  const t = (over: Record<string, unknown>) => ({ ...good, thresholds: { ...good.thresholds, ...over } });
  const c = (over: Record<string, unknown>) => ({ ...good, calibration: { ...good.calibration, ...over } });
  rejects({ ...good, thresholds: [0.5] }, /'thresholds' is not an object/);
  rejects(t({ values: thr.slice(1) }), /thresholds\.values has 13 values, the model has 14 labels/);
  rejects(t({ values: thr.map((v, k) => (k === 3 ? '0.5' : v)) }), /thresholds\.values\[3\] \(Edema\) "0\.5" is not a probability/);
  rejects(t({ values: thr.map((v, k) => (k === 2 ? 1.5 : v)) }), /thresholds\.values\[2\] .* 1\.5 is not a probability in \[0, 1\]/);
  rejects(t({ values: thr.map((v, k) => (k === 0 ? null : v)) }), /thresholds\.values\[0\] \(Atelectasis\) null/);
  rejects(t({ split: 'test' }), /thresholds\.split "test" is not 'validation'/);
  rejects(t({ rule: 7 }), /thresholds\.rule is not a string/);
  rejects(t({ values: 'x' }), /thresholds\.values is not a list of 14 numbers/);
  rejects({ ...good, calibration: 'temperature' }, /'calibration' is not an object/);
  rejects(c({ method: 'platt' }), /calibration\.method "platt" is not 'temperature'/);
  rejects(c({ temperatures: temps.map((v, k) => (k === 13 ? 0 : v)) }), /calibration\.temperatures\[13\] \(Support Devices\) 0 is not a temperature/);
  rejects(c({ temperatures: temps.map((v, k) => (k === 1 ? -2 : v)) }), /calibration\.temperatures\[1\] .* -2/);
  rejects(c({ temperatures: temps.map((v, k) => (k === 1 ? 1e9 : v)) }), /calibration\.temperatures\[1\] .* 1000000000 is not a temperature in \(0, 1000\]/);
  rejects(c({ temperatures: [] }), /calibration\.temperatures has 0 values/);
});

test('Predictor: temperatures applied, calls at the thresholds, `calibrated` says which; JSON and CSV carry the calls', () => {
  const m = createModel(config, { backend: 'reference', seed: 3, metadata: good });
  const p = Float32Array.from(m.paramData());
  const r = rng(5);
  for (let i = 0; i < p.length; i++) p[i] += 0.3 * (2 * r() - 1);
  m.setParams(p);
  const plain = createModel(config, { backend: 'reference', seed: 3, metadata: { normalization: norm } });
  plain.setParams(p);
  const S = config.imageSize, img = { width: S, height: S, channels: 1 as const, data: Uint8Array.from({ length: S * S }, (_, i) => (i * 37) % 256) };
  const raw = new Predictor(plain).predict({ image: img });
  assert.is(raw.calibrated, false);
  assert.is(raw.calls, undefined);
  const cal = new Predictor(m).predict({ image: img });
  assert.is(cal.calibrated, true);
  const want = calibrateProbabilities(Float32Array.from(LABEL_NAMES, (l) => raw.probabilities[l]), temps);
  LABEL_NAMES.forEach((l, k) => {
    assert.is(cal.probabilities[l], want[k], `${l}: calibrated probability`);
    assert.is(cal.calls![l], want[k] >= thr[k], `${l}: call`);
  });
  // The calls are not all alike, so the test means something.
  const calls = Object.values(cal.calls!);
  assert.ok(calls.includes(true) && calls.includes(false), `calls ${calls}`);
  const rec = singleRecord(cal, 'x.jpg');
  assert.equal(rec.calls, cal.calls);
  const csv = toCsv({ model: 'm', labels: [...LABEL_NAMES], calibrated: true, predictions: [rec] }).split('\n');
  const head = csv[0].split(','), row = csv[1].split(',');
  LABEL_NAMES.forEach((l, k) => assert.is(row[head.indexOf(`call: ${l}`)], cal.calls![l] ? '1' : '0', `CSV call of ${l} (${k})`));
  assert.not.ok(toCsv({ model: 'm', labels: [...LABEL_NAMES], predictions: [singleRecord(raw)] }).includes('call:'));
});

test.run();
