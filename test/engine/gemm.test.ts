/**
 * f32_gemm (assembly/gemm.ts) properties beyond the comparison with the float64 reference (that is the op
 * table's 'gemm' row, test/engine/op-table-wasm.test.ts: every transpose variant, overwrite and accumulate, bias, padded
 * strides, every tile edge): M = 0 or N = 0 writes nothing, and a row (or column) computed alone is
 * bit-identical to the same row computed inside a larger product, in both WebAssembly builds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randArray, rng, sameBits, wasmBackends } from '../util/harness.ts';

const wasm = wasmBackends();

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

const VARIANTS: [boolean, boolean, string][] = [[false, false, 'NN'], [false, true, 'NT'], [true, false, 'TN'], [true, true, 'TT']];

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
