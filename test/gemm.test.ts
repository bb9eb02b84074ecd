/**
 * f32_gemm (assembly/gemm.ts) against the float64 ReferenceBackend, in both WebAssembly builds: every
 * transpose variant, overwrite (C pre-filled with NaN) and accumulate, with and without bias, leading
 * dimensions wider than dense, and shapes that cross every tile edge (MR = 3, NR = 12,
 * KC = 256, NC = 512). Tolerance scales with K. Then determinism: a row (or column) computed alone is
 * bit-identical to the same row computed inside a larger product.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SyncBackend, WasmBackend } from '../src/engine/index.ts';
import { close, randArray, reference, rng, sameBits, wasmBackends } from './util/harness.ts';

const wasm = wasmBackends();
const ref = reference();

interface Case {
  M: number; N: number; K: number;
  tA: boolean; tB: boolean; acc: boolean; bias: boolean;
  /** Extra elements per stored row of A, B, C (0 = dense). */
  pad: number;
}

const VARIANTS: [boolean, boolean, string][] = [[false, false, 'NN'], [false, true, 'NT'], [true, false, 'TN'], [true, true, 'TT']];

/** Inputs of one case as stored (with padding), seeded by the case so every backend sees the same data. */
function inputs(cs: Case, seed: number) {
  const { M, N, K, tA, tB, pad } = cs;
  const lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad;
  const aRows = tA ? K : M, bRows = tB ? N : K;
  const r = rng(seed);
  return {
    lda, ldb, ldc,
    A: randArray(r, Math.max(1, aRows * lda)),
    B: randArray(r, Math.max(1, bRows * ldb)),
    C0: randArray(r, Math.max(1, M * ldc)),
    bias: randArray(r, Math.max(1, N)),
  };
}

/** Run one case on a backend; returns all of C (padding included) as float64. */
function run(be: SyncBackend, cs: Case, seed: number, prefillNaN: boolean): Float64Array {
  const d = inputs(cs, seed);
  const m = be.mark();
  const pa = be.alloc(d.A.length), pb = be.alloc(d.B.length), pc = be.alloc(d.C0.length), pbias = be.alloc(d.bias.length);
  be.write(pa, d.A);
  be.write(pb, d.B);
  be.write(pbias, d.bias);
  if (prefillNaN) be.fill(pc, d.C0.length, NaN);
  else be.write(pc, d.C0);
  be.gemm(pc, pa, pb, cs.bias ? pbias : 0, cs.M, cs.N, cs.K, { transA: cs.tA, transB: cs.tB, accumulate: cs.acc, lda: d.lda, ldb: d.ldb, ldc: d.ldc });
  const out = be.readSync(pc, d.C0.length);
  be.release(m);
  return out;
}

function check(be: WasmBackend, cs: Case, seed: number): void {
  const label = `${be.name} M=${cs.M} N=${cs.N} K=${cs.K} ${cs.tA ? 'T' : 'N'}${cs.tB ? 'T' : 'N'} ${cs.acc ? 'acc' : 'over'}${cs.bias ? '+bias' : ''} pad=${cs.pad}`;
  const prefill = !cs.acc;
  const got = run(be, cs, seed, prefill);
  const want = run(ref, cs, seed, prefill);
  const ldc = cs.N + cs.pad;
  const g: number[] = [], w: number[] = [];
  for (let i = 0; i < cs.M; i++) {
    for (let j = 0; j < ldc; j++) {
      const v = got[i * ldc + j], u = want[i * ldc + j];
      if (j < cs.N) { g.push(v); w.push(u); continue; }
      // Padding between rows is never written.
      if (!(Object.is(v, u) || (Number.isNaN(v) && Number.isNaN(u)))) throw new Error(`${label}: padding C[${i},${j}] was written (${v})`);
    }
  }
  close(label, g, w, 2e-6 * (cs.K + 4), 1e-5);
}

test('all variants, overwrite/accumulate, bias, across every tile edge', () => {
  // M crosses MR = 3 (1, 2, 3, 4, 7 = 2*3+1, ...); N crosses NR = 12 and every n&8/n&4/n&2/n&1 tail (1..11,
  // 12, 13, 25 = 2*12+1); K: 0, 1, odd, multiples of 4 (the packers' transposes) and not.
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 8, 5], [3, 7, 4], [4, 12, 8], [5, 9, 3], [6, 15, 17], [7, 16, 1], [2, 11, 6],
    [9, 13, 33], [13, 3, 12], [12, 5, 7], [2, 6, 2], [8, 24, 16], [11, 2, 0], [7, 25, 9], [3, 10, 13], [5, 4, 11], [4, 5, 3],
  ];
  let seed = 1, n = 0;
  for (const be of wasm) {
    for (const [M, N, K] of shapes) {
      for (const [tA, tB] of VARIANTS) {
        for (const acc of [false, true]) {
          for (const bias of [false, true]) {
            check(be, { M, N, K, tA, tB, acc, bias, pad: seed % 3 === 0 ? 3 : 0 }, seed++);
            n++;
          }
        }
      }
    }
  }
  assert.ok(n > 0);
});

test('K and N bigger than one block (KC = 256, NC = 512), padded strides', () => {
  const shapes: [number, number, number][] = [[7, 19, 257], [13, 9, 600], [5, 530, 37], [25, 33, 256]];
  let seed = 1000;
  for (const be of wasm) {
    for (const [M, N, K] of shapes) {
      for (const [tA, tB] of VARIANTS) {
        for (const acc of [false, true]) check(be, { M, N, K, tA, tB, acc, bias: acc, pad: 5 }, seed++);
      }
    }
  }
});

test('M = 0 or N = 0 writes nothing (the kernel itself short-circuits too)', () => {
  for (const be of wasm) {
    const m = be.mark();
    const a = be.alloc(64), b = be.alloc(64), c = be.alloc(64);
    be.fill(a, 64, 1);
    be.fill(b, 64, 1);
    be.fill(c, 64, 5);
    be.gemm(c, a, b, 0, 0, 4, 4);
    be.gemm(c, a, b, 0, 4, 0, 4);
    const ws = be.alloc(1 << 21);
    be.x.f32_gemm(c * 4, a * 4, b * 4, 0, 0, 4, 4, 4, 4, 4, 0, ws * 4, 0, 0, 0);
    be.x.f32_gemm(c * 4, a * 4, b * 4, 0, 4, 0, 4, 4, 4, 4, 0, ws * 4, 0, 0, 0);
    assert.ok(Array.from(be.readSync(c, 64)).every((v) => v === 5), `${be.name}: C was written`);
    be.release(m);
  }
});

test('determinism: a row or column computed alone is bit-identical to it inside the full product', () => {
  const M = 29, N = 37, K = 300;
  for (const be of wasm) {
    for (const [tA, tB, name] of VARIANTS) {
      for (const acc of [false, true]) {
        const r = rng(77);
        const lda = tA ? M : K, ldb = tB ? K : N;
        const m = be.mark();
        const a = be.alloc(M * K), b = be.alloc(K * N), bias = be.alloc(N), c0 = be.alloc(M * N), full = be.alloc(M * N), part = be.alloc(M * N);
        be.write(a, randArray(r, M * K));
        be.write(b, randArray(r, K * N));
        be.write(bias, randArray(r, N));
        be.write(c0, randArray(r, M * N));
        const opts = { transA: tA, transB: tB, accumulate: acc, lda, ldb, ldc: N };
        be.copy(full, c0, M * N);
        be.gemm(full, a, b, bias, M, N, K, opts);
        const F = be.view(full, M * N).slice();
        // Row windows [i, i+len): the single row in every tile position, and windows that shift the tiling.
        for (const [i, len] of [[0, 1], [3, 1], [5, 1], [6, 1], [11, 1], [24, 1], [28, 1], [1, 5], [7, 9], [23, 6]]) {
          if (!acc) be.fill(part, M * N, NaN);
          else be.copy(part, c0, M * N);
          const aOff = tA ? a + i : a + i * lda;
          be.gemm(part + i * N, aOff, b, bias, len, N, K, opts);
          sameBits(`${be.name} ${name} ${acc ? 'acc' : 'over'} rows [${i},${i + len})`, be.view(part + i * N, len * N).slice(), F.subarray(i * N, (i + len) * N));
        }
        // Column windows [j, j+len): B's columns offset, C's too, same ldc.
        for (const [j, len] of [[0, 1], [5, 3], [8, 9], [33, 4]]) {
          if (!acc) be.fill(part, M * N, NaN);
          else be.copy(part, c0, M * N);
          const bOff = tB ? b + j * ldb : b + j;
          be.gemm(part + j, a, bOff, bias + j, M, len, K, opts);
          const P = be.view(part, M * N);
          for (let i = 0; i < M; i++) {
            sameBits(`${be.name} ${name} ${acc ? 'acc' : 'over'} cols [${j},${j + len}) row ${i}`, P.slice(i * N + j, i * N + j + len), F.subarray(i * N + j, i * N + j + len));
          }
        }
        be.release(m);
      }
    }
  }
});

test.run();
