/**
 * Every backward kernel of the reference backend against central finite differences of its forward, in
 * float64: loss = sum(out * R) for a fixed random R, so d loss / d out = R is the `dout` fed to the backward
 * (which accumulates onto zeros). eps = 1e-6; the central difference's error is O(eps^2) plus roundoff
 * ~1e-16/eps, so a tolerance of 1e-7 (abs + rel) is tight.
 */
import { test } from 'uvu';
import { bceLogits, close, rng, randArray } from './util/harness.ts';
import { ReferenceBackend } from '../src/engine/index.ts';
import type { Ptr } from '../src/engine/index.ts';

const EPS = 1e-6, TOL = 1e-7;
const be = new ReferenceBackend();

/** A float64 buffer in the reference arena holding `data`. */
function buf(data: ArrayLike<number>): Ptr {
  const p = be.alloc(data.length);
  be.write(p, data);
  return p;
}
const zeros = (n: number) => buf(new Float64Array(n));
const rand = (r: () => number, n: number, lo = -1, hi = 1) => Float64Array.from(randArray(r, n, lo, hi));

/** Central differences of a scalar loss() with respect to every element of the buffer at p (n elements). */
function numericGrad(p: Ptr, n: number, loss: () => number): Float64Array {
  const g = new Float64Array(n), m = be.m;
  for (let i = 0; i < n; i++) {
    const x = m[p + i];
    m[p + i] = x + EPS;
    const lp = loss();
    m[p + i] = x - EPS;
    const lm = loss();
    m[p + i] = x;
    g[i] = (lp - lm) / (2 * EPS);
  }
  return g;
}
/** sum(out * R) over n elements. */
function dotR(out: Ptr, R: Ptr, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += be.m[out + i] * be.m[R + i];
  return s;
}
function check(label: string, analytic: Ptr, p: Ptr, n: number, loss: () => number): void {
  close(`${label}: analytic vs finite differences`, be.readSync(analytic, n), numericGrad(p, n, loss), TOL, TOL);
}

test('layernorm backward = d/d(inp, weight, bias) of the forward', () => {
  const r = rng(21);
  for (const [N, C] of [[1, 1], [2, 3], [3, 5], [2, 8]]) {
    const mk = be.mark();
    const inp = buf(rand(r, N * C, -2, 2)), w = buf(rand(r, C, 0.5, 1.5)), b = buf(rand(r, C)), R = buf(rand(r, N * C));
    const out = be.alloc(N * C), mean = be.alloc(N), rstd = be.alloc(N);
    const loss = () => { be.layernormForward(out, mean, rstd, inp, w, b, N, C); return dotR(out, R, N * C); };
    loss();
    const di = zeros(N * C), dw = zeros(C), db = zeros(C);
    be.layernormBackward(di, dw, db, R, inp, w, mean, rstd, N, C);
    check(`layernorm ${N}x${C} dinp`, di, inp, N * C, loss);
    check(`layernorm ${N}x${C} dweight`, dw, w, C, loss);
    check(`layernorm ${N}x${C} dbias`, db, b, C, loss);
    be.release(mk);
  }
});

test('gelu backward = derivative of the forward', () => {
  const r = rng(22);
  const mk = be.mark();
  const n = 41, x = rand(r, n, -5, 5);
  x[0] = 0; x[1] = -8; x[2] = 8;
  const inp = buf(x), R = buf(rand(r, n)), out = be.alloc(n);
  const loss = () => { be.geluForward(out, inp, n); return dotR(out, R, n); };
  const d = zeros(n);
  be.geluBackward(d, inp, R, n);
  check('gelu', d, inp, n, loss);
  be.release(mk);
});

test('softmax backward = d/d inp of the forward', () => {
  const r = rng(23);
  for (const [N, C] of [[1, 1], [2, 4], [3, 7]]) {
    const mk = be.mark();
    const inp = buf(rand(r, N * C, -3, 3)), R = buf(rand(r, N * C)), out = be.alloc(N * C);
    const loss = () => { be.softmaxForward(out, inp, N, C); return dotR(out, R, N * C); };
    loss();
    const d = zeros(N * C);
    be.softmaxBackward(d, R, out, N, C);
    check(`softmax ${N}x${C}`, d, inp, N * C, loss);
    be.release(mk);
  }
});

test('affine scatter (modality tokens) backward = d/d(inp, scale, shift)', () => {
  const r = rng(24);
  const B = 3, T = 2, C = 6, R = 9, mk = be.mark();
  // Samples' first rows 0, 3, 7 of a [R,C] sequence buffer; rows 2, 5, 6 receive nothing.
  const rows = buf([0, 3, 7]);
  const inp = buf(rand(r, B * T * C)), sc = buf(rand(r, C, 0.5, 1.5)), sh = buf(rand(r, C)), Rw = buf(rand(r, R * C)), out = zeros(R * C);
  const loss = () => { be.affineScatterForward(out, rows, inp, sc, sh, B, T, C); return dotR(out, Rw, R * C); };
  const di = zeros(B * T * C), ds = zeros(C), dh = zeros(C);
  be.affineScatterBackward(di, ds, dh, Rw, rows, inp, sc, B, T, C);
  check('affine scatter dinp', di, inp, B * T * C, loss);
  check('affine scatter dscale', ds, sc, C, loss);
  check('affine scatter dshift', dh, sh, C, loss);
  be.release(mk);
});

test('copyRows scatter and accumulateRows = d/d src of copyRows gather', () => {
  const r = rng(30);
  const N = 4, C = 3, S = 6, mk = be.mark();
  const idx = buf([5, 1, 1, 3]); // row 1 gathered twice: its gradient is the sum of both
  const src = buf(rand(r, S * C)), Rw = buf(rand(r, N * C)), out = zeros(N * C);
  const loss = () => { be.copyRows(out, 0, src, idx, N, C); return dotR(out, Rw, N * C); };
  // The gradient of a gather is a scatter-add: one accumulateRows per destination row's source.
  const dsrc = zeros(S * C);
  for (let i = 0; i < N; i++) be.accumulateRows(dsrc + [5, 1, 1, 3][i] * C, Rw, buf([i]), 1, C);
  check('copyRows gather dsrc', dsrc, src, S * C, loss);
  // A broadcast of one row (srcRows all 0) has as gradient the sum of the destination rows: accumulateRows.
  const dst = zeros(S * C), drows = buf([0, 2, 4]), zr = buf([0, 0, 0]), one = buf(rand(r, C)), Rb = buf(rand(r, S * C));
  const lossB = () => { be.copyRows(dst, drows, one, zr, 3, C); return dotR(dst, Rb, S * C); };
  const done = zeros(C);
  be.accumulateRows(done, Rb, drows, 3, C);
  check('copyRows broadcast done', done, one, C, lossB);
  be.release(mk);
});

test('numTokens backward = d/d(weight, bias)', () => {
  const r = rng(25);
  const N = 3, F = 2, d = 5, mk = be.mark();
  const x = buf(rand(r, N * F, -2, 2)), w = buf(rand(r, F * d)), b = buf(rand(r, F * d)), R = buf(rand(r, N * F * d)), out = be.alloc(N * F * d);
  const loss = () => { be.numTokensForward(out, x, w, b, N, F, d); return dotR(out, R, N * F * d); };
  const dw = zeros(F * d), db = zeros(F * d);
  be.numTokensBackward(dw, db, R, x, N, F, d);
  check('numTokens dweight', dw, w, F * d, loss);
  check('numTokens dbias', db, b, F * d, loss);
  be.release(mk);
});

test('feature tokens backward = d/d(numW, numB, embed, catB), absent codes get nothing', () => {
  const r = rng(32);
  const B = 3, Fn = 2, Fc = 2, d = 4, Ft = Fn + Fc, E = 5, mk = be.mark();
  // Feature 0 has rows 0..2, feature 1 rows 3..4; sample 1's second code is absent (present 0).
  const rows = buf([0, 3, 2, 4, 0, 3]), present = buf([1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1]);
  const x = buf(rand(r, B * Fn, -2, 2)), w = buf(rand(r, Fn * d)), b = buf(rand(r, Fn * d)), em = buf(rand(r, E * d)), cb = buf(rand(r, Fc * d));
  const R = buf(rand(r, B * Ft * d)), tok = be.alloc(B * Ft * d), masked = be.alloc(B * Ft * d);
  // The model masks absent tokens after the forward (maskRows), so their rows carry no gradient.
  const loss = () => {
    be.featureTokensForward(tok, x, rows, w, b, em, cb, B, Fn, Fc, d);
    be.copy(masked, tok, B * Ft * d);
    be.maskRows(masked, present, B * Ft, d);
    return dotR(masked, R, B * Ft * d);
  };
  // dtok is R unmasked: the absent code's row must be skipped by the kernel itself to match.
  const dw = zeros(Fn * d), db = zeros(Fn * d), de = zeros(E * d), dc = zeros(Fc * d);
  be.featureTokensBackward(dw, db, de, dc, R, x, rows, present, B, Fn, Fc, d);
  check('featureTokens dnumW', dw, w, Fn * d, loss);
  check('featureTokens dnumB', db, b, Fn * d, loss);
  check('featureTokens dembed', de, em, E * d, loss);
  check('featureTokens dcatB', dc, cb, Fc * d, loss);
  be.release(mk);
});

test('biasGrad = d/d bias of biasAdd', () => {
  const r = rng(26);
  const N = 5, C = 3, mk = be.mark();
  const x0 = rand(r, N * C), bias = buf(rand(r, C)), R = buf(rand(r, N * C)), out = be.alloc(N * C);
  const loss = () => { be.write(out, x0); be.biasAdd(out, bias, N, C); return dotR(out, R, N * C); };
  const db = zeros(C);
  be.biasGrad(db, R, N, C);
  check('biasGrad', db, bias, C, loss);
  be.release(mk);
});

test('bceLogits gradient = d loss / d logits (gradScale 1), zero where unobserved', () => {
  const r = rng(27);
  const n = 23, mk = be.mark();
  const x = rand(r, n, -6, 6), t = new Float64Array(n), w = new Float64Array(n);
  for (let i = 0; i < n; i++) { const u = r(); t[i] = u < 0.2 ? NaN : u < 0.6 ? 0 : 1; w[i] = u < 0.2 ? 0 : 1; }
  x[0] = 30; x[1] = -30;
  const logits = buf(x), targets = buf(t), weights = buf(w), d = be.alloc(n), scratch = be.alloc(n);
  const loss = () => bceLogits(be, scratch, logits, targets, weights, n, 1);
  bceLogits(be, d, logits, targets, weights, n, 1);
  check('bceLogits', d, logits, n, loss);
  // gradScale scales the gradient only.
  const d2 = be.alloc(n);
  bceLogits(be, d2, logits, targets, weights, n, 0.25);
  close('bceLogits gradScale', be.readSync(d2, n), be.readSync(d, n).map((v) => v * 0.25), 0, 1e-15);
  be.release(mk);
});

test.run();
