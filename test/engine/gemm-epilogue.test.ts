/**
 * The fused GEMM options (GemmOptions.residual and .epilogue, assembly/gemm.ts) in both WebAssembly builds:
 * bit-identical to the unfused sequences the model used before (copy + accumulate; gemm then geluForward;
 * gemm, fill 0 and geluBackward) wherever those ran on whole f32x4 vectors, and padding between rows never
 * written. The comparison with the float64 reference across every tile edge and the fused MLP backward
 * against central differences are the op table's ('gemm residual', 'gemm gelu', 'gemm geluGrad' rows,
 * test/engine/op-table-wasm.test.ts).
 */
import { test } from 'uvu';
import type { GemmEpilogue, Ptr, SyncBackend } from '../../src/engine/index.ts';
import { put, randArray, rng, sameBits, wasmBackends } from '../util/harness.ts';

const wasm = wasmBackends();
const FORMS = ['tanh', 'erf'] as const;

interface Shape { M: number; N: number; K: number; pad: number; tB: boolean }
// M across MR = 3, N across NR = 12 (and its 8/4/2/1 tails) and NC = 512, K across KC = 256.
const SHAPES: Shape[] = [
  { M: 1, N: 1, K: 1, pad: 0, tB: true }, { M: 2, N: 5, K: 7, pad: 3, tB: false }, { M: 3, N: 12, K: 16, pad: 0, tB: true },
  { M: 4, N: 13, K: 9, pad: 1, tB: false }, { M: 7, N: 24, K: 33, pad: 0, tB: true }, { M: 8, N: 36, K: 300, pad: 4, tB: false },
  { M: 5, N: 520, K: 20, pad: 0, tB: true }, { M: 10, N: 23, K: 257, pad: 2, tB: true },
];

/** A [M,K] and B (op(B) [K,N], stored [N,K] when tB) with bias, plus two C-shaped arrays (rows ldc apart). */
function data(s: Shape, seed: number) {
  const r = rng(seed), ldc = s.N + s.pad;
  return {
    ldc, A: randArray(r, s.M * s.K, -1.5, 1.5), B: randArray(r, s.K * s.N, -1.5, 1.5), bias: randArray(r, s.N),
    C0: randArray(r, s.M * ldc, -3, 3), X0: randArray(r, s.M * ldc, -4, 4),
  };
}

/** Every element of C [M,N] (rows ldc apart); padding must equal `fill` (never written). */
function rowsOf(label: string, all: Float64Array, s: Shape, ldc: number, pad: Float32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.M; i++) for (let j = 0; j < ldc; j++) {
    const v = all[i * ldc + j];
    if (j < s.N) out.push(v);
    else if (!Object.is(Math.fround(v), pad[i * ldc + j])) throw new Error(`${label}: padding [${i},${j}] was written (${v})`);
  }
  return out;
}

interface Out { c: Float64Array; x: Float64Array }

/** One fused gemm on a backend: C (from C0) and the aux buffer X (from X0; the GELU output or the pre-activation). */
function fused(be: SyncBackend, s: Shape, d: ReturnType<typeof data>, ep: (x: Ptr) => GemmEpilogue | undefined, residual: boolean, acc: boolean): Out {
  const mk = be.mark();
  const a = put(be, d.A), b = put(be, d.B), bias = put(be, d.bias), c = put(be, d.C0), x = put(be, d.X0);
  const r = residual ? put(be, d.X0) : 0;
  be.gemm(c, a, b, bias, s.M, s.N, s.K, { transB: s.tB, ldc: d.ldc, accumulate: acc, residual: r || undefined, epilogue: ep(x) });
  const out = { c: be.readSync(c, d.C0.length), x: be.readSync(x, d.X0.length) };
  be.release(mk);
  return out;
}

test('residual: C = R + A·B + bias has the bits of copy(C, R) + accumulate', () => {
  SHAPES.forEach((s, k) => {
    const d = data(s, 10 + k);
    for (const be of wasm) {
      const label = `${be.name} residual M=${s.M} N=${s.N} K=${s.K}`;
      const got = fused(be, s, d, () => undefined, true, true);
      // unfused: C = R first, then accumulate
      const mk = be.mark();
      const a = put(be, d.A), b = put(be, d.B), bias = put(be, d.bias), c = put(be, d.C0);
      be.write(c, d.X0);
      be.gemm(c, a, b, bias, s.M, s.N, s.K, { transB: s.tB, ldc: d.ldc, accumulate: true });
      const old = Float32Array.from(be.readSync(c, d.C0.length));
      be.release(mk);
      const oldRows = rowsOf(label, Float64Array.from(old), s, d.ldc, d.X0), newRows = rowsOf(label, got.c, s, d.ldc, d.C0);
      sameBits(`${label} vs copy + accumulate`, Float32Array.from(newRows), Float32Array.from(oldRows));
    }
  });
});

test('gelu epilogue: out = GELU(C) has the bits of the separate geluForward, both forms; padding unwritten', () => {
  SHAPES.forEach((s, k) => {
    for (const form of FORMS) {
      const d = data(s, 100 + k);
      const ep = (x: Ptr): GemmEpilogue => ({ op: 'gelu', form, out: x });
      for (const be of wasm) {
        const label = `${be.name} gelu ${form} M=${s.M} N=${s.N} K=${s.K}${k % 2 ? ' acc' : ''}`;
        const got = fused(be, s, d, ep, false, k % 2 === 1);
        rowsOf(label, got.c, s, d.ldc, d.C0);
        rowsOf(label, got.x, s, d.ldc, d.X0);
        if (s.N % 4 !== 0) continue;
        // The separate kernel over each row (whole vectors when N % 4 == 0): the same bits.
        const mk = be.mark();
        const pre = put(be, Float32Array.from(got.c)), y = put(be, new Float32Array(s.N));
        for (let i = 0; i < s.M; i++) {
          if (form === 'erf') be.geluErfForward(y, pre + i * d.ldc, s.N); else be.geluForward(y, pre + i * d.ldc, s.N);
          sameBits(`${label} row ${i} vs geluForward`, Float32Array.from(be.readSync(y, s.N)), Float32Array.from(got.x.subarray(i * d.ldc, i * d.ldc + s.N)));
        }
        be.release(mk);
      }
    }
  });
});

test('geluGrad epilogue: C = GELU\'(pre)·(A·B) has the bits of fill + geluBackward, both forms; pre unchanged', () => {
  SHAPES.forEach((s, k) => {
    for (const form of FORMS) {
      const d = data(s, 200 + k);
      const ep = (x: Ptr): GemmEpilogue => ({ op: 'geluGrad', form, pre: x });
      for (const be of wasm) {
        const label = `${be.name} geluGrad ${form} M=${s.M} N=${s.N} K=${s.K}`;
        const got = fused(be, s, d, ep, false, false);
        rowsOf(label, got.c, s, d.ldc, d.C0);
        sameBits(`${label} pre unchanged`, Float32Array.from(got.x), d.X0);
        if (s.N % 4 !== 0) continue;
        // unfused: the plain product, then dinp = 0 and dinp += GELU'(pre)·product, row by row
        const plain = fused(be, s, d, () => undefined, false, false);
        const mk = be.mark();
        const prod = put(be, Float32Array.from(plain.c)), pre = put(be, d.X0), dinp = be.alloc(s.N);
        for (let i = 0; i < s.M; i++) {
          be.fill(dinp, s.N, 0);
          if (form === 'erf') be.geluErfBackward(dinp, pre + i * d.ldc, prod + i * d.ldc, s.N);
          else be.geluBackward(dinp, pre + i * d.ldc, prod + i * d.ldc, s.N);
          sameBits(`${label} row ${i} vs geluBackward`, Float32Array.from(be.readSync(dinp, s.N)), Float32Array.from(got.c.subarray(i * d.ldc, i * d.ldc + s.N)));
        }
        be.release(mk);
      }
    }
  });
});

test.run();
