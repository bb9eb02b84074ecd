import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { auroc, evaluate } from '../../src/eval/index.ts';
import { mulberry32 } from '../../src/engine/rng.ts';
import {
  curveAuc, degradationAucs, holm, meanStd, pairedBootstrap, patientGroups, quantileSorted, resampleWeights, summarize, withHolm,
  type Comparison, type ResultRow,
} from '../../src/protocols/index.ts';

const near = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);
const L = 14;
const LABELS = Array.from({ length: L }, (_, j) => `L${j}`);

function row(method: string, trainLevel: number, testLevel: number, seed: number, macroAuroc: number, protocol: 'image' | 'tabular' = 'image'): ResultRow {
  return { method, protocol, trainLevel, testLevel, seed, macroAuroc, macroAuprc: macroAuroc / 2, macroF1: 0.5, perLabelAuroc: new Array(L).fill(macroAuroc) };
}

// ---------------------------------------------------------------------------------------------------------
// Holm

test('Holm: hand-computed family, input order kept', () => {
  // sorted 0.005 0.01 0.03 0.04 times 4 3 2 1 = 0.02 0.03 0.06 0.04 -> running max 0.02 0.03 0.06 0.06
  const adj = holm([0.01, 0.04, 0.03, 0.005]);
  [0.03, 0.06, 0.06, 0.02].forEach((v, i) => near(adj[i], v, 1e-15));
  // sorted 0.01 0.02 0.03 times 3 2 1 = 0.03 0.04 0.03 -> 0.03 0.04 0.04
  const b = holm([0.03, 0.01, 0.02]);
  [0.04, 0.03, 0.04].forEach((v, i) => near(b[i], v, 1e-15));
  // one p-value: unchanged
  assert.equal(holm([0.2]), [0.2]);
  assert.equal(holm([]), []);
});

test('Holm: capped at 1, monotone in p, never below p, NaN left out of the family', () => {
  assert.equal(holm([0.5, 0.6, 0.9]), [1, 1, 1]);
  const r = mulberry32(3);
  for (let rep = 0; rep < 50; rep++) {
    const p = Array.from({ length: 1 + Math.floor(r() * 12) }, () => (r() < 0.2 ? 0.01 : r()));
    const a = holm(p);
    for (let i = 0; i < p.length; i++) {
      assert.ok(a[i] >= p[i] && a[i] <= 1, `adj ${a[i]} for p ${p[i]}`);
      for (let j = 0; j < p.length; j++) if (p[i] <= p[j]) assert.ok(a[i] <= a[j], 'monotone');
    }
  }
  const n = holm([0.01, NaN, 0.02]);
  near(n[0], 0.02);
  assert.ok(Number.isNaN(n[1]));
  near(n[2], 0.02); // m = 2: 0.02 * 1, running max 0.02
  assert.throws(() => holm([1.5]), /outside/);
});

test('withHolm adjusts within each protocol family', () => {
  const c = (protocol: 'image' | 'tabular', p: number): Comparison => ({ protocol, level: 0, proposed: 'P', method: 'B', diff: 0, lo: 0, hi: 0, p });
  const out = withHolm([c('image', 0.01), c('tabular', 0.01), c('image', 0.04)]);
  near(out[0].pHolm!, 0.02);
  near(out[1].pHolm!, 0.01);
  near(out[2].pHolm!, 0.04);
  const all = withHolm([c('image', 0.01), c('tabular', 0.01), c('image', 0.04)], 'all');
  near(all[0].pHolm!, 0.03);
});

// ---------------------------------------------------------------------------------------------------------
// Mean/std, curve AUC

test('meanStd: sample std (n - 1), NaN values skipped, one value has no std', () => {
  const a = meanStd([0.7, 0.8, 0.9]);
  near(a.mean, 0.8);
  near(a.std, 0.1, 1e-12);
  assert.is(a.n, 3);
  const b = meanStd([2, 4, 4, 4, 5, 5, 7, 9]); // population std 2, sample std sqrt(32/7)
  near(b.std, Math.sqrt(32 / 7));
  const c = meanStd([0.5, NaN]);
  assert.is(c.n, 1);
  near(c.mean, 0.5);
  assert.ok(Number.isNaN(c.std));
  assert.ok(Number.isNaN(meanStd([]).mean));
});

test('summarize groups by method/protocol/levels over seeds and rejects duplicate seeds', () => {
  const rows = [row('A', 0, 0, 1, 0.7), row('A', 0, 0, 2, 0.9), row('A', 0.5, 0.5, 1, 0.6), row('B', 0, 0, 1, 0.5), row('A', 0, 0, 1, 0.3, 'tabular')];
  const s = summarize(rows);
  assert.is(s.length, 4);
  const a0 = s.find((x) => x.method === 'A' && x.protocol === 'image' && x.trainLevel === 0)!;
  near(a0.mean, 0.8);
  near(a0.std, Math.sqrt(0.02));
  assert.equal(a0.seeds, [1, 2]);
  assert.equal(s.map((x) => `${x.protocol}:${x.method}:${x.trainLevel}`), ['image:A:0', 'image:A:0.5', 'image:B:0', 'tabular:A:0']);
  const auprc = summarize(rows, 'macroAuprc').find((x) => x.method === 'A' && x.protocol === 'image' && x.trainLevel === 0)!;
  near(auprc.mean, 0.4);
  assert.throws(() => summarize([row('A', 0, 0, 1, 0.7), row('A', 0, 0, 1, 0.8)]), /duplicate/);
});

test('curveAuc: flat curve gives its level; hand cases; order-free; normalized by span', () => {
  near(curveAuc([0, 0.25, 0.5, 1].map((x) => ({ x, y: 0.8 }))), 0.8);
  // linear 1 -> 0.5 over [0, 1]: mean 0.75
  near(curveAuc([{ x: 0, y: 1 }, { x: 1, y: 0.5 }]), 0.75);
  // uneven spacing: (0.9+0.8)/2*0.2 + (0.8+0.6)/2*0.8 = 0.17 + 0.56 = 0.73
  near(curveAuc([{ x: 1, y: 0.6 }, { x: 0, y: 0.9 }, { x: 0.2, y: 0.8 }]), 0.73);
  // span [0.2, 0.6]: (0.9+0.7)/2*0.4 / 0.4 = 0.8
  near(curveAuc([{ x: 0.2, y: 0.9 }, { x: 0.6, y: 0.7 }]), 0.8);
  near(curveAuc([{ x: 0.3, y: 0.66 }]), 0.66);
  assert.ok(Number.isNaN(curveAuc([{ x: 0, y: NaN }, { x: 1, y: 1 }])));
  assert.throws(() => curveAuc([{ x: 0, y: 1 }, { x: 0, y: 1 }]), /duplicate/);
});

test('degradationAucs: per seed over the diagonal, mean equals the AUC of the mean curve', () => {
  const rows = [
    row('A', 0, 0, 1, 0.9), row('A', 0.5, 0.5, 1, 0.8), row('A', 1, 1, 1, 0.6),
    row('A', 0, 0, 2, 0.8), row('A', 0.5, 0.5, 2, 0.8), row('A', 1, 1, 2, 0.8),
    row('A', 0, 1, 1, 0.1), // off-diagonal: ignored
  ];
  const [a] = degradationAucs(rows);
  near(a.perSeed[0].auc, (0.85 * 0.5 + 0.7 * 0.5) / 1); // 0.775
  near(a.perSeed[1].auc, 0.8);
  near(a.mean, (0.775 + 0.8) / 2);
  near(a.std, Math.sqrt(2 * 0.0125 ** 2));
  assert.equal(a.levels, [0, 0.5, 1]);
  assert.throws(() => degradationAucs([...rows, row('A', 0, 0, 3, 0.5)]), /levels/);
});

// ---------------------------------------------------------------------------------------------------------
// Paired bootstrap

/** A synthetic test set: nP patients with 1..3 studies, 14 labels with some unobserved entries. */
function synth(nP: number, seed: number) {
  const r = mulberry32(seed);
  const patients: number[] = [], targets: number[] = [], good: number[] = [], noisy: number[] = [];
  for (let p = 0; p < nP; p++) {
    const k = 1 + Math.floor(r() * 3);
    for (let s = 0; s < k; s++) {
      patients.push(1000 + p * 7);
      for (let j = 0; j < L; j++) {
        const t = r() < 0.15 ? NaN : r() < 0.35 ? 1 : 0;
        targets.push(t);
        const y = Number.isNaN(t) ? 0 : t;
        good.push(Math.min(1, Math.max(0, 0.5 + (y - 0.5) * 0.6 + (r() - 0.5) * 0.5)));
        noisy.push(Math.min(1, Math.max(0, 0.5 + (y - 0.5) * 0.1 + (r() - 0.5) * 0.8)));
      }
    }
  }
  return { patients, targets, good, noisy };
}

test('paired bootstrap: clearly better method -> CI excludes 0, p small; observed diff matches evaluate()', () => {
  const d = synth(120, 1);
  const res = pairedBootstrap({ probsA: d.good, probsB: d.noisy, targets: d.targets, patients: d.patients, replicates: 500, seed: 5 });
  const ea = evaluate(d.good, d.targets, LABELS).macroAuroc, eb = evaluate(d.noisy, d.targets, LABELS).macroAuroc;
  near(res.macroA, ea, 1e-12);
  near(res.macroB, eb, 1e-12);
  near(res.diff, ea - eb, 1e-12);
  assert.ok(res.diff > 0.2, `diff ${res.diff}`);
  assert.ok(res.lo > 0 && res.hi > res.lo && res.lo <= res.diff && res.diff <= res.hi, `CI [${res.lo}, ${res.hi}]`);
  assert.is(res.replicates, 500);
  assert.is(res.dropped, 0);
  near(res.p, 2 / 501, 1e-15); // no replicate <= 0: the +1-corrected minimum
  // Swapped roles: the same magnitude, negative, same p.
  const sw = pairedBootstrap({ probsA: d.noisy, probsB: d.good, targets: d.targets, patients: d.patients, replicates: 500, seed: 5 });
  near(sw.diff, -res.diff, 1e-12);
  near(sw.lo, -res.hi, 1e-12);
  near(sw.p, res.p);
});

test('paired bootstrap: identical predictions -> difference 0, CI [0, 0], p = 1', () => {
  const d = synth(40, 2);
  const res = pairedBootstrap({ probsA: d.good, probsB: d.good.slice(), targets: d.targets, patients: d.patients, replicates: 200 });
  assert.is(res.diff, 0);
  assert.is(res.lo, 0);
  assert.is(res.hi, 0);
  assert.is(res.p, 1);
});

test('paired bootstrap: deterministic by seed, different seeds differ, study order does not matter', () => {
  const d = synth(60, 3);
  const args = { probsA: d.good, probsB: d.noisy, targets: d.targets, patients: d.patients, replicates: 300 };
  const a = pairedBootstrap({ ...args, seed: 11 }), b = pairedBootstrap({ ...args, seed: 11 }), c = pairedBootstrap({ ...args, seed: 12 });
  assert.equal(Array.from(a.diffs), Array.from(b.diffs));
  assert.equal([a.lo, a.hi, a.p], [b.lo, b.hi, b.p]);
  assert.not.equal(Array.from(a.diffs), Array.from(c.diffs));
  // Reverse the study order: patients are resampled in sorted-id order, and each replicate's statistic only
  // depends on the multiset of studies, so the replicates are the same (up to summation order).
  const n = d.patients.length, rev = (m: number[]) => Array.from({ length: n }, (_, i) => m.slice((n - 1 - i) * L, (n - i) * L)).flat();
  const r = pairedBootstrap({ probsA: rev(d.good), probsB: rev(d.noisy), targets: rev(d.targets), patients: [...d.patients].reverse(), replicates: 300, seed: 11 });
  for (let k = 0; k < 300; k++) near(r.diffs[k], a.diffs[k], 1e-12);
});

test('paired bootstrap resamples patients: a statistic constant over whole patients never varies', () => {
  // Every patient has the same four studies (per label: positives score 0.9 and 0.3, negatives 0.1 and 0.5):
  // A's AUROC is 3/4 and B's (all 0.5) is 1/2 for ANY multiset of whole patients. Resampling single studies
  // would change the mix and the difference; resampling patients keeps it exactly 0.25.
  const patients: string[] = [], targets: number[] = [], A: number[] = [], B: number[] = [];
  const studies = [[1, 0.9], [0, 0.1], [1, 0.3], [0, 0.5]];
  for (let p = 0; p < 25; p++) for (const [t, s] of studies) {
    patients.push(`p${p}`);
    for (let j = 0; j < L; j++) { targets.push(t); A.push(s); B.push(0.5); }
  }
  const res = pairedBootstrap({ probsA: A, probsB: B, targets, patients, replicates: 300, seed: 1 });
  near(res.diff, 0.25);
  for (const x of res.diffs) near(x, 0.25, 1e-12);
  near(res.lo, 0.25, 1e-12);
  near(res.hi, 0.25, 1e-12);
  // The same data with each study its own patient: the difference now varies across replicates.
  const solo = pairedBootstrap({ probsA: A, probsB: B, targets, patients: patients.map((_, i) => i), replicates: 300, seed: 1 });
  assert.ok(solo.hi - solo.lo > 0.05, `study-level spread ${solo.hi - solo.lo}`);
});

test('resampleWeights: studies of one patient share a weight; total draws = patients', () => {
  const patients = [5, 9, 5, 2, 9, 9, 7];
  const groups = patientGroups(patients);
  assert.equal(groups, [[3], [0, 2], [6], [1, 4, 5]]); // ids 2, 5, 7, 9 ascending
  const r = mulberry32(4);
  for (let rep = 0; rep < 100; rep++) {
    const w = resampleWeights(groups, patients.length, r);
    for (const g of groups) for (const i of g) assert.is(w[i], w[g[0]]);
    assert.is(groups.reduce((s, g) => s + w[g[0]], 0), groups.length);
  }
});

test('weighted AUROC inside the bootstrap equals auroc() on the repeated index list', () => {
  // Replicate by hand: the first replicate's weights with the same RNG, then auroc over repeated studies.
  const d = synth(30, 7);
  const n = d.patients.length;
  const res = pairedBootstrap({ probsA: d.good, probsB: d.noisy, targets: d.targets, patients: d.patients, replicates: 1, seed: 9 });
  const w = resampleWeights(patientGroups(d.patients), n, mulberry32(9));
  const idx: number[] = [];
  for (let i = 0; i < n; i++) for (let k = 0; k < w[i]; k++) idx.push(i);
  let sa = 0, sb = 0, m = 0;
  for (let j = 0; j < L; j++) {
    const t = idx.map((i) => d.targets[i * L + j]);
    const a = auroc(idx.map((i) => d.good[i * L + j]), t);
    if (Number.isNaN(a)) continue;
    sa += a;
    sb += auroc(idx.map((i) => d.noisy[i * L + j]), t);
    m++;
  }
  near(res.diffs[0], sa / m - sb / m, 1e-12);
});

test('paired bootstrap: shape errors and quantiles', () => {
  assert.throws(() => pairedBootstrap({ probsA: [0.1], probsB: [0.1, 0.2], targets: [1], patients: [1] }), /shapes/);
  assert.throws(() => pairedBootstrap({ probsA: [], probsB: [], targets: [], patients: [] }), /no studies/);
  near(quantileSorted([1, 2, 3, 4, 5], 0.5), 3);
  near(quantileSorted([1, 2, 3, 4], 0.25), 1.75);
  near(quantileSorted([1, 2, 3, 4], 1), 4);
});

test.run();
