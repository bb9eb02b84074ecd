/**
 * Benchmark of every kernel except GEMM and attention (assembly/norm.ts, activation.ts, elementwise.ts,
 * loss.ts, optim.ts), one thread, at model-like shapes: 4096 tokens of width 192 (the small preset's
 * d) or 768 (its MLP width), 3M parameters for the optimizer and the gradient reductions, a 32-image batch
 * of 224x224 for patchify. Each kernel is verified first (the same kernel at a reduced shape against the
 * float64 reference backend), then timed. Rows give median, spread, GB/s (bytes the kernel must move, as
 * `GBps`) and, where the kernel computes more than it moves, GFLOP/s against the build's measured peak.
 * Most of these kernels are memory bound: GB/s is their figure of merit.
 */
import { ReferenceBackend, SCALAR_FLOATS, WasmBackend, wasmBuildSupported } from '../src/engine/index.ts';
import type { SyncBackend, Ptr, WasmBuild } from '../src/engine/index.ts';
import { measure, measurePeak, row } from './util.ts';
import type { BenchMain } from './util.ts';

/** Deterministic inputs in [lo, hi). */
function data(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return a;
}
function put(be: SyncBackend, a: ArrayLike<number>): Ptr {
  const p = be.alloc(a.length);
  be.write(p, a);
  return p;
}

interface Case {
  name: string;
  /** Full (benchmark) dims and reduced (verification) dims. */
  dims: number[];
  small: number[];
  shape: (d: number[]) => string;
  /** Bytes a kernel call must read + write at least. */
  bytes: (d: number[]) => number;
  flops?: (d: number[]) => number;
  /** Allocate and fill inputs on `be`; returns the call and the outputs to verify. */
  setup: (be: SyncBackend, d: number[]) => { run: () => unknown; out: () => Float64Array[] };
}

const T = 4096, D = 192, H = 768, NP = 3_000_000;
const CASES: Case[] = [
  {
    name: 'layernorm_fwd', dims: [T, D], small: [37, D], shape: ([N, C]) => `N=${N} C=${C}`,
    bytes: ([N, C]) => 8 * N * C, flops: ([N, C]) => 7 * N * C,
    setup: (be, [N, C]) => {
      const x = put(be, data(N * C, 1, -2, 3)), w = put(be, data(C, 2, 0.5, 1.5)), b = put(be, data(C, 3));
      const o = be.alloc(N * C), mu = be.alloc(N), rs = be.alloc(N);
      return { run: () => be.layernormForward(o, mu, rs, x, w, b, N, C), out: () => [be.readSync(o, N * C), be.readSync(rs, N)] };
    },
  },
  {
    name: 'layernorm_bwd', dims: [T, D], small: [37, D], shape: ([N, C]) => `N=${N} C=${C}`,
    bytes: ([N, C]) => 16 * N * C, flops: ([N, C]) => 14 * N * C,
    setup: (be, [N, C]) => {
      const x = put(be, data(N * C, 1, -2, 3)), w = put(be, data(C, 2, 0.5, 1.5)), b = put(be, data(C, 3));
      const o = be.alloc(N * C), mu = be.alloc(N), rs = be.alloc(N);
      be.layernormForward(o, mu, rs, x, w, b, N, C);
      if (be.precision === 'f64') { be.write(mu, Float32Array.from(be.readSync(mu, N))); be.write(rs, Float32Array.from(be.readSync(rs, N))); }
      const g = put(be, data(N * C, 4)), di = put(be, new Float32Array(N * C)), dw = put(be, new Float32Array(C)), db = put(be, new Float32Array(C));
      return { run: () => be.layernormBackward(di, dw, db, g, x, w, mu, rs, N, C), out: () => [be.readSync(di, N * C), be.readSync(dw, C), be.readSync(db, C)] };
    },
  },
  {
    name: 'gelu_fwd', dims: [T * H], small: [1003], shape: ([n]) => `n=${n}`,
    bytes: ([n]) => 8 * n, flops: ([n]) => 22 * n,
    setup: (be, [n]) => {
      const x = put(be, data(n, 5, -5, 5)), o = be.alloc(n);
      return { run: () => be.geluForward(o, x, n), out: () => [be.readSync(o, n)] };
    },
  },
  {
    name: 'gelu_bwd', dims: [T * H], small: [1003], shape: ([n]) => `n=${n}`,
    bytes: ([n]) => 16 * n, flops: ([n]) => 32 * n,
    setup: (be, [n]) => {
      const x = put(be, data(n, 5, -5, 5)), g = put(be, data(n, 6)), d = put(be, new Float32Array(n));
      return { run: () => be.geluBackward(d, x, g, n), out: () => [be.readSync(d, n)] };
    },
  },
  {
    name: 'add', dims: [T * D], small: [1003], shape: ([n]) => `n=${n}`, bytes: ([n]) => 12 * n,
    setup: (be, [n]) => {
      const a = put(be, data(n, 10)), b = put(be, data(n, 11)), o = be.alloc(n);
      return { run: () => be.add(o, a, b, n), out: () => [be.readSync(o, n)] };
    },
  },
  {
    name: 'acc', dims: [NP], small: [1003], shape: ([n]) => `n=${n}`, bytes: ([n]) => 12 * n,
    setup: (be, [n]) => {
      const a = put(be, data(n, 10)), b = put(be, data(n, 11));
      return { run: () => be.accumulate(a, b, n), out: () => [be.readSync(a, n)] };
    },
  },
  {
    name: 'scale', dims: [NP], small: [1003], shape: ([n]) => `n=${n}`, bytes: ([n]) => 8 * n,
    setup: (be, [n]) => {
      const a = put(be, data(n, 12));
      return { run: () => be.scale(a, n, -1), out: () => [be.readSync(a, n)] };
    },
  },
  {
    name: 'fill', dims: [NP], small: [1003], shape: ([n]) => `n=${n}`, bytes: ([n]) => 4 * n,
    setup: (be, [n]) => {
      const a = be.alloc(n);
      return { run: () => be.fill(a, n, 0), out: () => [be.readSync(a, n)] };
    },
  },
  {
    name: 'copy', dims: [NP], small: [1003], shape: ([n]) => `n=${n}`, bytes: ([n]) => 8 * n,
    setup: (be, [n]) => {
      const a = put(be, data(n, 13)), o = be.alloc(n);
      return { run: () => be.copy(o, a, n), out: () => [be.readSync(o, n)] };
    },
  },
  {
    name: 'bias_add', dims: [T, H], small: [13, H], shape: ([N, C]) => `N=${N} C=${C}`, bytes: ([N, C]) => 8 * N * C,
    setup: (be, [N, C]) => {
      const o = put(be, data(N * C, 14)), b = put(be, data(C, 15));
      return { run: () => be.biasAdd(o, b, N, C), out: () => [be.readSync(o, N * C)] };
    },
  },
  {
    name: 'bias_grad', dims: [T, H], small: [13, H], shape: ([N, C]) => `N=${N} C=${C}`, bytes: ([N, C]) => 4 * N * C,
    setup: (be, [N, C]) => {
      const g = put(be, data(N * C, 16)), db = put(be, new Float32Array(C));
      return { run: () => be.biasGrad(db, g, N, C), out: () => [be.readSync(db, C)] };
    },
  },
  {
    name: 'sumsq', dims: [NP], small: [1003], shape: ([n]) => `n=${n}`, bytes: ([n]) => 4 * n,
    setup: (be, [n]) => {
      const a = put(be, data(n, 17)), s = be.alloc(SCALAR_FLOATS);
      return { run: () => be.sumSquaresTo(s, a, n), out: () => [Float64Array.of(be.readScalarSync(s))] };
    },
  },
  {
    name: 'sum_buffers', dims: [NP, 4], small: [1003, 3], shape: ([n, k]) => `n=${n} count=${k}`, bytes: ([n, k]) => 4 * n * (k + 1),
    setup: (be, [n, k]) => {
      const src = put(be, data(n * k, 18)), o = be.alloc(n);
      return { run: () => be.sumBuffers(o, src, n, k, n), out: () => [be.readSync(o, n)] };
    },
  },
  {
    name: 'mask_rows', dims: [T, D], small: [13, D], shape: ([N, C]) => `N=${N} C=${C} half`, bytes: ([N, C]) => 2 * N * C,
    setup: (be, [N, C]) => {
      const x = put(be, data(N * C, 19)), m = put(be, Array.from({ length: N }, (_, i) => i & 1));
      return { run: () => be.maskRows(x, m, N, C), out: () => [be.readSync(x, N * C)] };
    },
  },
  {
    // B samples of T tokens scattered to every other block of T rows (the fusion assembly's pattern).
    name: 'affine_scatter_fwd', dims: [32, T / 32, D], small: [3, 13, D], shape: ([B, N, C]) => `B=${B} T=${N} C=${C}`, bytes: ([B, N, C]) => 8 * B * N * C,
    setup: (be, [B, N, C]) => {
      const x = put(be, data(B * N * C, 20)), s = put(be, data(C, 21)), h = put(be, data(C, 22)), o = put(be, new Float32Array(2 * B * N * C));
      const rows = put(be, Array.from({ length: B }, (_, i) => 2 * i * N));
      return { run: () => be.affineScatterForward(o, rows, x, s, h, B, N, C), out: () => [be.readSync(o, 2 * B * N * C)] };
    },
  },
  {
    name: 'affine_scatter_bwd', dims: [32, T / 32, D], small: [3, 13, D], shape: ([B, N, C]) => `B=${B} T=${N} C=${C}`, bytes: ([B, N, C]) => 16 * B * N * C,
    setup: (be, [B, N, C]) => {
      const x = put(be, data(B * N * C, 20)), s = put(be, data(C, 21)), g = put(be, data(2 * B * N * C, 23));
      const rows = put(be, Array.from({ length: B }, (_, i) => 2 * i * N));
      const di = put(be, new Float32Array(B * N * C)), ds = put(be, new Float32Array(C)), dh = put(be, new Float32Array(C));
      return { run: () => be.affineScatterBackward(di, ds, dh, g, rows, x, s, B, N, C), out: () => [be.readSync(di, B * N * C), be.readSync(ds, C), be.readSync(dh, C)] };
    },
  },
  {
    name: 'copy_rows', dims: [256, D], small: [13, D], shape: ([N, C]) => `N=${N} C=${C} gather`, bytes: ([N, C]) => 8 * N * C,
    setup: (be, [N, C]) => {
      const x = put(be, data(2 * N * C, 20)), o = be.alloc(N * C), rows = put(be, Array.from({ length: N }, (_, i) => (i * 7) % (2 * N)));
      return { run: () => be.copyRows(o, 0, x, rows, N, C), out: () => [be.readSync(o, N * C)] };
    },
  },
  {
    name: 'acc_rows', dims: [256, D], small: [13, D], shape: ([N, C]) => `N=${N} C=${C}`, bytes: ([N, C]) => 4 * N * C,
    setup: (be, [N, C]) => {
      const x = put(be, data(2 * N * C, 20)), o = put(be, new Float32Array(C)), rows = put(be, Array.from({ length: N }, (_, i) => 2 * i));
      return { run: () => be.accumulateRows(o, x, rows, N, C), out: () => [be.readSync(o, C)] };
    },
  },
  {
    name: 'numtok_fwd', dims: [256, 16, D], small: [5, 3, D], shape: ([N, F, d]) => `N=${N} F=${F} d=${d}`, bytes: ([N, F, d]) => 4 * N * F * d,
    setup: (be, [N, F, d]) => {
      const x = put(be, data(N * F, 24)), w = put(be, data(F * d, 25)), b = put(be, data(F * d, 26)), o = be.alloc(N * F * d);
      return { run: () => be.numTokensForward(o, x, w, b, N, F, d), out: () => [be.readSync(o, N * F * d)] };
    },
  },
  {
    name: 'numtok_bwd', dims: [256, 16, D], small: [5, 3, D], shape: ([N, F, d]) => `N=${N} F=${F} d=${d}`, bytes: ([N, F, d]) => 4 * N * F * d,
    setup: (be, [N, F, d]) => {
      const x = put(be, data(N * F, 24)), g = put(be, data(N * F * d, 27)), dw = put(be, new Float32Array(F * d)), db = put(be, new Float32Array(F * d));
      return { run: () => be.numTokensBackward(dw, db, g, x, N, F, d), out: () => [be.readSync(dw, F * d), be.readSync(db, F * d)] };
    },
  },
  {
    // 4 numeric + 4 categorical features (8 codes each) per sample.
    name: 'feature_tokens_fwd', dims: [256, D], small: [5, D], shape: ([N, d]) => `B=${N} Fn=4 Fc=4 d=${d}`, bytes: ([N, d]) => 4 * N * 8 * d * 3,
    setup: (be, [N, d]) => {
      const x = put(be, data(N * 4, 24)), w = put(be, data(4 * d, 25)), b = put(be, data(4 * d, 26)), em = put(be, data(32 * d, 27)), cb = put(be, data(4 * d, 28));
      const rows = put(be, Array.from({ length: N * 4 }, (_, i) => (i % 4) * 8 + (i % 8))), o = be.alloc(N * 8 * d);
      return { run: () => be.featureTokensForward(o, x, rows, w, b, em, cb, N, 4, 4, d), out: () => [be.readSync(o, N * 8 * d)] };
    },
  },
  {
    name: 'feature_tokens_bwd', dims: [256, D], small: [5, D], shape: ([N, d]) => `B=${N} Fn=4 Fc=4 d=${d}`, bytes: ([N, d]) => 4 * N * 8 * d * 3,
    setup: (be, [N, d]) => {
      const x = put(be, data(N * 4, 24)), g = put(be, data(N * 8 * d, 29)), pres = put(be, new Float32Array(N * 8).fill(1));
      const rows = put(be, Array.from({ length: N * 4 }, (_, i) => (i % 4) * 8 + (i % 8)));
      const dw = put(be, new Float32Array(4 * d)), db = put(be, new Float32Array(4 * d)), de = put(be, new Float32Array(32 * d)), dc = put(be, new Float32Array(4 * d));
      return { run: () => be.featureTokensBackward(dw, db, de, dc, g, x, rows, pres, N, 4, 4, d), out: () => [be.readSync(dw, 4 * d), be.readSync(de, 32 * d), be.readSync(dc, 4 * d)] };
    },
  },
  {
    name: 'patchify', dims: [32, 224, 16], small: [2, 32, 16], shape: ([B, S, P]) => `B=${B} S=${S} P=${P}`, bytes: ([B, S]) => 8 * B * S * S,
    setup: (be, [B, S, P]) => {
      const img = put(be, data(B * S * S, 28)), o = be.alloc(B * S * S);
      return { run: () => be.patchify(o, img, B, S, P), out: () => [be.readSync(o, B * S * S)] };
    },
  },
  {
    name: 'bce_logits', dims: [256 * 14], small: [14 * 5], shape: ([n]) => `n=${n}`, bytes: ([n]) => 16 * n,
    setup: (be, [n]) => {
      const x = put(be, data(n, 29, -10, 10)), t = put(be, data(n, 30, 0, 1).map(Math.round)), w = put(be, data(n, 31, 0, 1).map((v) => (v < 0.3 ? 0 : 1)));
      const d = be.alloc(n), loss = be.alloc(SCALAR_FLOATS);
      return { run: () => be.bceLogitsTo(loss, d, x, t, w, n, 1 / n), out: () => [be.readSync(d, n), Float64Array.of(be.readScalarSync(loss))] };
    },
  },
  {
    name: 'adamw', dims: [NP], small: [1003], shape: ([n]) => `n=${n}`, bytes: ([n]) => 28 * n, flops: ([n]) => 18 * n,
    setup: (be, [n]) => {
      const p = put(be, data(n, 32)), g = put(be, data(n, 33, -0.1, 0.1)), m = put(be, new Float32Array(n)), v = put(be, new Float32Array(n));
      let t = 0;
      return { run: () => be.adamw(p, g, m, v, n, 1e-3, 0.9, 0.999, 1e-8, 0.05, ++t), out: () => [be.readSync(p, n), be.readSync(m, n), be.readSync(v, n)] };
    },
  },
];

/** Run a case once at its reduced shape on the reference and on `be`; throw on a mismatch. */
function verify(c: Case, be: WasmBackend): void {
  const ref = new ReferenceBackend();
  const want = c.setup(ref, c.small), mk = be.mark(), got = c.setup(be, c.small);
  want.run();
  got.run();
  const w = want.out(), g = got.out();
  be.release(mk);
  w.forEach((wa, k) => {
    for (let i = 0; i < wa.length; i++) {
      if (!(Math.abs(g[k][i] - wa[i]) <= 1e-4 * (1 + Math.abs(wa[i])))) {
        throw new Error(`kernels bench: ${c.name} (${be.name}) output ${k}[${i}] = ${g[k][i]}, want ${wa[i]}`);
      }
    }
  });
}

function benchBuild(build: WasmBuild, quick: boolean, only: string[], emit: Parameters<BenchMain>[1]): void {
  const peak = measurePeak(build);
  const be = new WasmBackend(build, 64 << 20);
  for (const c of CASES) {
    if (only.length && !only.includes(c.name)) continue;
    verify(c, be);
    const mk = be.mark();
    const { run } = c.setup(be, c.dims);
    const t = measure(run, quick ? { minRuns: 5, minSeconds: 0.1 } : { minRuns: 9, minSeconds: 0.4 });
    be.release(mk);
    const r = row('kernels', build, `${c.name} ${c.shape(c.dims)}`, t, c.flops?.(c.dims), c.flops ? peak : undefined);
    r.GBps = c.bytes(c.dims) / t.median / 1e9;
    emit(r);
  }
}

/** `npm run bench -- kernels [--quick] [--build relaxed|simd|both] [--json]`; RF_BENCH_KERNELS=gelu_fwd,adamw runs a subset. */
export const main: BenchMain = (args, emit) => {
  const only = (process.env.RF_BENCH_KERNELS ?? '').split(',').filter(Boolean);
  for (const build of args.builds) {
    if (!wasmBuildSupported(build)) continue;
    benchBuild(build, args.quick, only, emit);
  }
};
