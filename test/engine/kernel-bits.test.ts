/**
 * Kernel properties that are not a comparison with the reference (those are the op table's:
 * test/engine/op-table-wasm.test.ts), in both WebAssembly builds: bit-identity between a fused call and the call pattern
 * the model used before it (the model relies on those orders), a row's bits whatever its batch, the GELU
 * forms' error over a dense sweep with exact limits at extreme inputs, and the BCE's exact zeros where a
 * label is unobserved.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bceLogits, close, put, nans, rng, randArray, reference, wasmBackends } from '../util/harness.ts';

const wasm = wasmBackends();
const ref = reference();
const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000];
const COLS = [1, 3, 4, 5, 8, 13, 64, 192];

test('sumBuffers may reduce into the first buffer itself (replica 0), adding in order', () => {
  const r = rng(3);
  // dst may be the first buffer itself (reduce into replica 0).
  for (const be of wasm) {
    const n = 1037, stride = 1040, src = randArray(r, stride * 3);
    const p = put(be, src);
    be.sumBuffers(p, p, stride, 3, n);
    const want = Array.from({ length: n }, (_, i) => Math.fround(Math.fround(src[i] + src[stride + i]) + src[2 * stride + i]));
    close(`${be.name} sumBuffers into src0`, be.readSync(p, n), want, 0);
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

test('gelu (tanh): max error over a dense sweep of [-10, 10] and exact limits at extreme inputs', () => {
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

test('feature tokens backward gives the bits of the per-sample loop it replaced', () => {
  const r = rng(31);
  for (const B of [1, 2, 5]) for (const [Fn, Fc] of [[0, 1], [1, 2], [3, 3], [5, 1]]) for (const d of COLS) {
    const Ft = Fn + Fc, card = [3, 1, 4].slice(0, Fc).concat(Array(Math.max(0, Fc - 3)).fill(2));
    const offs = card.map((_, j) => card.slice(0, j).reduce((a, v) => a + v, 0)), E = card.reduce((a, v) => a + v, 0);
    const rows = Array.from({ length: B * Fc }, (_, i) => offs[i % Fc] + Math.floor(r() * card[i % Fc]));
    const present = Array.from({ length: B * Ft }, () => (r() < 0.75 ? 1 : 0));
    const x = randArray(r, B * Fn), w = randArray(r, Fn * d), bb = randArray(r, Fn * d), em = randArray(r, E * d), cb = randArray(r, Fc * d);
    const dtok = randArray(r, B * Ft * d), g0 = [randArray(r, Fn * d), randArray(r, Fn * d), randArray(r, E * d), randArray(r, Fc * d)];
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

test('accumulateRows gives the bits of N accumulate calls, in order', () => {
  const r = rng(28);
  for (const N of [1, 2, 3, 5, 9]) for (const C of COLS) {
    const R = 2 * N + 1, src = randArray(r, R * C);
    const perm = Array.from({ length: N }, (_, i) => (i * 5 + 1) % R);
    const acc0 = randArray(r, C);
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

test('bceLogits: finite for |x| up to 100, exactly 0 gradient where a label is unobserved (NaN target)', () => {
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
    for (const be of wasm) {
      const d = nans(be, n);
      const loss = bceLogits(be, d, put(be, x), put(be, t), put(be, w), n, gs);
      assert.ok(Number.isFinite(loss), `${be.name} loss ${loss}`);
      const g = be.view(d, n);
      for (let i = 0; i < n; i++) if (w[i] === 0) assert.ok(Object.is(g[i], 0), `${be.name} dlogits[${i}] = ${g[i]} where w = 0`);
    }
  }
});

test('bceLogits: gradScale scales the gradient only (reference and wasm)', () => {
  const r = rng(27), n = 23;
  const x = randArray(r, n, -6, 6), t = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? NaN : i % 3 === 1 ? 0 : 1));
  const w = Float32Array.from(t, (v) => (Number.isNaN(v) ? 0 : 1));
  for (const be of [ref, ...wasm]) {
    const mk = be.mark(), d1 = be.alloc(n), d2 = be.alloc(n), xs = put(be, x), ts = put(be, t), ws = put(be, w);
    const l1 = bceLogits(be, d1, xs, ts, ws, n, 1), l2 = bceLogits(be, d2, xs, ts, ws, n, 0.25);
    assert.is(l2, l1, `${be.name} loss`);
    close(`${be.name} gradScale`, be.readSync(d2, n), be.readSync(d1, n).map((v) => v * 0.25), 0, 1e-15);
    be.release(mk);
  }
});

test.run();
