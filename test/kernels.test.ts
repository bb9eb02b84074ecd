/**
 * Every non-GEMM, non-attention kernel of both WebAssembly builds against the float64 reference backend, on
 * seeded random data over sizes that cross every f32x4 edge (n&3 tails, 8-wide bodies, 16-column blocks).
 * Outputs of overwriting kernels are pre-filled with NaN; accumulating kernels start from random non-zero
 * values. Tolerances scale with the reduction length K: atol = 2e-6 + 2e-7*K on values of order 1.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bceLogits, close, put, nans, rng, randArray, reference, sumSquares, wasmBackends } from './util/harness.ts';
import type { SyncBackend, Ptr } from '../src/engine/index.ts';

const wasm = wasmBackends();
const ref = reference();
const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000];
const COLS = [1, 3, 4, 5, 8, 13, 64, 192];
const ROWS = [1, 2, 3, 7];
const tol = (K: number) => 2e-6 + 2e-7 * K;

type Out = Record<string, Float64Array | number>;
/** Run `body` on the reference and on every wasm build, compare each named output. Arena space is released. */
function compare(label: string, body: (be: SyncBackend) => Out, atol: number, rtol = 1e-6): void {
  const mr = ref.mark();
  const want = body(ref);
  ref.release(mr);
  for (const be of wasm) {
    const mk = be.mark();
    const got = body(be);
    be.release(mk);
    for (const k of Object.keys(want)) {
      const w = want[k], g = got[k];
      const ga = typeof g === 'number' ? [g] : g, wa = typeof w === 'number' ? [w] : w;
      close(`${be.name} ${label} ${k}`, ga, wa, atol, rtol);
    }
  }
}
/** Round to f32 (what both backends store). */
const f32 = (a: ArrayLike<number>) => Float32Array.from(a);

test('add, accumulate, scale, fill, copy', () => {
  const r = rng(1);
  for (const n of SIZES) {
    const a = randArray(r, n), b = randArray(r, n), s = r() * 4 - 2;
    compare(`add n=${n}`, (be) => { const o = nans(be, n); be.add(o, put(be, a), put(be, b), n); return { out: be.readSync(o, n) }; }, 1e-7);
    compare(`add in place n=${n}`, (be) => { const pa = put(be, a); be.add(pa, pa, put(be, b), n); return { out: be.readSync(pa, n) }; }, 1e-7);
    compare(`acc n=${n}`, (be) => { const d = put(be, a); be.accumulate(d, put(be, b), n); return { out: be.readSync(d, n) }; }, 1e-7);
    compare(`scale n=${n}`, (be) => { const x = put(be, a); be.scale(x, n, s); return { out: be.readSync(x, n) }; }, 1e-7);
    compare(`fill n=${n}`, (be) => { const x = nans(be, n + 1); be.fill(x, n, 0.25); return { out: be.readSync(x, n), after: be.readSync(x + n, 1).map((v) => (Number.isNaN(v) ? 7 : v)) }; }, 0);
    compare(`copy n=${n}`, (be) => { const d = nans(be, n); be.copy(d, put(be, a), n); return { out: be.readSync(d, n) }; }, 0);
  }
});

test('biasAdd, biasGrad over [N,C]', () => {
  const r = rng(2);
  for (const N of [...ROWS, 33]) for (const C of COLS) {
    const x = randArray(r, N * C), bias = randArray(r, C), db0 = randArray(r, C);
    compare(`biasAdd ${N}x${C}`, (be) => { const o = put(be, x); be.biasAdd(o, put(be, bias), N, C); return { out: be.readSync(o, N * C) }; }, 1e-7);
    compare(`biasGrad ${N}x${C}`, (be) => { const d = put(be, db0); be.biasGrad(d, put(be, x), N, C); return { dbias: be.readSync(d, C) }; }, tol(N));
  }
});

test('sumSquares (f64 accumulation), sumBuffers in order', () => {
  const r = rng(3);
  for (const n of [...SIZES, 100_003]) {
    const a = randArray(r, n, -3, 3);
    compare(`sumSquares n=${n}`, (be) => ({ s: sumSquares(be, put(be, a), n) }), 0, 1e-12);
    for (const count of [0, 1, 2, 3, 5]) {
      const stride = n + 7, src = randArray(r, stride * Math.max(count, 1));
      compare(`sumBuffers n=${n} count=${count}`, (be) => { const d = nans(be, n); be.sumBuffers(d, put(be, src), stride, count, n); return { out: be.readSync(d, n) }; }, tol(count));
    }
  }
  // dst may be the first buffer itself (reduce into replica 0).
  for (const be of wasm) {
    const n = 1037, stride = 1040, src = randArray(r, stride * 3);
    const p = put(be, src);
    be.sumBuffers(p, p, stride, 3, n);
    const want = Array.from({ length: n }, (_, i) => Math.fround(Math.fround(src[i] + src[stride + i]) + src[2 * stride + i]));
    close(`${be.name} sumBuffers into src0`, be.readSync(p, n), want, 0);
  }
});

test('maskRows leaves exact zeros (even over NaN) and keeps the other rows', () => {
  const r = rng(4);
  for (const N of [1, 2, 5, 9]) for (const C of COLS) {
    const mask = Array.from({ length: N }, (_, i) => (i === 0 ? 0 : r() < 0.5 ? 0 : 1));
    const x = randArray(r, N * C);
    for (let n = 0; n < N; n++) if (mask[n] === 0) x.fill(NaN, n * C, (n + 1) * C);
    compare(`maskRows ${N}x${C}`, (be) => { const p = put(be, x); be.maskRows(p, put(be, mask), N, C); return { out: be.readSync(p, N * C) }; }, 0);
    for (const be of wasm) {
      const p = put(be, x);
      be.maskRows(p, put(be, mask), N, C);
      const v = be.view(p, N * C);
      for (let n = 0; n < N; n++) if (mask[n] === 0) for (let c = 0; c < C; c++) {
        assert.ok(Object.is(v[n * C + c], 0), `${be.name} masked row ${n} col ${c} is ${v[n * C + c]}`);
      }
    }
  }
});

test('layernorm forward and backward', () => {
  const r = rng(5);
  for (const N of [...ROWS, 16]) for (const C of COLS) {
    const x = randArray(r, N * C, -2, 3), w = randArray(r, C, 0.5, 1.5), b = randArray(r, C);
    compare(`layernormForward ${N}x${C}`, (be) => {
      const o = nans(be, N * C), mu = nans(be, N), rs = nans(be, N);
      be.layernormForward(o, mu, rs, put(be, x), put(be, w), put(be, b), N, C);
      return { out: be.readSync(o, N * C), mean: be.readSync(mu, N), rstd: be.readSync(rs, N) };
    }, tol(C), 2e-6);
    // Backward from the same saved statistics (reference forward, rounded to f32).
    const mr = ref.mark();
    const o = ref.alloc(N * C), mu = ref.alloc(N), rs = ref.alloc(N);
    ref.layernormForward(o, mu, rs, put(ref, x), put(ref, w), put(ref, b), N, C);
    const mean = f32(ref.readSync(mu, N)), rstd = f32(ref.readSync(rs, N));
    ref.release(mr);
    const dout = randArray(r, N * C), di0 = randArray(r, N * C), dw0 = randArray(r, C), db0 = randArray(r, C);
    compare(`layernormBackward ${N}x${C}`, (be) => {
      const di = put(be, di0), dw = put(be, dw0), db = put(be, db0);
      be.layernormBackward(di, dw, db, put(be, dout), put(be, x), put(be, w), put(be, mean), put(be, rstd), N, C);
      return { dinp: be.readSync(di, N * C), dweight: be.readSync(dw, C), dbias: be.readSync(db, C) };
    }, tol(C + N), 1e-5);
  }
});

test('layernorm: a row gives the same bits whatever N and position', () => {
  const r = rng(6);
  for (const C of [5, 13, 64, 192]) {
    const N = 9, x = randArray(r, N * C), w = randArray(r, C), b = randArray(r, C);
    for (const be of wasm) {
      const o = nans(be, N * C), mu = nans(be, N), rs = nans(be, N);
      be.layernormForward(o, mu, rs, put(be, x), put(be, w), put(be, b), N, C);
      const all = Float32Array.from(be.view(o, N * C));
      for (const k of [0, 4, 8]) {
        const o1 = nans(be, C), m1 = nans(be, 1), r1 = nans(be, 1);
        be.layernormForward(o1, m1, r1, put(be, x.subarray(k * C, (k + 1) * C)), put(be, w), put(be, b), 1, C);
        const one = be.view(o1, C);
        for (let c = 0; c < C; c++) assert.ok(Object.is(one[c], all[k * C + c]), `${be.name} C=${C} row ${k} col ${c}`);
      }
    }
  }
});

test('gelu forward and backward; tanh approximation error vs the float64 reference', () => {
  const r = rng(7);
  for (const n of SIZES) {
    const x = randArray(r, n, -6, 6), dout = randArray(r, n), d0 = randArray(r, n);
    compare(`geluForward n=${n}`, (be) => { const o = nans(be, n); be.geluForward(o, put(be, x), n); return { out: be.readSync(o, n) }; }, 1e-6, 1e-6);
    compare(`geluBackward n=${n}`, (be) => { const d = put(be, d0); be.geluBackward(d, put(be, x), put(be, dout), n); return { dinp: be.readSync(d, n) }; }, 1e-6, 1e-6);
  }
  // Dense sweep: max abs error of the value and of the derivative (dout = 1) over [-10, 10] (measured: 5.2e-7,
  // the f32 rounding of |x| ~ 10, and 2.2e-7), and extreme inputs give the exact limits.
  const n = 1 << 18, x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = -10 + (20 * i) / (n - 1);
  x[0] = -100; x[1] = 100; x[2] = -1e30; x[3] = 1e30;
  const ones = new Float32Array(n).fill(1);
  const rf = ref.mark();
  const ro = ref.alloc(n), rd = put(ref, new Float64Array(n));
  ref.geluForward(ro, put(ref, x), n);
  ref.geluBackward(rd, put(ref, x), put(ref, ones), n);
  const wantF = ref.readSync(ro, n), wantB = ref.readSync(rd, n);
  ref.release(rf);
  for (const be of wasm) {
    const o = nans(be, n), d = put(be, new Float32Array(n));
    be.geluForward(o, put(be, x), n);
    be.geluBackward(d, put(be, x), put(be, ones), n);
    const gf = be.readSync(o, n), gb = be.readSync(d, n);
    let ef = 0, eb = 0;
    for (let i = 4; i < n; i++) { ef = Math.max(ef, Math.abs(gf[i] - wantF[i])); eb = Math.max(eb, Math.abs(gb[i] - wantB[i])); }
    assert.ok(ef < 1e-6 && eb < 5e-7, `${be.name} gelu max abs error fwd ${ef} bwd ${eb}`);
    for (let i = 0; i < 4; i++) {
      assert.ok(Math.abs(gf[i] - wantF[i]) <= 1e-6 * Math.abs(wantF[i]) + 1e-30, `${be.name} gelu(${x[i]}) = ${gf[i]}`);
      assert.ok(Math.abs(gb[i] - wantB[i]) < 1e-6, `${be.name} gelu'(${x[i]}) = ${gb[i]}`);
    }
    if (process.env.RF_VERBOSE) console.log(`${be.name} gelu max abs error on [-10,10]: fwd ${ef.toExponential(2)} bwd ${eb.toExponential(2)}`);
  }
});

test('softmax forward and backward', () => {
  const r = rng(8);
  for (const N of ROWS) for (const C of COLS) {
    const x = randArray(r, N * C, -8, 8);
    if (C > 2) x[1] = -Infinity; // a masked entry gives exactly 0
    compare(`softmaxForward ${N}x${C}`, (be) => { const o = nans(be, N * C); be.softmaxForward(o, put(be, x), N, C); return { out: be.readSync(o, N * C) }; }, 1e-6, 1e-5);
    const mr = ref.mark();
    const yo = ref.alloc(N * C);
    ref.softmaxForward(yo, put(ref, x), N, C);
    const y = f32(ref.readSync(yo, N * C));
    ref.release(mr);
    const dout = randArray(r, N * C), d0 = randArray(r, N * C);
    compare(`softmaxBackward ${N}x${C}`, (be) => { const d = put(be, d0); be.softmaxBackward(d, put(be, dout), put(be, y), N, C); return { dinp: be.readSync(d, N * C) }; }, tol(C));
  }
  // Large logits do not overflow.
  compare('softmax large', (be) => { const o = nans(be, 5); be.softmaxForward(o, put(be, [1000, 999, -1000, 0, 1000]), 1, 5); return { out: be.readSync(o, 5) }; }, 1e-7);
});

test('affine scatter (modality tokens into their sequences) forward and backward', () => {
  const r = rng(9);
  for (const B of [1, 2, 3, 5]) for (const T of [1, 2, 7]) for (const C of COLS) {
    // Sample i's T rows go to rows 1 + i*(T+2) + (i&1) of a [R,C] output: the gaps stay NaN (never written).
    const R = B * (T + 2) + 2, first = Array.from({ length: B }, (_, i) => 1 + i * (T + 2) + (i & 1));
    const x = randArray(r, B * T * C), sc = randArray(r, C, 0.5, 1.5), sh = randArray(r, C);
    for (const scatter of [true, false]) {
      const rowsOf = (be: SyncBackend) => (scatter ? put(be, first) : 0);
      const outRows = scatter ? R : B * T;
      compare(`affineScatterForward B=${B} T=${T} C=${C}${scatter ? '' : ' identity'}`, (be) => {
        const o = nans(be, outRows * C);
        be.affineScatterForward(o, rowsOf(be), put(be, x), put(be, sc), put(be, sh), B, T, C);
        return { out: be.readSync(o, outRows * C).map((v) => (Number.isNaN(v) ? 7 : v)) };
      }, 1e-6);
      const dout = randArray(r, outRows * C), di0 = randArray(r, B * T * C), ds0 = randArray(r, C), dh0 = randArray(r, C);
      compare(`affineScatterBackward B=${B} T=${T} C=${C}${scatter ? '' : ' identity'}`, (be) => {
        const di = put(be, di0), ds = put(be, ds0), dh = put(be, dh0);
        be.affineScatterBackward(di, ds, dh, put(be, dout), rowsOf(be), put(be, x), put(be, sc), B, T, C);
        return { dinp: be.readSync(di, B * T * C), dscale: be.readSync(ds, C), dshift: be.readSync(dh, C) };
      }, tol(B * T));
    }
  }
});

test('affine scatter gives the bits of one call per sample (the model relied on that order)', () => {
  const r = rng(29);
  const B = 3, T = 5, C = 13, first = [0, 6, 12], x = randArray(r, B * T * C), sc = randArray(r, C), dout = randArray(r, 18 * C);
  for (const be of wasm) {
    const mk = be.mark();
    const xs = put(be, x), s = put(be, sc), g = put(be, dout), a = put(be, new Float32Array(2 * C)), b = put(be, new Float32Array(2 * C));
    const di1 = put(be, new Float32Array(B * T * C)), di2 = put(be, new Float32Array(B * T * C));
    be.affineScatterBackward(di1, a, a + C, g, put(be, first), xs, s, B, T, C);
    for (let i = 0; i < B; i++) be.affineScatterBackward(di2 + i * T * C, b, b + C, g + first[i] * C, 0, xs + i * T * C, s, 1, T, C);
    assert.equal(Array.from(be.readSync(a, 2 * C)), Array.from(be.readSync(b, 2 * C)), `${be.name} dscale/dshift bits`);
    assert.equal(Array.from(be.readSync(di1, B * T * C)), Array.from(be.readSync(di2, B * T * C)), `${be.name} dinp bits`);
    be.release(mk);
  }
});

test('feature tokens of a batch (numeric + categorical embedding gather) forward and backward', () => {
  const r = rng(31);
  for (const B of [1, 2, 5]) for (const [Fn, Fc] of [[0, 1], [1, 2], [3, 3], [5, 1]]) for (const d of COLS) {
    const Ft = Fn + Fc, card = [3, 1, 4].slice(0, Fc).concat(Array(Math.max(0, Fc - 3)).fill(2));
    const offs = card.map((_, j) => card.slice(0, j).reduce((a, v) => a + v, 0)), E = card.reduce((a, v) => a + v, 0);
    const rows = Array.from({ length: B * Fc }, (_, i) => offs[i % Fc] + Math.floor(r() * card[i % Fc]));
    const present = Array.from({ length: B * Ft }, () => (r() < 0.75 ? 1 : 0));
    const x = randArray(r, B * Fn), w = randArray(r, Fn * d), bb = randArray(r, Fn * d), em = randArray(r, E * d), cb = randArray(r, Fc * d);
    compare(`featureTokensForward B=${B} Fn=${Fn} Fc=${Fc} d=${d}`, (be) => {
      const o = nans(be, B * Ft * d);
      be.featureTokensForward(o, put(be, x), put(be, rows), put(be, w), put(be, bb), put(be, em), put(be, cb), B, Fn, Fc, d);
      return { tok: be.readSync(o, B * Ft * d) };
    }, 1e-6);
    const dtok = randArray(r, B * Ft * d), g0 = [randArray(r, Fn * d), randArray(r, Fn * d), randArray(r, E * d), randArray(r, Fc * d)];
    compare(`featureTokensBackward B=${B} Fn=${Fn} Fc=${Fc} d=${d}`, (be) => {
      const [dw, db, de, dc] = g0.map((g) => put(be, g));
      be.featureTokensBackward(dw, db, de, dc, put(be, dtok), put(be, x), put(be, rows), put(be, present), B, Fn, Fc, d);
      return { dnumW: be.readSync(dw, Fn * d), dnumB: be.readSync(db, Fn * d), dembed: be.readSync(de, E * d), dcatB: be.readSync(dc, Fc * d) };
    }, tol(B));
    for (const be of wasm) {
      // The bits of the per-sample loop the kernel replaced (numTokens over one sample, add/accumulate per code).
      const mk = be.mark(), xs = put(be, x), gt = put(be, dtok);
      const a = g0.map((g) => put(be, g)), c = g0.map((g) => put(be, g));
      be.featureTokensBackward(a[0], a[1], a[2], a[3], gt, xs, put(be, rows), put(be, present), B, Fn, Fc, d);
      for (let b = 0; b < B; b++) {
        if (Fn > 0) be.numTokensBackward(c[0], c[1], gt + b * Ft * d, xs + b * Fn, 1, Fn, d);
        for (let j = 0; j < Fc; j++) {
          if (!present[b * Ft + Fn + j]) continue;
          be.accumulate(c[2] + rows[b * Fc + j] * d, gt + (b * Ft + Fn + j) * d, d);
          be.accumulate(c[3] + j * d, gt + (b * Ft + Fn + j) * d, d);
        }
      }
      [Fn * d, Fn * d, E * d, Fc * d].forEach((n, i) => assert.equal(Array.from(be.readSync(a[i], n)), Array.from(be.readSync(c[i], n)), `${be.name} gradient ${i} bits`));
      be.release(mk);
    }
  }
});

test('copyRows (gather, scatter, broadcast) and accumulateRows', () => {
  const r = rng(28);
  for (const N of [1, 2, 3, 5, 9]) for (const C of COLS) {
    const R = 2 * N + 1, src = randArray(r, R * C);
    const perm = Array.from({ length: N }, (_, i) => (i * 5 + 1) % R), zeros = new Array(N).fill(0);
    const cases: [string, number[] | null, number[] | null, number][] = [
      ['gather', null, perm, N], ['scatter', perm, null, R], ['broadcast', perm, zeros, R], ['identity', null, null, N],
    ];
    for (const [kind, dr, sr, outRows] of cases) {
      compare(`copyRows ${kind} N=${N} C=${C}`, (be) => {
        const d = nans(be, outRows * C);
        be.copyRows(d, dr ? put(be, dr) : 0, put(be, src), sr ? put(be, sr) : 0, N, C);
        return { out: be.readSync(d, outRows * C).map((v) => (Number.isNaN(v) ? 7 : v)) };
      }, 0);
    }
    const acc0 = randArray(r, C);
    compare(`accumulateRows N=${N} C=${C}`, (be) => {
      const a = put(be, acc0);
      be.accumulateRows(a, put(be, src), put(be, perm), N, C);
      return { out: be.readSync(a, C) };
    }, tol(N));
    for (const be of wasm) {
      // One add per row, in order: the bits of N `accumulate` calls.
      const mk = be.mark(), a = put(be, acc0), b = put(be, acc0), s = put(be, src);
      be.accumulateRows(a, s, put(be, perm), N, C);
      for (const p of perm) be.accumulate(b, s + p * C, C);
      assert.equal(Array.from(be.readSync(a, C)), Array.from(be.readSync(b, C)), `${be.name} accumulateRows bits`);
      be.release(mk);
    }
  }
});

test('numTokens (FT-Transformer numeric tokens) forward and backward', () => {
  const r = rng(10);
  for (const N of [1, 3, 8]) for (const F of [1, 2, 5]) for (const d of COLS) {
    const x = randArray(r, N * F, -3, 3), w = randArray(r, F * d), b = randArray(r, F * d);
    compare(`numTokensForward ${N}x${F}x${d}`, (be) => { const o = nans(be, N * F * d); be.numTokensForward(o, put(be, x), put(be, w), put(be, b), N, F, d); return { out: be.readSync(o, N * F * d) }; }, 1e-6);
    const dout = randArray(r, N * F * d), dw0 = randArray(r, F * d), db0 = randArray(r, F * d);
    compare(`numTokensBackward ${N}x${F}x${d}`, (be) => {
      const dw = put(be, dw0), db = put(be, db0);
      be.numTokensBackward(dw, db, put(be, dout), put(be, x), N, F, d);
      return { dweight: be.readSync(dw, F * d), dbias: be.readSync(db, F * d) };
    }, 3 * tol(N));
  }
});

test('patchify', () => {
  const r = rng(11);
  for (const [B, S, P] of [[1, 1, 1], [2, 4, 1], [1, 6, 3], [2, 8, 4], [3, 10, 5], [1, 14, 7], [2, 16, 16], [1, 32, 16], [2, 24, 8]]) {
    const img = randArray(r, B * S * S), n = B * S * S;
    compare(`patchify B=${B} S=${S} P=${P}`, (be) => { const o = nans(be, n); be.patchify(o, put(be, img), B, S, P); return { out: be.readSync(o, n) }; }, 0);
  }
});

test('bceLogits: weighted, NaN targets masked, stable for |x| up to 100', () => {
  const r = rng(12);
  for (const n of [...SIZES, 14 * 64]) {
    const x = randArray(r, n, -100, 100);
    for (let i = 0; i < n; i += 3) x[i] = (r() - 0.5) * 8; // plenty of moderate logits too
    const t = new Float32Array(n), w = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const u = r();
      if (u < 0.25) { t[i] = NaN; w[i] = 0; } else { t[i] = u < 0.6 ? 0 : 1; w[i] = 1; }
    }
    const gs = 1 / Math.max(1, w.reduce((s, v) => s + v, 0));
    compare(`bceLogits n=${n}`, (be) => {
      const d = nans(be, n);
      const loss = bceLogits(be, d, put(be, x), put(be, t), put(be, w), n, gs);
      return { loss, dlogits: be.readSync(d, n) };
    }, 1e-7, 1e-6);
    for (const be of wasm) {
      const d = nans(be, n);
      const loss = bceLogits(be, d, put(be, x), put(be, t), put(be, w), n, gs);
      assert.ok(Number.isFinite(loss), `${be.name} loss ${loss}`);
      const g = be.view(d, n);
      for (let i = 0; i < n; i++) if (w[i] === 0) assert.ok(Object.is(g[i], 0), `${be.name} dlogits[${i}] = ${g[i]} where w = 0`);
    }
  }
});

test('adamw over several steps', () => {
  const r = rng(13);
  for (const n of [...SIZES, 4099]) {
    const p0 = randArray(r, n), lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
    const grads = [1, 2, 3, 4, 5].map(() => randArray(r, n, -0.1, 0.1));
    compare(`adamw n=${n}`, (be) => {
      const p = put(be, p0), m = put(be, new Float32Array(n)), v = put(be, new Float32Array(n)), g = be.alloc(n);
      grads.forEach((gr, i) => { be.write(g, gr); be.adamw(p, g, m, v, n, lr, b1, b2, eps, wd, i + 1); });
      return { p: be.readSync(p, n), m: be.readSync(m, n), v: be.readSync(v, n) };
    }, 1e-6, 1e-5);
  }
});

test('kernels are deterministic: the same inputs give the same bits', () => {
  const r = rng(14);
  const N = 37, C = 192, x = randArray(r, N * C), w = randArray(r, C), b = randArray(r, C);
  for (const be of wasm) {
    const run = () => {
      const mk = be.mark();
      const o = nans(be, N * C), mu = nans(be, N), rs = nans(be, N), db = put(be, b), dw = put(be, w), di = put(be, x);
      be.layernormForward(o, mu, rs, put(be, x), put(be, w), put(be, b), N, C);
      be.layernormBackward(di, dw, db, o, put(be, x), put(be, w), mu, rs, N, C);
      be.biasGrad(db, o, N, C);
      const s = sumSquares(be, o, N * C);
      const out = [Float32Array.from(be.view(o, N * C)), Float32Array.from(be.view(di, N * C)), Float32Array.from(be.view(dw, C)), Float32Array.from(be.view(db, C)), Float32Array.of(s)];
      be.release(mk);
      return out;
    };
    const a = run(), c = run();
    a.forEach((arr, i) => assert.equal(new Uint32Array(arr.buffer), new Uint32Array(c[i].buffer), `${be.name} output ${i}`));
  }
});

test.run();
