/**
 * The metrics as behaviour: each checked against its definition written out by brute force (AUPRC as
 * scikit-learn's average precision, F1 from counts at every threshold, the macro averages over defined
 * labels), on random data with ties and unobserved entries, plus the edges (one positive, a score equal to
 * the threshold, no positive) and the bootstrap's replicate size and percentile rule.
 *
 * Mutants of scripts/mutate.ts argued equivalent (no test can kill them):
 *   src/eval/metrics.ts:14  `i < targets.length` -> `<=`: targets[length] is undefined, neither 0 nor 1, so it is skipped.
 *   src/eval/metrics.ts:40  `pos === 0 || neg === 0` -> `&&`: with one class u stays 0 and u / (pos * neg) is 0/0 = NaN anyway.
 *   src/eval/metrics.ts:69  `seen = 0` -> `1`: seen is assigned (seen = j) before it is read.
 *   src/eval/metrics.ts:73  `tp += t` -> `-=`: recall and precision both change sign, their product (the AP term) does not.
 *   src/eval/metrics.ts:90  `i < s.length` -> `<=`: s[length] is undefined, so `p` is false and t[length] is falsy: no count changes.
 *   src/eval/metrics.ts:109 `thr = 0.5` -> `0`: the first tie group always sets thr (its F1 >= 0 > best = -1).
 *   src/eval/bootstrap.ts:38:75 and 38:77 `Math.min(sorted.length - 1, ...)` -> `+ 1` / `- 0`: floor(p (n - 1) + 0.5) <= n - 1
 *                   for p <= 1, so the clamp never binds.
 *   src/eval/metrics.ts:47/72/112 `j < idx.length` -> `<=`: s[idx[length]] is s[undefined], undefined, never === a score.
 *   src/eval/metrics.ts:167 `i < t.length` -> `<=`: t[length] is undefined, neither 0 nor 1.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { auprc, auroc, bestF1Threshold, bootstrapCI, column, evaluate, f1At } from '../../src/eval/index.ts';
import { rng } from '../util/harness.ts';

const near = (a: number, b: number, what: string, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol || (Number.isNaN(a) && Number.isNaN(b)), `${what}: ${a} != ${b}`);
const obs = (s: number[], t: number[]) => s.map((v, i) => [v, t[i]] as const).filter(([, y]) => y === 0 || y === 1);

/** Average precision: sum over distinct thresholds (descending) of (R_k - R_{k-1}) * P_k. */
function apBrute(s: number[], t: number[]): number {
  const o = obs(s, t), pos = o.filter(([, y]) => y === 1).length;
  if (pos === 0) return NaN;
  const thr = [...new Set(o.map(([v]) => v))].sort((a, b) => b - a);
  let ap = 0, prev = 0;
  for (const h of thr) {
    const sel = o.filter(([v]) => v >= h), tp = sel.filter(([, y]) => y === 1).length;
    ap += (tp / pos - prev) * (tp / sel.length);
    prev = tp / pos;
  }
  return ap;
}
/** F1 = 2tp / (2tp + fp + fn) of "positive where score >= h" over observed entries. */
function f1Brute(s: number[], t: number[], h: number): number {
  const o = obs(s, t);
  if (o.length === 0) return NaN;
  let tp = 0, fp = 0, fn = 0;
  for (const [v, y] of o) { if (v >= h && y === 1) tp++; else if (v >= h) fp++; else if (y === 1) fn++; }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}
/** The best F1 over the observed scores as thresholds, the highest threshold among equals. */
function bestBrute(s: number[], t: number[]): { threshold: number; f1: number } {
  const o = obs(s, t);
  if (!o.some(([, y]) => y === 1)) return { threshold: 0.5, f1: NaN };
  let best = { threshold: 0.5, f1: -1 };
  for (const h of [...new Set(o.map(([v]) => v))].sort((a, b) => b - a)) {
    const f = f1Brute(s, t, h);
    if (f > best.f1) best = { threshold: h, f1: f };
  }
  return best;
}

function randomData(r: () => number, n: number): { s: number[]; t: number[] } {
  const s: number[] = [], t: number[] = [];
  for (let i = 0; i < n; i++) {
    s.push(Math.round(r() * 8) / 8);
    const u = r();
    t.push(u < 0.1 ? NaN : u < 0.15 ? -1 : u < 0.5 ? 1 : 0);
  }
  return { s, t };
}

test('AUPRC, F1 and the best threshold equal their brute-force definitions on random data with ties', () => {
  const r = rng(17);
  for (let rep = 0; rep < 40; rep++) {
    const { s, t } = randomData(r, 5 + Math.floor(r() * 40));
    near(auprc(s, t), apBrute(s, t), `AUPRC rep ${rep}`, 1e-12);
    for (const h of [0, 0.25, 0.5, 0.625, 1, 1.5]) near(f1At(s, t, h), f1Brute(s, t, h), `F1 at ${h}, rep ${rep}`);
    const b = bestF1Threshold(s, t), w = bestBrute(s, t);
    near(b.f1, w.f1, `best F1 rep ${rep}`);
    near(b.threshold, w.threshold, `best threshold rep ${rep}`);
  }
});

test('edges: one positive, a score equal to the threshold, no positive, one observed entry', () => {
  // One positive: AP is the precision at its rank.
  near(auprc([0.9, 0.8, 0.7], [0, 1, 0]), 0.5, 'AP of a single positive ranked second');
  near(auprc([0.3], [1]), 1, 'AP of a single entry');
  near(auroc([0.2, 0.8, 0.5], [0, 1, 0]), 1, 'AUROC of a single positive on top');
  // >= threshold is positive: a score equal to it counts.
  near(f1At([0.5, 0.2], [1, 0], 0.5), 1, 'score equal to the threshold');
  near(f1At([0.5, 0.5, 0.1, 0.1], [1, 1, 1, 0], 0.5), 0.8, 'two true positives, one false negative');
  // A negative below the threshold is a true negative, not a false negative.
  near(f1At([0.9, 0.1, 0.1, 0.1], [1, 0, 0, 0], 0.5), 1, 'true negatives do not count');
  near(f1At([0.9, 0.1], [NaN, -1], 0.5), NaN, 'nothing observed');
  assert.equal(bestF1Threshold([0.9, 0.1], [0, 0]), { threshold: 0.5, f1: NaN });
  assert.equal(bestF1Threshold([0.9, 0.1], [0, NaN]), { threshold: 0.5, f1: NaN });
  assert.equal(bestF1Threshold([0.4], [1]), { threshold: 0.4, f1: 1 });
  assert.throws(() => auprc([0.1], [1, 0]), /1 scores vs 2 targets/);
  assert.throws(() => f1At([0.1, Infinity], [1, 0], 0.5), /non-finite score Infinity at index 1/);
  // A non-finite score of an unobserved entry is allowed (it is never looked at).
  near(auroc([0.9, NaN, 0.1], [1, NaN, 0]), 1, 'NaN score of a blank entry');
});

test('evaluate: every field per label against the single-label functions, macros over defined labels', () => {
  const r = rng(23), n = 30, labels = ['a', 'b', 'c', 'd', 'e'];
  const L = labels.length, probs: number[] = [], tgt: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) {
      probs.push(Math.round(r() * 10) / 10);
      // c: no positive; d: exactly one positive; e: all positive.
      tgt.push(j === 2 ? 0 : j === 3 ? +(i === 4) : j === 4 ? 1 : r() < 0.1 ? NaN : +(r() < 0.4));
    }
  }
  const res = evaluate(probs, tgt, labels);
  assert.equal(res.labels, labels);
  const defined = (v: number[]) => v.filter((x) => !Number.isNaN(x));
  const mean = (v: number[]) => defined(v).reduce((a, b) => a + b, 0) / defined(v).length;
  for (let j = 0; j < L; j++) {
    const s = [...column(probs, L, j)], t = [...column(tgt, L, j)];
    assert.is(s.length, n);
    const o = obs(s, t);
    assert.is(res.count[j], o.length, `count ${j}`);
    assert.is(res.positives[j], o.filter(([, y]) => y === 1).length, `positives ${j}`);
    near(res.auroc[j], auroc(s, t), `auroc ${j}`);
    near(res.auprc[j], apBrute(s, t), `auprc ${j}`);
    near(res.thresholds[j], bestBrute(s, t).threshold, `threshold ${j}`);
    near(res.f1[j], res.positives[j] === 0 ? NaN : f1Brute(s, t, res.thresholds[j]), `f1 ${j}`);
  }
  assert.ok(!Number.isNaN(res.f1[3]), 'a label with one positive has an F1');
  assert.ok(Number.isNaN(res.f1[2]) && Number.isNaN(res.auprc[2]) && Number.isNaN(res.auroc[4]));
  near(res.macroAuroc, mean(res.auroc), 'macro AUROC');
  near(res.macroAuprc, mean(res.auprc), 'macro AUPRC');
  near(res.macroF1, mean(res.f1), 'macro F1');
  assert.equal(res.macroLabels, { auroc: defined(res.auroc).length, auprc: defined(res.auprc).length, f1: defined(res.f1).length });
  assert.equal(res.macroLabels, { auroc: 3, auprc: 4, f1: 4 });
  // Given thresholds are used as given.
  const fixed = evaluate(probs, tgt, labels, [0.5, 0.5, 0.5, 0.1, 0.95]);
  assert.equal(fixed.thresholds, [0.5, 0.5, 0.5, 0.1, 0.95]);
  for (let j = 0; j < L; j++) if (fixed.positives[j] > 0) near(fixed.f1[j], f1Brute([...column(probs, L, j)], [...column(tgt, L, j)], fixed.thresholds[j]), `fixed f1 ${j}`);
  // No label defined: the macros are NaN over 0 labels.
  const none = evaluate([0.1, 0.2], [NaN, NaN], ['x']);
  assert.ok(Number.isNaN(none.macroAuroc) && Number.isNaN(none.macroAuprc) && Number.isNaN(none.macroF1));
  assert.equal(none.macroLabels, { auroc: 0, auprc: 0, f1: 0 });
  assert.throws(() => evaluate([0.1, 0.2, 0.3], [1, 0, 1], ['x', 'y']), /shapes 3 vs 3 for 2 labels/);
  assert.throws(() => evaluate([0.1, 0.2], [1, 0, 1, 0], ['x', 'y']), /shapes/);
});

test('bootstrap: each replicate draws as many patients as there are, the percentile rule, NaN replicates dropped', () => {
  // Patients of unequal sizes: 1, 2 and 3 samples.
  const groups = [7, 3, 3, 9, 9, 9];
  const drawn: Int32Array[] = [];
  const res = bootstrapCI(groups, (ix) => { drawn.push(ix); return ix.length; }, { replicates: 300, seed: 5 });
  assert.is(res.estimate, 6);
  assert.is(drawn[0].length, 6, 'the estimate sees every sample once');
  assert.equal([...drawn[0]], [0, 1, 2, 3, 4, 5]);
  for (const ix of drawn.slice(1)) {
    // Whole patients, three draws: the samples of a patient come together, and three patients were drawn.
    let patients = 0;
    for (let k = 0; k < ix.length; ) {
      const g = groups[ix[k]], size = groups.filter((x) => x === g).length;
      for (let q = 0; q < size; q++) assert.is(groups[ix[k + q]], g);
      k += size;
      patients++;
    }
    assert.is(patients, 3);
  }
  // Every patient gets drawn first sometimes (the draw covers the whole list).
  assert.is(new Set(drawn.slice(1).map((ix) => groups[ix[0]])).size, 3);
  // Percentiles: R type 7 (linear between the order statistics around p (n - 1)), alpha 0.05 by default,
  // the rule the protocols' paired bootstrap uses too (one rule, src/eval/bootstrap.ts).
  const type7 = (v: number[], p: number) => {
    const h = p * (v.length - 1), k = Math.floor(h);
    return k + 1 < v.length ? v[k] + (h - k) * (v[k + 1] - v[k]) : v[k];
  };
  const sorted = [...res.replicates].sort((a, b) => a - b), N = sorted.length;
  assert.is(N, 300);
  assert.is(res.lo, type7(sorted, 0.025));
  assert.is(res.hi, type7(sorted, 0.975));
  const wide = bootstrapCI(groups, (ix) => ix.length, { replicates: 300, seed: 5, alpha: 0.5 });
  assert.is(wide.lo, type7(sorted, 0.25));
  assert.is(wide.hi, type7(sorted, 0.75));
  assert.ok(res.lo < wide.lo || res.hi > wide.hi, 'a smaller alpha widens the interval');
  // The same rule on distinct replicate values, where nearest rank and interpolation differ.
  const r = rng(3), vals = Array.from({ length: 40 }, () => r());
  const ci = bootstrapCI(vals.map((_, i) => i), (ix) => ix.reduce((a, i) => a + vals[i], 0) / ix.length, { replicates: 300, seed: 2 });
  const sd = [...ci.replicates].sort((a, b) => a - b), M = sd.length, lo = Math.floor(0.025 * (M - 1)), hi = Math.floor(0.975 * (M - 1));
  assert.ok(sd[lo] !== sd[lo + 1] && sd[hi] !== sd[hi + 1], 'distinct neighbours');
  assert.is(ci.lo, type7(sd, 0.025));
  assert.is(ci.hi, type7(sd, 0.975));
  assert.ok(ci.lo > sd[lo] && ci.lo < sd[lo + 1], 'interpolated between the two order statistics');
  // Few replicates: the 2.5% point lies between the two smallest.
  const few = bootstrapCI(vals.map((_, i) => i), (ix) => ix.reduce((a, i) => a + vals[i], 0) / ix.length, { replicates: 10, seed: 2 });
  const fs = [...few.replicates].sort((a, b) => a - b);
  assert.ok(fs[0] !== fs[1]);
  assert.is(few.lo, type7(fs, 0.025));
  assert.is(few.hi, type7(fs, 0.975));
  // Replicates where the statistic is undefined are dropped, not counted as values.
  let call = 0;
  const some = bootstrapCI(groups, () => (call++ % 2 ? NaN : call), { replicates: 10, seed: 1 });
  assert.is(some.replicates.length, 5);
  const nan = bootstrapCI(groups, (ix) => (ix.length > 0 ? NaN : 0), { replicates: 5 });
  assert.ok(Number.isNaN(nan.lo) && Number.isNaN(nan.hi) && nan.replicates.length === 0);
  // Seeded: same seed same replicates, another seed others.
  const again = bootstrapCI(groups, (ix) => ix.reduce((a, i) => a + i * i, 0), { replicates: 50, seed: 5 });
  const other = bootstrapCI(groups, (ix) => ix.reduce((a, i) => a + i * i, 0), { replicates: 50, seed: 6 });
  assert.equal(again.replicates, bootstrapCI(groups, (ix) => ix.reduce((a, i) => a + i * i, 0), { replicates: 50, seed: 5 }).replicates);
  assert.is.not(again.replicates.join(), other.replicates.join());
});

test.run();
