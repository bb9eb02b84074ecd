import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { auroc, auprc, bestF1Threshold, bootstrapCI, evaluate, f1At, pairedBootstrap } from '../../src/eval/index.ts';
import { mulberry32 } from '../../src/engine/rng.ts';

const near = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

/** Brute-force AUROC: pairs (positive, negative), ties 1/2. */
function pairAuroc(s: number[], t: number[]): number {
  let num = 0, den = 0;
  for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) {
    if (t[i] === 1 && t[j] === 0) { den++; num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0; }
  }
  return num / den;
}

test('AUROC: perfect, inverted, hand-computed with ties', () => {
  near(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  near(auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  // positives 0.5 0.7; negatives 0.5 0.3 0.7 -> pairs: (0.5: >0.3, =0.5, <0.7) = 1.5; (0.7: >0.5,>0.3,=0.7) = 2.5 -> 4/6
  near(auroc([0.5, 0.7, 0.5, 0.3, 0.7], [1, 1, 0, 0, 0]), 4 / 6);
  // all tied -> 0.5
  near(auroc([0.3, 0.3, 0.3], [1, 0, 1]), 0.5);
});

test('AUROC matches the pairwise definition on random data with many ties', () => {
  let seed = 7;
  const r = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let rep = 0; rep < 20; rep++) {
    const s: number[] = [], t: number[] = [];
    for (let i = 0; i < 60; i++) { s.push(Math.round(r() * 5) / 5); t.push(r() < 0.4 ? 1 : 0); }
    near(auroc(s, t), pairAuroc(s, t), 1e-12);
  }
});

test('metrics skip unobserved entries (NaN, -1) and are NaN with one class only', () => {
  near(auroc([0.1, 0.9, 0.5, 0.2], [0, 1, NaN, -1]), 1);
  assert.ok(Number.isNaN(auroc([0.1, 0.9], [1, 1])));
  assert.ok(Number.isNaN(auroc([0.1, 0.9], [NaN, NaN])));
  assert.ok(Number.isNaN(auprc([0.1, 0.9], [0, 0])));
  assert.throws(() => auroc([NaN, 0.3], [1, 0]), /non-finite/);
});

test('AUPRC as average precision, hand-computed, ties as one threshold', () => {
  // scores desc: 0.9(1) 0.8(0) 0.7(1) 0.1(0): AP = 0.5*1 + 0.5*(2/3)
  near(auprc([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]), 0.5 + 1 / 3);
  // tie at top: 0.9(1), 0.9(0), 0.5(1): first threshold recall 0.5 precision 0.5, then recall 1 precision 2/3
  near(auprc([0.9, 0.9, 0.5], [1, 0, 1]), 0.25 + 0.5 * (2 / 3));
  near(auprc([0.2, 0.4], [1, 1]), 1);
});

test('F1 at a threshold and the F1-optimal threshold', () => {
  // threshold 0.5: predicted pos {0.9, 0.6}: tp 1 (0.9), fp 1 (0.6), fn 1 (0.3) -> 2/(2+1+1)
  near(f1At([0.9, 0.6, 0.3, 0.1], [1, 0, 1, 0], 0.5), 0.5);
  near(f1At([0.1, 0.2], [0, 0], 0.5), 0);
  const b = bestF1Threshold([0.9, 0.6, 0.3, 0.1], [1, 0, 1, 0]);
  // thresholds: 0.9 -> f1 2/3; 0.6 -> 1/2; 0.3 -> 2*2/(4+1)=0.8; 0.1 -> 2*2/(4+2)=2/3
  near(b.threshold, 0.3);
  near(b.f1, 0.8);
});

test('evaluate: per-label and macro, labels with one class excluded from the macro', () => {
  const labels = ['a', 'b', 'c'];
  const probs = [0.9, 0.1, 0.5, 0.2, 0.8, 0.5, 0.7, 0.3, 0.5, 0.1, 0.9, 0.5];
  const tgt = [1, 1, 1, 0, 0, 1, 1, 1, NaN, 0, 0, 1];
  const r = evaluate(probs, tgt, labels);
  near(r.auroc[0], 1);
  near(r.auroc[1], 0);
  assert.ok(Number.isNaN(r.auroc[2]));
  near(r.macroAuroc, 0.5);
  assert.is(r.macroLabels.auroc, 2);
  assert.equal(r.count, [4, 4, 3]);
  assert.equal(r.positives, [2, 2, 3]);
});

test('patient bootstrap: resamples groups, deterministic by seed, CI brackets the estimate', () => {
  const groups = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
  const vals = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
  const mean = (ix: Int32Array) => ix.reduce((s, i) => s + vals[i], 0) / ix.length;
  const a = bootstrapCI(groups, mean, { replicates: 200, seed: 3 });
  const b = bootstrapCI(groups, mean, { replicates: 200, seed: 3 });
  assert.equal(a.replicates, b.replicates);
  near(a.estimate, 3);
  assert.ok(a.lo < 3 && a.hi > 3);
  // Each replicate holds whole patients: every replicate mean is a mean of 5 patient values.
  for (const v of a.replicates) near((v * 5) % 1 === 0 ? 0 : Math.min((v * 5) % 1, 1 - ((v * 5) % 1)), 0, 1e-9);
});

test('one bootstrap: bootstrapCI and pairedBootstrap draw the same patients (same replicate differences, same interval)', () => {
  // 40 patients with 1-3 studies each, 3 labels, two noisy score sets; a few unobserved targets.
  const r = mulberry32(7), L = 3, labels = ['a', 'b', 'c'];
  const patients: number[] = [];
  for (let p = 0; p < 40; p++) for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) patients.push(1000 - 7 * p);
  const n = patients.length, targets = new Float32Array(n * L), A = new Float32Array(n * L), B = new Float32Array(n * L);
  for (let i = 0; i < n * L; i++) {
    targets[i] = r() < 0.1 ? NaN : r() < 0.4 ? 1 : 0;
    A[i] = Math.fround((targets[i] === 1 ? 0.3 : 0) + r());
    B[i] = Math.fround((targets[i] === 1 ? 0.1 : 0) + r());
  }
  const pick = (m: Float32Array, ix: Int32Array) => Float32Array.from({ length: ix.length * L }, (_, q) => m[ix[Math.floor(q / L)] * L + (q % L)]);
  const stat = (ix: Int32Array) => {
    const t = pick(targets, ix);
    return evaluate(pick(A, ix), t, labels).macroAuroc - evaluate(pick(B, ix), t, labels).macroAuroc;
  };
  const ci = bootstrapCI(patients, stat, { replicates: 150, seed: 4 });
  const pb = pairedBootstrap({ probsA: A, probsB: B, targets, patients, replicates: 150, seed: 4 });
  near(ci.estimate, pb.diff, 1e-12);
  assert.is(ci.replicates.length, pb.diffs.length);
  ci.replicates.forEach((v, i) => near(v, pb.diffs[i], 1e-12));
  near(ci.lo, pb.lo, 1e-12);
  near(ci.hi, pb.hi, 1e-12);
});

test.run();
