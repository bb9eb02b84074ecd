import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  brier, calibrateProbabilities, calibration, calibrationIntercept, calibrationSlope, ece, fitTemperature, fitTemperatures, logit, nll,
  reliabilityBins,
} from '../../src/eval/calibration.ts';
import { auprc, auroc } from '../../src/eval/metrics.ts';
import { mulberry32 } from '../../src/engine/rng.ts';

const near = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (tol ${tol})`);

// A fixed vector of 18 observed entries (plus unobserved ones that every function must skip).
const P = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.35, 0.55, 0.15, 0.95, 0.05, 0.5, 0.65, 0.25, 0.45, 0.85];
const Y = [0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1];
const PX = [...P, 0.99, 0.01, 0.7];
const YX = [...Y, NaN, -1, NaN];

/*
 * Expected values, derived from the definitions with an independent script (/usr/bin/python3, plain floats):
 *   brier = sum((p - y)^2) / 18
 *   ece: order = indices sorted by (p, index); bin b = ranks floor(18 b / 15) .. floor(18 (b+1) / 15) - 1
 *        (sizes 1,1,1,1,2,1,1,1,1,2,1,1,1,1,2); ece = sum_b n_b / 18 * |mean y_b - mean p_b|
 *   intercept: the root a of sum(y - sigmoid(a + logit p)) = 0, by bisection on [-10, 10] (200 halvings)
 *   slope: b solving sum((y - sigmoid(a(b) + b logit p)) logit p) = 0 by bisection on [0.01, 10], where a(b)
 *          solves sum(y - sigmoid(a + b logit p)) = 0 by bisection (the profile score equations of the
 *          two-parameter maximum likelihood); the two-parameter intercept is a(slope)
 *   temperature: golden-section search of mean NLL(sigmoid(logit p / T)) over T in [0.05, 20] (300 steps)
 *   NLL at T = 1: -mean(y log p + (1 - y) log(1 - p))
 */
const EXPECTED = {
  brier: 0.1395833333333333, ece: 0.2861111111111111, intercept: 0.07960411787270194,
  slope: 1.6491402825220014, slopeIntercept: 0.15275686482517148, temperature: 0.6134577453963208,
  nll1: 0.4307205122260335, nllT: 0.4061176468895796,
};

test('Brier, ECE (15 equal-mass bins), calibration intercept and slope on a fixed vector, unobserved entries skipped', () => {
  near(brier(PX, YX), EXPECTED.brier, 1e-15);
  near(ece(PX, YX), EXPECTED.ece, 1e-15);
  near(calibrationIntercept(PX, YX), EXPECTED.intercept, 1e-9);
  const s = calibrationSlope(PX, YX);
  near(s.slope, EXPECTED.slope, 1e-9);
  near(s.intercept, EXPECTED.slopeIntercept, 1e-9);
  near(nll(PX, YX), EXPECTED.nll1, 1e-15);
});

test('calibration: hand-computed cases (perfect bins, constant 0.5, one class undefined)', () => {
  // 30 entries, 15 bins of 2: each bin {p, p} with one positive and one negative -> observed 0.5 per bin.
  const p: number[] = [], y: number[] = [];
  for (let b = 0; b < 15; b++) { p.push((b + 1) / 16, (b + 1) / 16); y.push(1, 0); }
  const bins = reliabilityBins(p, y);
  assert.is(bins.length, 15);
  assert.ok(bins.every((x) => x.count === 2 && x.observed === 0.5));
  // ECE = mean over bins of |0.5 - (b+1)/16| = (1/15) * sum_{k=1..15} |8 - k| / 16 = (1/15) * 56/16
  near(ece(p, y), 56 / 16 / 15, 1e-15);
  // p = 0.5 everywhere, alternating labels: Brier 1/4; with 30 entries the tied ranks (by index) make 15 bins
  // of {1, 0}, so ECE 0; with 4 entries each is its own bin, |y - 0.5| = 0.5 (ties are split by rank).
  const h = [0.5, 0.5, 0.5, 0.5], hy = [1, 0, 1, 0];
  near(brier(h, hy), 0.25, 0);
  near(ece(h, hy), 0.5, 0);
  near(ece(new Array(30).fill(0.5), Array.from({ length: 30 }, (_, i) => 1 - (i % 2))), 0, 0);
  near(calibrationIntercept(h, hy), 0, 1e-12);
  // A constant logit has no slope; one class has neither.
  assert.ok(Number.isNaN(calibrationSlope(h, hy).slope));
  assert.ok(Number.isNaN(calibrationIntercept([0.2, 0.3], [1, 1])));
  assert.ok(Number.isNaN(brier([0.2], [NaN])));
  // Fewer entries than bins: one bin per entry.
  assert.is(reliabilityBins([0.2, 0.7], [0, 1]).length, 2);
  assert.throws(() => brier([0.2, 1.5], [0, 1]), /1.5.*not in \[0, 1\]/);
});

test('calibration intercept of a recalibrated vector: shifting every logit by c moves the intercept by -c', () => {
  const c = 0.7;
  const shifted = P.map((p) => 1 / (1 + Math.exp(-(logit(p) + c))));
  near(calibrationIntercept(shifted, Y), EXPECTED.intercept - c, 1e-9);
});

test('temperature: the fitted T is the NLL minimum on the fixed vector, and lowers the NLL', () => {
  const T = fitTemperature(PX, YX);
  near(T, EXPECTED.temperature, 1e-7);
  const cal = calibrateProbabilities(PX, [T], new Float64Array(PX.length));
  near(nll(cal, YX), EXPECTED.nllT, 1e-12);
  assert.ok(nll(cal, YX) < nll(PX, YX));
  // T = 1 is the identity, bit for bit; a label with one observed class keeps T = 1.
  const f = Float32Array.from(PX);
  assert.equal(calibrateProbabilities(f, [1]), f);
  assert.is(fitTemperature([0.2, 0.9], [1, 1]), 1);
  assert.throws(() => calibrateProbabilities(PX, [0]), /temperature 0/);
  assert.throws(() => calibrateProbabilities([0.1, 0.2, 0.3], [1, 1]), /3 probabilities for 2/);
});

test('temperature scaling per finding lowers validation NLL and leaves every AUROC and AUPRC unchanged', () => {
  // 14 labels of an over-confident model (logits scaled by 3) and one under-confident (scaled by 0.4).
  const rand = mulberry32(11), n = 400, L = 14;
  const probs = new Float64Array(n * L), targets = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) {
      const z = (rand() - 0.5) * 6, y = rand() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
      const k = j === 13 ? 0.4 : 3;
      probs[i * L + j] = 1 / (1 + Math.exp(-k * z));
      targets[i * L + j] = rand() < 0.1 ? NaN : y;
    }
  }
  const temps = fitTemperatures(probs, targets, L);
  const cal = calibrateProbabilities(probs, temps, new Float64Array(n * L));
  for (let j = 0; j < L; j++) {
    const col = (m: ArrayLike<number>) => Float64Array.from({ length: n }, (_, i) => m[i * L + j]);
    const [p, c, t] = [col(probs), col(cal), col(targets)];
    assert.ok(nll(c, t) < nll(p, t), `label ${j}: NLL ${nll(c, t)} not below ${nll(p, t)}`);
    assert.is(auroc(c, t), auroc(p, t), `label ${j}: AUROC changed`);
    assert.is(auprc(c, t), auprc(p, t), `label ${j}: AUPRC changed`);
  }
  assert.ok(temps.slice(0, 13).every((T) => T > 2 && T < 4.5), `over-confident labels: ${temps}`);
  assert.ok(temps[13] > 0.2 && temps[13] < 0.6, `under-confident label: ${temps[13]}`);
  const r = calibration(cal, targets, Array.from({ length: L }, (_, j) => `l${j}`));
  assert.ok(Math.abs(r.macro.slope - 1) < 0.1, `slope after scaling ${r.macro.slope}`);
  assert.ok(calibration(probs, targets, r.labels).macro.slope < 0.5);
});

test.run();
