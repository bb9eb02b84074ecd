/**
 * The op table: every kernel of the `Backend` contract with the shapes it is checked on, its tolerance and
 * its FLOP count, in the style of ggml's test-backend-ops. op-check.ts runs it on any backend against the
 * float64 reference (the WebAssembly builds in test/engine/op-table-wasm.test.ts; WebGPU in src/engine/webgpu/selftest.ts,
 * in Node, Chromium and `npm run bench -- webgpu`), and checks every backward kernel against central finite
 * differences of its forward in float64. A new kernel needs one entry here.
 *
 * Shapes cross every tile edge of every backend: the f32x4 lanes and 8-wide bodies of the WebAssembly
 * kernels (n & 3 tails, 16-column blocks), the GEMM micro-kernel (MR = 3, NR = 12) and blocks (KC = 256,
 * NC = 512), the attention kernels' 4x8 tiles and their scratch limit, and WebGPU's 64x64x16 GEMM tiles,
 * 64- and 256-thread workgroups. Overwritten outputs start as NaN (an element a kernel must not write stays
 * NaN); accumulated outputs start from random values. Every case draws its data from a PRNG seeded by its
 * own name, so a filtered run sees the same data. Inputs are rounded to f32, so all backends read the same
 * values. Backward cases read saved activations (LayerNorm statistics, attention probabilities) computed
 * by the reference forward and rounded to f32, so each kernel is compared on its own.
 */
import { ReferenceBackend } from './reference.ts';
import { mulberry32 } from './rng.ts';
import type { Backend, GemmEpilogue, Ptr } from './types.ts';

/** Pointers of a case's buffers on one backend, by name. */
export type Ptrs = Record<string, Ptr>;

/** A tolerance: |got - want| <= atol + rtol |want|, or bit equality (`exact`); `webgpu` overrides on WebGPU. */
export interface Tol {
  atol: number;
  rtol?: number;
  exact?: boolean;
  webgpu?: Tol;
}

/** The gradient of a case by central differences: the backward against the forward (float64, reference). */
export interface GradSpec {
  /** The forward; it must recompute its outputs from the inputs each call (it runs twice per element). */
  forward(be: Backend, p: Ptrs): void;
  /** The scalar loss: sum over pairs of <output, cotangent buffer>, or a scalar slot the forward writes. */
  loss: [output: string, cotangent: string][] | string;
  /** The analytic gradient, accumulated into the `wrt` gradient buffers (zeroed first), after one forward. */
  backward(be: Backend, p: Ptrs): void;
  /** [input, its gradient buffer]. */
  wrt: [input: string, grad: string][];
  /** Step (default 1e-6) and tolerance (default 1e-7 absolute and relative). */
  eps?: number;
  atol?: number;
  rtol?: number;
}

/** One kernel call (or a short sequence) on one shape. */
export interface OpCase {
  /** Op and shape: 'layernormForward N=3 C=5'. */
  name: string;
  /** Floating-point operations of one run. */
  flops: number;
  /** Host data: inputs, and the starting contents of outputs. The runner allocates one buffer per name. */
  bufs: Record<string, Float32Array>;
  /** Scalar slots (SCALAR_FLOATS each) that scalar kernels write. */
  scalars?: string[];
  /** The call(s) under test. */
  run(be: Backend, p: Ptrs): void;
  /** Outputs compared with the reference (buffer or scalar slot names). */
  check: Record<string, Tol>;
  grad?: GradSpec;
  /** Backends (by `Backend.name`) that do not take this shape, with the documented limit that says why. */
  skip?: Record<string, string>;
}

/** One row of the table. */
export interface Op {
  name: string;
  /** The cases compared across backends. */
  cases(): OpCase[];
  /** Small cases whose gradient is checked by central differences (every input element is perturbed). */
  gradCases?(): OpCase[];
}

/** The tolerance that applies on a backend (by `Backend.name`). */
export function tolFor(t: Tol, backend: string): Tol {
  return backend === 'webgpu' && t.webgpu ? t.webgpu : t;
}

// ---- data -------------------------------------------------------------------------------------------------

type Rand = () => number;

/** A PRNG seeded by a string (FNV-1a), so each case's data depends only on its name. */
function seeded(name: string): Rand {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return mulberry32(h >>> 0);
}
/** n uniforms in [lo, hi), rounded to f32. */
function uni(r: Rand, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}
const nan = (n: number) => new Float32Array(n).fill(NaN);
const zeros = (n: number) => new Float32Array(n);
const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
/** 0/1 with P(1) = p, indices in `force` set to 1. */
function bits01(r: Rand, n: number, p: number, force: number[] = []): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() < p ? 1 : 0;
  for (const i of force) a[i] = 1;
  return a;
}

let refBackend: ReferenceBackend | undefined;
/** Run `fn` on the reference over `bufs` and return the named buffers afterwards, rounded to f32. */
function onReference(bufs: Record<string, Float32Array>, names: string[], fn: (be: Backend, p: Ptrs) => void): Float32Array[] {
  const ref = (refBackend ??= new ReferenceBackend());
  const mk = ref.mark(), p: Ptrs = {};
  for (const [k, v] of Object.entries(bufs)) { p[k] = ref.alloc(Math.max(1, v.length)); ref.write(p[k], v); }
  fn(ref, p);
  const out = names.map((k) => f32(ref.readSync(p[k], bufs[k].length)));
  ref.release(mk);
  return out;
}

/** A table row from shapes and a case maker. */
function op<S>(name: string, shapes: S[], make: (s: S, r: Rand, name: string, forGrad: boolean) => OpCase, gradShapes: S[] = []): Op {
  const unique = (list: S[]) => list.filter((s, i) => list.findIndex((t) => JSON.stringify(t) === JSON.stringify(s)) === i);
  const build = (list: S[], tag: string) => () => unique(list).map((s) => {
    const c = make(s, seeded(`${name}${tag} ${JSON.stringify(s)}`), name, tag !== '');
    if (tag && !c.grad) throw new Error(`${c.name}: a gradient shape without a gradient spec`);
    return tag ? { ...c, name: `${c.name} (gradient)` } : c;
  });
  return { name, cases: build(shapes, ''), ...(gradShapes.length ? { gradCases: build(gradShapes, ' grad') } : {}) };
}

// ---- shapes -------------------------------------------------------------------------------------------------

/** Lengths across f32x4 tails, 8/16-wide bodies and 64/256-thread WebGPU workgroups. */
const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1000, 1037, 3001];
/** Row lengths across the same edges, and WebGPU's 256-thread row (300, 520). */
const COLS = [1, 3, 4, 5, 8, 13, 64, 192];
const ROWS = [1, 2, 3, 7];
const cross = (as: number[], bs: number[]): [number, number][] => as.flatMap((a) => bs.map((b): [number, number] => [a, b]));
/** The reduction-length tolerance of the WebAssembly comparisons: atol = 2e-6 + 2e-7 K on values of order 1. */
const tolK = (K: number) => 2e-6 + 2e-7 * K;
const EXACT: Tol = { atol: 0, exact: true };

// ---- elementwise and reductions ----------------------------------------------------------------------------

const ELEMENTWISE: Op[] = [
  op('add', SIZES, (n, r, name) => ({
    name: `${name} n=${n}`, flops: n, bufs: { a: uni(r, n), b: uni(r, n), out: nan(n) },
    run: (be, p) => be.add(p.out, p.a, p.b, n), check: { out: { atol: 1e-7, rtol: 1e-6 } },
  })),
  op('add in place', SIZES, (n, r, name) => ({
    name: `${name} n=${n}`, flops: n, bufs: { a: uni(r, n), b: uni(r, n) },
    run: (be, p) => be.add(p.a, p.a, p.b, n), check: { a: { atol: 1e-7, rtol: 1e-6 } },
  })),
  op('accumulate', SIZES, (n, r, name) => ({
    name: `${name} n=${n}`, flops: n, bufs: { dst: uni(r, n), src: uni(r, n) },
    run: (be, p) => be.accumulate(p.dst, p.src, n), check: { dst: { atol: 1e-7, rtol: 1e-6 } },
  })),
  op('scale', SIZES, (n, r, name) => {
    const s = Math.fround(r() * 4 - 2);
    return {
      name: `${name} n=${n}`, flops: n, bufs: { x: uni(r, n) },
      run: (be, p) => be.scale(p.x, n, s), check: { x: { atol: 1e-7, rtol: 1e-6 } },
    };
  }),
  // One element past the end stays NaN: fill writes exactly n.
  op('fill', SIZES, (n, _r, name) => ({
    name: `${name} n=${n}`, flops: 0, bufs: { x: nan(n + 1) }, run: (be, p) => be.fill(p.x, n, 0.25), check: { x: EXACT },
  })),
  op('copy', SIZES, (n, r, name) => ({
    name: `${name} n=${n}`, flops: 0, bufs: { src: uni(r, n), dst: nan(n + 1) }, run: (be, p) => be.copy(p.dst, p.src, n), check: { dst: EXACT },
  })),
  op('biasAdd', [...cross([...ROWS, 33], COLS), [300, 70]], ([N, C], r, name) => ({
    name: `${name} N=${N} C=${C}`, flops: N * C, bufs: { out: uni(r, N * C), bias: uni(r, C) },
    run: (be, p) => be.biasAdd(p.out, p.bias, N, C), check: { out: { atol: 1e-7, rtol: 1e-6 } },
  })),
  op('biasGrad', [...cross([...ROWS, 33], COLS), [300, 70]], ([N, C], r, name) => ({
    name: `${name} N=${N} C=${C}`, flops: N * C, bufs: { dbias: uni(r, C), dout: uni(r, N * C), x0: uni(r, N * C), bias: uni(r, C), out: zeros(N * C) },
    run: (be, p) => be.biasGrad(p.dbias, p.dout, N, C),
    check: { dbias: { atol: tolK(N), rtol: 1e-6, webgpu: { atol: 1e-4, rtol: 1e-5 } } },
    // d/d bias of out = x0 + bias (biasAdd on a copy of x0).
    grad: {
      forward: (be, p) => { be.copy(p.out, p.x0, N * C); be.biasAdd(p.out, p.bias, N, C); },
      loss: [['out', 'dout']], backward: (be, p) => be.biasGrad(p.dbias, p.dout, N, C), wrt: [['bias', 'dbias']],
    },
  }), [[5, 3]] as [number, number][]),
  op('sumSquaresTo', [...SIZES, 4099, 100_003, 300_001], (n, r, name) => ({
    name: `${name} n=${n}`, flops: 2 * n, bufs: { x: uni(r, n, -3, 3) }, scalars: ['s'],
    run: (be, p) => be.sumSquaresTo(p.s, p.x, n),
    check: { s: { atol: 0, rtol: 1e-12, webgpu: { atol: 1e-7, rtol: 1e-5 } } },
  })),
  op('sumBuffers', cross([...SIZES, 100_003], [0, 1, 2, 3, 5]), ([n, count], r, name) => {
    const stride = n + 7;
    return {
      name: `${name} n=${n} count=${count}`, flops: n * Math.max(0, count - 1),
      bufs: { src: uni(r, stride * Math.max(count, 1)), dst: nan(n) },
      run: (be, p) => be.sumBuffers(p.dst, p.src, stride, count, n), check: { dst: { atol: tolK(count), rtol: 1e-6, webgpu: { atol: 1e-6, rtol: 1e-5 } } },
    };
  }),
  // Masked rows hold NaN: they must come out exactly +0.
  op('maskRows', [...cross([1, 2, 5, 9], COLS), [37, 19]], ([N, C], r, name) => {
    const mask = f32(Array.from({ length: N }, (_, i) => (i === 0 ? 0 : r() < 0.5 ? 0 : 1)));
    const x = uni(r, N * C);
    for (let n = 0; n < N; n++) if (mask[n] === 0) x.fill(NaN, n * C, (n + 1) * C);
    return { name: `${name} N=${N} C=${C}`, flops: 0, bufs: { x, mask }, run: (be, p) => be.maskRows(p.x, p.mask, N, C), check: { x: EXACT } };
  }),
];

// ---- activations and normalization ---------------------------------------------------------------------------

/** GELU tolerances: WebAssembly's fits against float64, and WebGPU's (tanh/exp of the driver). */
const GELU_TOL = {
  tanh: { fwd: { atol: 1e-6, rtol: 1e-6 }, bwd: { atol: 1e-6, rtol: 1e-6 } },
  erf: { fwd: { atol: 1e-7, rtol: 1e-6 }, bwd: { atol: 1e-6, rtol: 1e-6 } },
};
const geluFwd = (be: Backend, form: 'tanh' | 'erf', o: Ptr, x: Ptr, n: number) => (form === 'erf' ? be.geluErfForward(o, x, n) : be.geluForward(o, x, n));
const geluBwd = (be: Backend, form: 'tanh' | 'erf', d: Ptr, x: Ptr, g: Ptr, n: number) => (form === 'erf' ? be.geluErfBackward(d, x, g, n) : be.geluBackward(d, x, g, n));

/** Gradient-check inputs: 0, +-8 (the saturated tails) and, for erf, the erfc64 seam at |x| = 2.5 sqrt 2. */
function geluGradInput(r: Rand, n: number): Float32Array {
  const x = uni(r, n, -5, 5);
  x[0] = 0; x[1] = -8; x[2] = 8; x[3] = -2.5 * Math.SQRT2; x[4] = 2.5 * Math.SQRT2;
  return x;
}

const GELU: Op[] = (['tanh', 'erf'] as const).flatMap((form) => {
  const tag = form === 'erf' ? 'geluErf' : 'gelu';
  return [
    op(`${tag}Forward`, SIZES, (n, r, name) => ({
      name: `${name} n=${n}`, flops: 20 * n, bufs: { x: uni(r, n, -7, 7), out: nan(n) },
      run: (be, p) => geluFwd(be, form, p.out, p.x, n),
      check: { out: { ...GELU_TOL[form].fwd, webgpu: { atol: 1e-5, rtol: 1e-5 } } },
    })),
    op(`${tag}Backward`, SIZES, (n, r, name, forGrad) => ({
      name: `${name} n=${n}`, flops: 30 * n,
      bufs: { x: forGrad ? geluGradInput(r, n) : uni(r, n, -7, 7), dout: uni(r, n), dinp: uni(r, n), out: zeros(n) },
      run: (be, p) => geluBwd(be, form, p.dinp, p.x, p.dout, n),
      check: { dinp: { ...GELU_TOL[form].bwd, webgpu: { atol: 2e-5, rtol: 1e-5 } } },
      grad: {
        forward: (be, p) => geluFwd(be, form, p.out, p.x, n), loss: [['out', 'dout']],
        backward: (be, p) => geluBwd(be, form, p.dinp, p.x, p.dout, n), wrt: [['x', 'dinp']],
      },
    }), [41]),
  ];
});

const LN_SHAPES: [number, number][] = [...cross([...ROWS, 16], COLS), [3, 1], [5, 7], [4, 300], [2, 520]];

const LAYERNORM: Op[] = [
  op('layernormForward', LN_SHAPES, ([N, C], r, name) => {
    const t = { atol: tolK(C), rtol: 2e-6 };
    return {
      name: `${name} N=${N} C=${C}`, flops: 8 * N * C,
      bufs: { inp: uni(r, N * C, -2, 3), weight: uni(r, C, 0.5, 1.5), bias: uni(r, C), out: nan(N * C), mean: nan(N), rstd: nan(N) },
      run: (be, p) => be.layernormForward(p.out, p.mean, p.rstd, p.inp, p.weight, p.bias, N, C),
      check: {
        out: { ...t, webgpu: { atol: 3e-5, rtol: 1e-4 } }, mean: { ...t, webgpu: { atol: 1e-5, rtol: 1e-5 } },
        rstd: { ...t, webgpu: { atol: 1e-4, rtol: 1e-4 } },
      },
    };
  }),
  op('layernormBackward', LN_SHAPES, ([N, C], r, name) => {
    const bufs: Record<string, Float32Array> = {
      inp: uni(r, N * C, -2, 3), weight: uni(r, C, 0.5, 1.5), bias: uni(r, C), out: zeros(N * C), mean: zeros(N), rstd: zeros(N),
      dout: uni(r, N * C), dinp: uni(r, N * C), dweight: uni(r, C), dbias: uni(r, C),
    };
    [bufs.mean, bufs.rstd] = onReference(bufs, ['mean', 'rstd'], (be, p) => be.layernormForward(p.out, p.mean, p.rstd, p.inp, p.weight, p.bias, N, C));
    const t = { atol: tolK(C + N), rtol: 1e-5 };
    return {
      name: `${name} N=${N} C=${C}`, flops: 14 * N * C, bufs,
      run: (be, p) => be.layernormBackward(p.dinp, p.dweight, p.dbias, p.dout, p.inp, p.weight, p.mean, p.rstd, N, C),
      check: {
        dinp: { ...t, webgpu: { atol: 1e-4, rtol: 1e-4 } }, dweight: { ...t, webgpu: { atol: 1e-4, rtol: 1e-4 } },
        dbias: { ...t, webgpu: { atol: 1e-5, rtol: 1e-5 } },
      },
      grad: {
        forward: (be, p) => be.layernormForward(p.out, p.mean, p.rstd, p.inp, p.weight, p.bias, N, C), loss: [['out', 'dout']],
        backward: (be, p) => be.layernormBackward(p.dinp, p.dweight, p.dbias, p.dout, p.inp, p.weight, p.mean, p.rstd, N, C),
        wrt: [['inp', 'dinp'], ['weight', 'dweight'], ['bias', 'dbias']],
      },
    };
  }, [[1, 1], [2, 3], [3, 5], [2, 8]] as [number, number][]),
];

// ---- rows and model layers -----------------------------------------------------------------------------------

type Scatter = [B: number, T: number, C: number, scatter: boolean];
const SCATTER_SHAPES: Scatter[] = [1, 2, 3, 5].flatMap((B) => [1, 2, 7].flatMap((T) => COLS.flatMap((C) => [true, false].map((s): Scatter => [B, T, C, s]))));
SCATTER_SHAPES.push([13, 10, 33, true], [13, 10, 33, false]);
/** Sample i's T rows go to rows 1 + i(T+2) + (i&1) of an [R,C] output, R = B(T+2) + 2: gaps are never written. */
function scatterRows(B: number, T: number): { R: number; first: Float32Array } {
  return { R: B * (T + 2) + 2, first: f32(Array.from({ length: B }, (_, i) => 1 + i * (T + 2) + (i & 1))) };
}
const scatterName = (name: string, [B, T, C, s]: Scatter) => `${name} B=${B} T=${T} C=${C}${s ? '' : ' identity'}`;

const FT_SHAPES: [number, number, number, number][] = [1, 2, 5].flatMap((B) => [[0, 1], [1, 2], [3, 3], [5, 1]].flatMap(([Fn, Fc]) => COLS.map((d): [number, number, number, number] => [B, Fn, Fc, d])));
FT_SHAPES.push([7, 3, 2, 24]);
/** Feature-token data: categorical cardinalities 3, 1, 4, 2, 2, ...; ~75% of tokens present. */
function featureData(r: Rand, [B, Fn, Fc, d]: number[], fixed: boolean): Record<string, Float32Array> {
  const Ft = Fn + Fc, card = [3, 1, 4].slice(0, Fc).concat(Array(Math.max(0, Fc - 3)).fill(2));
  const offs = card.map((_, j) => card.slice(0, j).reduce((a, v) => a + v, 0)), E = card.reduce((a, v) => a + v, 0);
  const rows = f32(Array.from({ length: B * Fc }, (_, i) => offs[i % Fc] + Math.floor(r() * card[i % Fc])));
  const present = fixed ? f32(Array.from({ length: B * Ft }, (_, i) => (i === Ft + Fn + 1 ? 0 : 1))) : bits01(r, B * Ft, 0.75);
  return {
    x: uni(r, B * Fn, -2, 2), rows, present, numW: uni(r, Fn * d), numB: uni(r, Fn * d), embed: uni(r, E * d), catB: uni(r, Fc * d),
    tok: nan(B * Ft * d), dtok: uni(r, B * Ft * d), dnumW: uni(r, Fn * d), dnumB: uni(r, Fn * d), dembed: uni(r, E * d), dcatB: uni(r, Fc * d),
    masked: zeros(B * Ft * d),
  };
}

type RowsKind = 'gather' | 'scatter' | 'broadcast' | 'identity';
const ROWS_SHAPES = cross([1, 2, 3, 5, 9, 37], [...COLS, 19]);

const LAYERS: Op[] = [
  op('affineScatterForward', SCATTER_SHAPES, (s, r, name) => {
    const [B, T, C, scatter] = s, { R, first } = scatterRows(B, T), outRows = scatter ? R : B * T;
    return {
      name: scatterName(name, s), flops: 2 * B * T * C,
      bufs: { inp: uni(r, B * T * C), scale: uni(r, C, 0.5, 1.5), shift: uni(r, C), first, out: nan(outRows * C) },
      run: (be, p) => be.affineScatterForward(p.out, scatter ? p.first : 0, p.inp, p.scale, p.shift, B, T, C),
      check: { out: { atol: 1e-6, rtol: 1e-6, webgpu: { atol: 1e-6, rtol: 1e-5 } } },
    };
  }),
  op('affineScatterBackward', SCATTER_SHAPES, (s, r, name, forGrad) => {
    const [B, T, C, scatter] = s, { R, first } = scatterRows(B, T), outRows = scatter ? R : B * T;
    const t = { atol: tolK(B * T), rtol: 1e-6 };
    return {
      name: scatterName(name, s), flops: 4 * B * T * C,
      bufs: {
        inp: uni(r, B * T * C), scale: uni(r, C, 0.5, 1.5), shift: uni(r, C), first, dout: uni(r, outRows * C),
        dinp: uni(r, B * T * C), dscale: uni(r, C), dshift: uni(r, C), out: forGrad ? zeros(outRows * C) : nan(outRows * C),
      },
      run: (be, p) => be.affineScatterBackward(p.dinp, p.dscale, p.dshift, p.dout, scatter ? p.first : 0, p.inp, p.scale, B, T, C),
      check: {
        dinp: { ...t, webgpu: { atol: 1e-6, rtol: 1e-5 } }, dscale: { ...t, webgpu: { atol: 1e-5, rtol: 1e-5 } },
        dshift: { ...t, webgpu: { atol: 1e-5, rtol: 1e-5 } },
      },
      grad: {
        forward: (be, p) => be.affineScatterForward(p.out, scatter ? p.first : 0, p.inp, p.scale, p.shift, B, T, C), loss: [['out', 'dout']],
        backward: (be, p) => be.affineScatterBackward(p.dinp, p.dscale, p.dshift, p.dout, scatter ? p.first : 0, p.inp, p.scale, B, T, C),
        wrt: [['inp', 'dinp'], ['scale', 'dscale'], ['shift', 'dshift']],
      },
    };
  }, [[3, 2, 6, true], [2, 3, 5, false]] as Scatter[]),
  op('featureTokensForward', FT_SHAPES, (s, r, name) => {
    const [B, Fn, Fc, d] = s;
    return {
      name: `${name} B=${B} Fn=${Fn} Fc=${Fc} d=${d}`, flops: 2 * B * (Fn + Fc) * d, bufs: featureData(r, s, false),
      run: (be, p) => be.featureTokensForward(p.tok, p.x, p.rows, p.numW, p.numB, p.embed, p.catB, B, Fn, Fc, d),
      check: { tok: { atol: 1e-6, rtol: 1e-6, webgpu: { atol: 1e-6, rtol: 1e-5 } } },
    };
  }),
  op('featureTokensBackward', FT_SHAPES, (s, r, name, forGrad) => {
    const [B, Fn, Fc, d] = s, Ft = Fn + Fc, t: Tol = { atol: tolK(B), rtol: 1e-6, webgpu: { atol: 1e-5, rtol: 1e-5 } };
    const bufs = featureData(r, s, forGrad);
    if (forGrad) bufs.tok = zeros(B * Ft * d);
    return {
      name: `${name} B=${B} Fn=${Fn} Fc=${Fc} d=${d}`, flops: 3 * B * Ft * d, bufs,
      run: (be, p) => be.featureTokensBackward(p.dnumW, p.dnumB, p.dembed, p.dcatB, p.dtok, p.x, p.rows, p.present, B, Fn, Fc, d),
      check: { dnumW: t, dnumB: t, dembed: t, dcatB: t },
      // The model masks absent tokens after the forward (maskRows), so their rows carry no gradient: the
      // cotangent is not masked, so the kernel itself must skip an absent code to match.
      grad: {
        forward: (be, p) => {
          be.featureTokensForward(p.tok, p.x, p.rows, p.numW, p.numB, p.embed, p.catB, B, Fn, Fc, d);
          be.copy(p.masked, p.tok, B * Ft * d);
          be.maskRows(p.masked, p.present, B * Ft, d);
        },
        loss: [['masked', 'dtok']],
        backward: (be, p) => be.featureTokensBackward(p.dnumW, p.dnumB, p.dembed, p.dcatB, p.dtok, p.x, p.rows, p.present, B, Fn, Fc, d),
        wrt: [['numW', 'dnumW'], ['numB', 'dnumB'], ['embed', 'dembed'], ['catB', 'dcatB']],
      },
    };
  }, [[3, 2, 2, 4]] as [number, number, number, number][]),
  op('copyRows', ROWS_SHAPES.flatMap(([N, C]) => (['gather', 'scatter', 'broadcast', 'identity'] as RowsKind[]).map((k): [number, number, RowsKind] => [N, C, k])), ([N, C, kind], r, name) => {
    // A gather may read a row twice ((5i + 1) mod R repeats when 5 divides R); the rows a scatter writes are
    // distinct ((N+1)i + 1 mod R: N+1 and R = 2N+1 are coprime), as the contract asks.
    const R = 2 * N + 1, gather = f32(Array.from({ length: N }, (_, i) => (i * 5 + 1) % R));
    const perm = f32(Array.from({ length: N }, (_, i) => (i * (N + 1) + 1) % R));
    const dstRows = kind === 'scatter' || kind === 'broadcast', srcRows = kind === 'gather' || kind === 'broadcast';
    return {
      name: `${name} ${kind} N=${N} C=${C}`, flops: 0,
      bufs: { src: uni(r, R * C), perm, gather, zeros: zeros(N), dst: nan((dstRows ? R : N) * C) },
      run: (be, p) => be.copyRows(p.dst, dstRows ? p.perm : 0, p.src, srcRows ? (kind === 'broadcast' ? p.zeros : p.gather) : 0, N, C),
      check: { dst: EXACT },
    };
  }),
  op('accumulateRows', ROWS_SHAPES.map(([N, C]): [number, number, string] => [N, C, '']), ([N, C, kind], r, name): OpCase => {
    if (kind === 'gather') {
      // The gradient of a gather is a scatter-add, one accumulateRows per gathered row (row 1 twice).
      const idx = [5, 1, 1, 3], S = 6;
      return {
        name: `${name} as the gradient of copyRows gather N=${N} C=${C}`, flops: N * C,
        bufs: { src: uni(r, S * C), idx: f32(idx), iota: f32(idx.map((_, i) => i)), out: zeros(N * C), R: uni(r, N * C), dsrc: zeros(S * C) },
        run: () => undefined, check: {},
        grad: {
          forward: (be, p) => be.copyRows(p.out, 0, p.src, p.idx, N, C), loss: [['out', 'R']],
          backward: (be, p) => idx.forEach((row, i) => be.accumulateRows(p.dsrc + row * C, p.R, p.iota + i, 1, C)), wrt: [['src', 'dsrc']],
        },
      };
    }
    if (kind === 'broadcast') {
      // A broadcast of one row has as gradient the sum of the destination rows.
      const S = 6;
      return {
        name: `${name} as the gradient of copyRows broadcast N=${N} C=${C}`, flops: N * C,
        bufs: { one: uni(r, C), drows: f32([0, 2, 4]), zr: zeros(3), dst: zeros(S * C), R: uni(r, S * C), done: zeros(C) },
        run: () => undefined, check: {},
        grad: {
          forward: (be, p) => be.copyRows(p.dst, p.drows, p.one, p.zr, 3, C), loss: [['dst', 'R']],
          backward: (be, p) => be.accumulateRows(p.done, p.R, p.drows, 3, C), wrt: [['one', 'done']],
        },
      };
    }
    const R = 2 * N + 1, perm = f32(Array.from({ length: N }, (_, i) => (i * 5 + 1) % R));
    return {
      name: `${name} N=${N} C=${C}`, flops: N * C, bufs: { acc: uni(r, C), src: uni(r, R * C), perm },
      run: (be, p) => be.accumulateRows(p.acc, p.src, p.perm, N, C),
      check: { acc: { atol: tolK(N), rtol: 1e-6, webgpu: { atol: 1e-5, rtol: 1e-5 } } },
    };
  }, [[4, 3, 'gather'], [3, 3, 'broadcast']] as [number, number, string][]),
  op('numTokensForward', [...[1, 3, 8].flatMap((N) => [1, 2, 5].flatMap((F) => COLS.map((d) => [N, F, d]))), [9, 5, 24]], ([N, F, d], r, name) => ({
    name: `${name} N=${N} F=${F} d=${d}`, flops: 2 * N * F * d,
    bufs: { x: uni(r, N * F, -3, 3), weight: uni(r, F * d), bias: uni(r, F * d), out: nan(N * F * d) },
    run: (be, p) => be.numTokensForward(p.out, p.x, p.weight, p.bias, N, F, d),
    check: { out: { atol: 1e-6, rtol: 1e-6, webgpu: { atol: 1e-6, rtol: 1e-5 } } },
  })),
  op('numTokensBackward', [...[1, 3, 8].flatMap((N) => [1, 2, 5].flatMap((F) => COLS.map((d) => [N, F, d]))), [9, 5, 24]], ([N, F, d], r, name) => {
    const t: Tol = { atol: 3 * tolK(N), rtol: 1e-6, webgpu: { atol: 1e-5, rtol: 1e-5 } };
    return {
      name: `${name} N=${N} F=${F} d=${d}`, flops: 3 * N * F * d,
      bufs: { x: uni(r, N * F, -3, 3), weight: uni(r, F * d), bias: uni(r, F * d), out: zeros(N * F * d), dout: uni(r, N * F * d), dweight: uni(r, F * d), dbias: uni(r, F * d) },
      run: (be, p) => be.numTokensBackward(p.dweight, p.dbias, p.dout, p.x, N, F, d),
      check: { dweight: t, dbias: t },
      grad: {
        forward: (be, p) => be.numTokensForward(p.out, p.x, p.weight, p.bias, N, F, d), loss: [['out', 'dout']],
        backward: (be, p) => be.numTokensBackward(p.dweight, p.dbias, p.dout, p.x, N, F, d), wrt: [['weight', 'dweight'], ['bias', 'dbias']],
      },
    };
  }, [[3, 2, 5]] as number[][]),
  op('patchify', [[1, 1, 1], [2, 4, 1], [1, 6, 3], [2, 8, 4], [3, 10, 5], [1, 14, 7], [2, 16, 16], [1, 32, 16], [2, 24, 8], [2, 12, 4]], ([B, S, P], r, name) => ({
    name: `${name} B=${B} S=${S} P=${P}`, flops: 0, bufs: { img: uni(r, B * S * S), out: nan(B * S * S) },
    run: (be, p) => be.patchify(p.out, p.img, B, S, P), check: { out: EXACT },
  })),
];

// ---- loss and optimizer --------------------------------------------------------------------------------------

/** Logits up to |x| = 100 (a third moderate), targets 0/1 or NaN where unobserved (weight 0). */
function bceData(r: Rand, n: number, forGrad: boolean): Record<string, Float32Array> {
  const x = uni(r, n, forGrad ? -6 : -100, forGrad ? 6 : 100), t = new Float32Array(n), w = new Float32Array(n);
  if (forGrad) { x[0] = 30; x[1] = -30; } else for (let i = 0; i < n; i += 3) x[i] = (r() - 0.5) * 8;
  for (let i = 0; i < n; i++) {
    const u = r();
    if (u < (forGrad ? 0.2 : 0.25)) { t[i] = NaN; w[i] = 0; } else { t[i] = u < 0.6 ? 0 : 1; w[i] = 1; }
  }
  return { x, t, w, dl: nan(n), scratch: zeros(n) };
}

const LOSS: Op[] = [
  op('bceLogitsTo', [...SIZES, 14 * 37, 14 * 64], (n, r, name, forGrad) => {
    const bufs = bceData(r, n, forGrad);
    const gs = forGrad ? 1 : 1 / Math.max(1, bufs.w.reduce((s, v) => s + v, 0));
    return {
      name: `${name} n=${n}`, flops: 30 * n, bufs, scalars: ['loss'],
      run: (be, p) => be.bceLogitsTo(p.loss, p.dl, p.x, p.t, p.w, n, gs),
      check: { loss: { atol: 1e-7, rtol: 1e-6, webgpu: { atol: 1e-5, rtol: 1e-5 } }, dl: { atol: 1e-7, rtol: 1e-6, webgpu: { atol: 1e-7, rtol: 1e-5 } } },
      grad: {
        forward: (be, p) => be.bceLogitsTo(p.loss, p.scratch, p.x, p.t, p.w, n, 1),
        loss: 'loss', backward: (be, p) => be.bceLogitsTo(p.loss, p.dl, p.x, p.t, p.w, n, 1), wrt: [['x', 'dl']],
      },
    };
  }, [23]),
  op('adamw', [...SIZES, 4099], (n, r, name) => {
    const bufs: Record<string, Float32Array> = { p: uni(r, n), m: zeros(n), v: zeros(n), g: zeros(n) };
    for (let s = 0; s < 5; s++) bufs[`g${s}`] = uni(r, n, -0.1, 0.1);
    return {
      name: `${name} n=${n} 5 steps`, flops: 5 * 18 * n, bufs,
      run: (be, p) => {
        for (let s = 0; s < 5; s++) { be.copy(p.g, p[`g${s}`], n); be.adamw(p.p, p.g, p.m, p.v, n, 1e-3, 0.9, 0.999, 1e-8, 0.05, s + 1); }
      },
      check: { p: { atol: 1e-6, rtol: 1e-5, webgpu: { atol: 2e-6, rtol: 1e-5 } }, m: { atol: 1e-6, rtol: 1e-5 }, v: { atol: 1e-6, rtol: 1e-5 } },
    };
  }),
];

// ---- GEMM ----------------------------------------------------------------------------------------------------

interface GemmShape { M: number; N: number; K: number; tA: boolean; tB: boolean; acc: boolean; bias: boolean; pad: [number, number, number] }
const VARIANTS: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
const vname = (tA: boolean, tB: boolean) => `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`;

/** WebAssembly's edges (M across MR = 3, N across NR = 12 and its 8/4/2/1 tails, K = 0, 1, odd, multiples of 4),
 * its blocks (KC = 256, NC = 512), and WebGPU's 64x64 tiles and 16-deep slabs, with padded row strides. */
const GEMM_SHAPES: GemmShape[] = (() => {
  const out: GemmShape[] = [];
  const small: [number, number, number][] = [
    [1, 1, 1], [1, 8, 5], [3, 7, 4], [4, 12, 8], [5, 9, 3], [6, 15, 17], [7, 16, 1], [2, 11, 6],
    [9, 13, 33], [13, 3, 12], [12, 5, 7], [2, 6, 2], [8, 24, 16], [11, 2, 0], [7, 25, 9], [3, 10, 13], [5, 4, 11], [4, 5, 3],
  ];
  let k = 0;
  for (const [M, N, K] of small) for (const [tA, tB] of VARIANTS) for (const acc of [false, true]) for (const bias of [false, true]) {
    const pad = k++ % 3 === 0 ? 3 : 0;
    out.push({ M, N, K, tA, tB, acc, bias, pad: [pad, pad, pad] });
  }
  for (const [M, N, K] of [[7, 19, 257], [13, 9, 600], [5, 530, 37], [25, 33, 256]]) {
    for (const [tA, tB] of VARIANTS) for (const acc of [false, true]) out.push({ M, N, K, tA, tB, acc, bias: acc, pad: [5, 5, 5] });
  }
  [[1, 1, 1], [17, 65, 33], [64, 64, 16], [65, 130, 70], [130, 63, 17]].forEach(([M, N, K], s) => {
    for (const [tA, tB] of VARIANTS) out.push({ M, N, K, tA, tB, acc: s % 2 === 1, bias: s % 3 !== 1, pad: [0, 0, 0] });
  });
  out.push({ M: 67, N: 66, K: 20, tA: false, tB: true, acc: false, bias: false, pad: [3, 5, 4] });
  return out;
})();

function gemmData(r: Rand, g: GemmShape) {
  const { M, N, K, tA, tB } = g;
  const lda = (tA ? M : K) + g.pad[0], ldb = (tB ? K : N) + g.pad[1], ldc = N + g.pad[2];
  return {
    lda, ldb, ldc,
    bufs: { a: uni(r, (tA ? K : M) * lda), b: uni(r, (tB ? N : K) * ldb), bias: uni(r, N), c: g.acc ? uni(r, M * ldc) : nan(M * ldc), dc: uni(r, M * ldc) } as Record<string, Float32Array>,
  };
}

/** The gradient of C = op(A) op(B) + bias through gemm itself: dA, dB (each transpose variant) and biasGrad. */
function gemmBackward(be: Backend, p: Ptrs, { M, N, K, tA, tB }: GemmShape): void {
  const acc = { accumulate: true };
  // d op(A) = dC op(B)^T [M,K]; dA stored [K,M] when tA: op(B) dC^T.
  if (!tA) be.gemm(p.da, p.dc, p.b, 0, M, K, N, { ...acc, transB: !tB });
  else be.gemm(p.da, p.b, p.dc, 0, K, M, N, { ...acc, transA: tB, transB: true });
  // d op(B) = op(A)^T dC [K,N]; dB stored [N,K] when tB: dC^T op(A).
  if (!tB) be.gemm(p.db, p.a, p.dc, 0, K, N, M, { ...acc, transA: !tA });
  else be.gemm(p.db, p.dc, p.a, 0, N, K, M, { ...acc, transA: true, transB: tA });
  be.biasGrad(p.dbias, p.dc, M, N);
}

const GEMM: Op[] = [
  op('gemm', GEMM_SHAPES, (g, r, name, forGrad) => {
    const { M, N, K, tA, tB, acc, bias } = g, d = gemmData(r, g);
    if (forGrad) Object.assign(d.bufs, { c: zeros(M * N), da: zeros((tA ? K : M) * d.lda), db: zeros((tB ? N : K) * d.ldb), dbias: zeros(N) });
    const run = (be: Backend, p: Ptrs) => be.gemm(p.c, p.a, p.b, bias ? p.bias : 0, M, N, K, { transA: tA, transB: tB, accumulate: acc, lda: d.lda, ldb: d.ldb, ldc: d.ldc });
    return {
      name: `${name} ${vname(tA, tB)} M=${M} N=${N} K=${K}${acc ? ' +=' : ''}${bias ? ' +bias' : ''}${g.pad.some((x) => x) ? ` ld+${g.pad.join('/')}` : ''}`,
      flops: 2 * M * N * K + (bias ? M * N : 0), bufs: d.bufs, run,
      check: { c: { atol: 2e-6 * (K + 4), rtol: 1e-5, webgpu: { atol: 2e-6 * K + 1e-5, rtol: 1e-5 } } },
      grad: { forward: run, loss: [['c', 'dc']], backward: (be, p) => gemmBackward(be, p, g), wrt: [['a', 'da'], ['b', 'db'], ['bias', 'dbias']] },
    };
  }, VARIANTS.map(([tA, tB]): GemmShape => ({ M: 3, N: 4, K: 5, tA, tB, acc: false, bias: true, pad: [0, 0, 0] }))),
];

interface EpiShape { M: number; N: number; K: number; pad: number; tB: boolean; form: 'tanh' | 'erf'; acc?: boolean }
/** M across MR = 3, N across NR = 12 (8/4/2/1 tails) and NC = 512, K across KC = 256; WebGPU's tiles (67x70x20). */
const EPI_BASE: Omit<EpiShape, 'form'>[] = [
  { M: 1, N: 1, K: 1, pad: 0, tB: true }, { M: 2, N: 5, K: 7, pad: 3, tB: false }, { M: 3, N: 12, K: 16, pad: 0, tB: true },
  { M: 4, N: 13, K: 9, pad: 1, tB: false }, { M: 7, N: 24, K: 33, pad: 0, tB: true }, { M: 8, N: 36, K: 300, pad: 4, tB: false },
  { M: 5, N: 520, K: 20, pad: 0, tB: true }, { M: 10, N: 23, K: 257, pad: 2, tB: true }, { M: 67, N: 70, K: 20, pad: 3, tB: true },
  { M: 67, N: 70, K: 20, pad: 3, tB: false },
];
const EPI_SHAPES: EpiShape[] = EPI_BASE.flatMap((s, k) => (['tanh', 'erf'] as const).map((form) => ({ ...s, form, acc: k % 2 === 1 })));
const epiName = (name: string, s: EpiShape) => `${name} ${s.form} ${s.tB ? 'NT' : 'NN'} M=${s.M} N=${s.N} K=${s.K}${s.acc ? ' +=' : ''}${s.pad ? ` ldc+${s.pad}` : ''}`;
function epiData(r: Rand, s: EpiShape) {
  const ldc = s.N + s.pad;
  return {
    ldc, a: uni(r, s.M * s.K, -1.5, 1.5), b: uni(r, s.K * s.N, -1.5, 1.5), bias: uni(r, s.N), c0: uni(r, s.M * ldc, -3, 3), x0: uni(r, s.M * ldc, -4, 4),
  };
}
const epiTol = (K: number, extra = 0): Tol => ({ atol: 3e-6 * (K + 4) + extra, rtol: 1e-5, webgpu: { atol: 1e-4 + 3e-6 * K, rtol: 1e-5 } });

/** The fused MLP of the model, for the gradient of the geluGrad epilogue: y = GELU(X W1^T + b1) W2^T. */
function mlpCase(r: Rand, name: string, form: 'tanh' | 'erf'): OpCase {
  const N = 3, d = 4, h = 6;
  return {
    name: `${name} ${form} as the gradient of the fused MLP N=${N} d=${d} h=${h}`, flops: 4 * N * d * h, run: () => undefined, check: {},
    bufs: {
      X: uni(r, N * d, -2, 2), W1: uni(r, h * d), b1: uni(r, h), W2: uni(r, d * h), R: uni(r, N * d),
      pre: zeros(N * h), act: zeros(N * h), y: zeros(N * d), dpre: zeros(N * h), dx: zeros(N * d),
    },
    grad: {
      forward: (be, p) => {
        be.gemm(p.pre, p.X, p.W1, p.b1, N, h, d, { transB: true, epilogue: { op: 'gelu', form, out: p.act } });
        be.gemm(p.y, p.act, p.W2, 0, N, d, h, { transB: true });
      },
      loss: [['y', 'R']],
      backward: (be, p) => {
        be.gemm(p.dpre, p.R, p.W2, 0, N, h, d, { epilogue: { op: 'geluGrad', form, pre: p.pre } });
        be.gemm(p.dx, p.dpre, p.W1, 0, N, d, h, { accumulate: true });
      },
      wrt: [['X', 'dx']], rtol: 1e-6,
    },
  };
}

const GEMM_FUSED: Op[] = [
  op('gemm residual', EPI_SHAPES.filter((s) => s.form === 'tanh').concat([{ M: 65, N: 66, K: 17, pad: 0, tB: true, form: 'tanh' }]), (s, r, name) => {
    const d = epiData(r, s);
    return {
      name: epiName(name, { ...s, acc: false }).replace(' tanh', ''), flops: 2 * s.M * s.N * s.K + 2 * s.M * s.N,
      bufs: { a: d.a, b: d.b, bias: d.bias, c: d.c0, res: d.x0 },
      run: (be, p) => be.gemm(p.c, p.a, p.b, p.bias, s.M, s.N, s.K, { transB: s.tB, ldc: d.ldc, accumulate: true, residual: p.res }),
      check: { c: epiTol(s.K) },
    };
  }),
  op('gemm gelu', EPI_SHAPES, (s, r, name) => {
    const d = epiData(r, s);
    return {
      name: epiName(name, s), flops: 2 * s.M * s.N * s.K + 22 * s.M * s.N,
      bufs: { a: d.a, b: d.b, bias: d.bias, c: s.acc ? d.c0 : nan(d.c0.length), out: nan(d.x0.length) },
      run: (be, p) => be.gemm(p.c, p.a, p.b, p.bias, s.M, s.N, s.K, { transB: s.tB, ldc: d.ldc, accumulate: s.acc, epilogue: { op: 'gelu', form: s.form, out: p.out } }),
      check: { c: epiTol(s.K), out: epiTol(s.K, 1e-6) },
    };
  }),
  op('gemm geluGrad', [...EPI_SHAPES.map((s) => ({ ...s, acc: false })), ...[] as EpiShape[]], (s, r, name, forGrad) => {
    if (forGrad) return mlpCase(r, name, s.form);
    const d = epiData(r, s);
    const ep = (p: Ptrs): GemmEpilogue => ({ op: 'geluGrad', form: s.form, pre: p.pre });
    return {
      name: epiName(name, s), flops: 2 * s.M * s.N * s.K + 32 * s.M * s.N,
      bufs: { a: d.a, b: d.b, bias: d.bias, c: nan(d.c0.length), pre: d.x0 },
      run: (be, p) => be.gemm(p.c, p.a, p.b, p.bias, s.M, s.N, s.K, { transB: s.tB, ldc: d.ldc, epilogue: ep(p) }),
      check: { c: epiTol(s.K), pre: EXACT },
    };
  }, (['tanh', 'erf'] as const).map((form) => ({ M: 0, N: 0, K: 0, pad: 0, tB: false, form }))),
];

// ---- attention -----------------------------------------------------------------------------------------------

/** `gpu`: the shape also runs on WebGPU (the rest cross the WebAssembly kernels' 4x8 tiles only; a software
 * adapter takes seconds per attention case, so WebGPU runs the shapes that cross its own edges). */
interface AttShape { T: number; hd: number; H: number; kinds: string[]; gpu?: boolean }
/** T across the 4x8 tiles and 64-thread strides; head widths 1..768; T = 740 past the packed scratch (naive kernels). */
const ATT_SHAPES: AttShape[] = (() => {
  const out: AttShape[] = [];
  const heads: [number, number][] = [[1, 1], [4, 2], [8, 3], [16, 4], [64, 1], [3, 2], [5, 3], [12, 1]];
  const KINDS = [['random', 'all', 'none'], ['one', 'random'], ['random', 'random', 'all', 'one']];
  const Ts = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 97, 256];
  let s = 0;
  Ts.forEach((T, i) => {
    for (let k = 0; k < (T >= 97 ? 1 : 3); k++) {
      const [hd, H] = heads[(i * 3 + k) % heads.length];
      out.push({ T, hd, H, kinds: KINDS[s++ % KINDS.length] });
    }
  });
  for (const [T, hd, H] of [[97, 64, 3], [33, 1, 4], [256, 64, 2], [16, 768, 1], [740, 4, 1]]) out.push({ T, hd, H, kinds: KINDS[s++ % KINDS.length], gpu: T >= 97 && T < 740 });
  // WebGPU's 64-thread strides (B, T, d, H): [2, 1, 8, 2], [2, 7, 16, 2], [3, 70, 24, 3], [1, 130, 32, 1].
  for (const [B, T, d, H] of [[2, 1, 8, 2], [2, 7, 16, 2], [3, 70, 24, 3], [1, 130, 32, 1]]) out.push({ T, hd: d / H, H, kinds: Array(B).fill('random'), gpu: true });
  return out;
})();

/** One sample's mask: 'random' (~30% masked, at least one present), 'all', 'one', 'none' (also the attention invariants' test cases). */
export function maskRow(r: Rand, T: number, kind: string): number[] {
  const m = new Array<number>(T).fill(1);
  if (kind === 'all') return m;
  if (kind === 'none') return m.fill(0);
  if (kind === 'one') { m.fill(0); m[Math.floor(r() * T)] = 1; return m; }
  for (let t = 0; t < T; t++) m[t] = r() < 0.3 ? 0 : 1;
  m[Math.floor(r() * T)] = 1;
  return m;
}
function attData(r: Rand, s: AttShape) {
  const B = s.kinds.length, d = s.hd * s.H, T = s.T;
  const mask = f32(s.kinds.flatMap((k) => maskRow(r, T, k)));
  return { B, d, bufs: { qkv: uni(r, B * T * 3 * d, -2, 2), mask, out: nan(B * T * d), att: nan(B * s.H * T * T) } as Record<string, Float32Array> };
}
/** f32 error grows with the reduction lengths (T keys, hd features); WebGPU's constants held to T hd = 64^2. */
const attTol = (s: AttShape, k: number, gpu: number): Tol => {
  const w = Math.sqrt(s.T * s.hd);
  return { atol: k * (2e-6 * w + 1e-6), rtol: 1e-5, webgpu: { atol: gpu * Math.max(1, w / 64), rtol: 1e-5 } };
};
const attName = (name: string, s: AttShape) => `${name} B=${s.kinds.length} T=${s.T} hd=${s.hd} H=${s.H} masks=${s.kinds.join(',')}`;
const attSkip = (s: AttShape): Record<string, string> | undefined => (s.gpu ? undefined : { webgpu: 'a WebAssembly tile-edge shape (WebGPU runs the shapes marked gpu)' });

const ATTENTION: Op[] = [
  op('attentionForward', ATT_SHAPES, (s, r, name) => {
    const { B, d, bufs } = attData(r, s);
    return {
      name: attName(name, s), flops: B * s.H * s.T * s.T * (4 * s.hd + 5), bufs, skip: attSkip(s),
      run: (be, p) => be.attentionForward(p.out, p.att, p.qkv, p.mask, B, s.T, d, s.H),
      check: { out: attTol(s, 1, 2e-5), att: attTol(s, 1, 2e-6) },
    };
  }),
  op('attentionBackward', ATT_SHAPES, (s, r, name, forGrad) => {
    const { B, d, bufs } = attData(r, s);
    if (forGrad) { bufs.mask[0] = 1; if (s.T > 2) bufs.mask[s.T - 1] = 0; }
    Object.assign(bufs, { out: zeros(B * s.T * d), dout: uni(r, B * s.T * d), dqkv: uni(r, B * s.T * 3 * d) });
    [bufs.att] = onReference(bufs, ['att'], (be, p) => be.attentionForward(p.out, p.att, p.qkv, p.mask, B, s.T, d, s.H));
    return {
      name: attName(name, s), flops: B * s.H * s.T * s.T * (8 * s.hd + 6), bufs, skip: attSkip(s),
      run: (be, p) => be.attentionBackward(p.dqkv, p.dout, p.qkv, p.att, p.mask, B, s.T, d, s.H),
      check: { dqkv: attTol(s, 4, 5e-5) },
      grad: {
        forward: (be, p) => be.attentionForward(p.out, p.att, p.qkv, p.mask, B, s.T, d, s.H), loss: [['out', 'dout']],
        backward: (be, p) => be.attentionBackward(p.dqkv, p.dout, p.qkv, p.att, p.mask, B, s.T, d, s.H), wrt: [['qkv', 'dqkv']],
        eps: 1e-5, atol: 1e-8, rtol: 1e-6,
      },
    };
  }, [{ T: 4, hd: 2, H: 2, kinds: ['random'] }, { T: 5, hd: 2, H: 3, kinds: ['random'] }, { T: 3, hd: 2, H: 1, kinds: ['random'] }, { T: 4, hd: 3, H: 1, kinds: ['random', 'one'] }]),
];

/** The whole table, in the order the runners report it. */
export const OPS: readonly Op[] = [...ELEMENTWISE, ...GELU, ...LAYERNORM, ...LAYERS, ...LOSS, ...GEMM, ...GEMM_FUSED, ...ATTENTION];
