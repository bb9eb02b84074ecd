/**
 * The WebGPU kernel suite: every kernel against the float64 reference backend on seeded random data, over
 * shapes that cross the tile and workgroup edges (GEMM 64x64x16 tiles, 64- and 256-thread rows, the
 * attention kernels' 64-thread strides), overwritten outputs pre-filled with NaN and accumulated ones with
 * random values. Runs wherever a device exists (the Node test, the Chromium page, the benchmark), so it
 * imports nothing Node-specific. Both arenas use the same allocator and base, so one pointer serves both.
 */
import { ReferenceBackend } from '../reference.ts';
import { mulberry32 } from '../rng.ts';
import type { Backend, Ptr } from '../types.ts';
import type { WebGPUBackend } from './backend.ts';
import { createWebGPUBackend, WebGPUUnavailableError } from './index.ts';

export interface CaseResult {
  name: string;
  ok: boolean;
  /** Largest |gpu - reference| over the compared outputs. */
  maxdiff: number;
  ms: number;
  error?: string;
}

type Both = (be: Backend) => void;

class Pair {
  readonly ref = new ReferenceBackend();
  private r = mulberry32(1234);
  maxdiff = 0;
  constructor(readonly gpu: WebGPUBackend) {}
  private same(a: Ptr, b: Ptr): Ptr {
    if (a !== b) throw new Error(`arenas diverged: ${a} vs ${b}`);
    return a;
  }
  /** n uniform values in [lo, hi) rounded to f32, in both arenas. */
  rand(n: number, lo = -1, hi = 1): Ptr {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * this.r();
    return this.put(a);
  }
  /** 0/1 values with P(1) = p; `force` indices set to 1. */
  mask(n: number, p: number, force: number[] = []): Ptr {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.r() < p ? 1 : 0;
    for (const i of force) a[i] = 1;
    return this.put(a);
  }
  put(a: ArrayLike<number>): Ptr {
    const p = this.same(this.ref.alloc(a.length), this.gpu.alloc(a.length));
    this.ref.write(p, a);
    this.gpu.write(p, a);
    return p;
  }
  nans(n: number): Ptr {
    const p = this.same(this.ref.alloc(n), this.gpu.alloc(n));
    this.ref.fill(p, n, NaN);
    this.gpu.fill(p, n, NaN);
    return p;
  }
  run(f: Both): void {
    f(this.ref);
    f(this.gpu);
  }
  /**
   * |gpu - ref| <= atol + rtol |ref| everywhere. NaN fails, except where both hold the NaN an output was
   * pre-filled with (rows a scatter must leave alone).
   */
  async check(label: string, p: Ptr, n: number, atol: number, rtol = 1e-5): Promise<void> {
    const got = await this.gpu.read(p, n), want = this.ref.readSync(p, n);
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(got[i]) && Number.isNaN(want[i])) continue;
      const d = Math.abs(got[i] - want[i]);
      if (!(d <= atol + rtol * Math.abs(want[i]))) throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]} (|diff| ${d.toExponential(2)})`);
      if (d > this.maxdiff) this.maxdiff = d;
    }
  }
  release(mark: number): void {
    this.ref.release(mark);
    this.gpu.release(mark);
  }
}

interface Case {
  name: string;
  run(t: Pair): Promise<void>;
}

const cases: Case[] = [];
const add = (name: string, run: (t: Pair) => Promise<void>) => cases.push({ name, run });

// ---- GEMM: every transpose variant, shapes across the 64x64 tile and 16-deep slab, accumulate, bias, ld ----
const GEMM_SHAPES: [number, number, number][] = [[1, 1, 1], [17, 33, 65], [64, 16, 64], [65, 70, 130], [130, 17, 63]];
for (const tA of [false, true]) for (const tB of [false, true]) {
  const v = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`;
  GEMM_SHAPES.forEach(([M, K, N], s) => {
    const acc = s % 2 === 1, withBias = s % 3 !== 1;
    add(`gemm ${v} M=${M} K=${K} N=${N}${acc ? ' +=' : ''}${withBias ? ' +bias' : ''}`, async (t) => {
      const a = t.rand(M * K), b = t.rand(K * N), bias = withBias ? t.rand(N) : 0;
      const c = acc ? t.rand(M * N) : t.nans(M * N);
      t.run((be) => be.gemm(c, a, b, bias, M, N, K, { transA: tA, transB: tB, accumulate: acc }));
      await t.check('C', c, M * N, 2e-6 * K + 1e-5);
    });
  });
}
add('gemm NT with lda/ldb/ldc padding', async (t) => {
  const M = 67, K = 20, N = 66, lda = 23, ldb = 25, ldc = 70;
  const a = t.rand(M * lda), b = t.rand(N * ldb), c = t.nans(M * ldc);
  t.run((be) => be.fill(c, M * ldc, 7));
  t.run((be) => be.gemm(c, a, b, 0, M, N, K, { transB: true, lda, ldb, ldc }));
  await t.check('C', c, M * ldc, 1e-4);
});
add('gemm TN accumulate is deterministic (same bits twice)', async (t) => {
  const M = 70, K = 200, N = 90;
  const a = t.rand(K * M), b = t.rand(K * N), c1 = t.nans(M * N), c2 = t.nans(M * N);
  for (const c of [c1, c2]) t.run((be) => be.gemm(c, a, b, 0, M, N, K, { transA: true }));
  const x = await t.gpu.read(c1, M * N), y = await t.gpu.read(c2, M * N);
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) throw new Error(`bits differ at ${i}`);
  await t.check('C', c1, M * N, 1e-3);
});

for (const form of ['tanh', 'erf'] as const) {
  add(`gemm NT + GELU epilogue (${form}), then NN + GELU' epilogue, M=67 K=20 N=70, padded ldc`, async (t) => {
    const M = 67, K = 20, N = 70, ldc = 73;
    const a = t.rand(M * K, -2, 2), b = t.rand(N * K, -2, 2), bias = t.rand(N), c = t.nans(M * ldc), out = t.nans(M * ldc);
    t.run((be) => be.gemm(c, a, b, bias, M, N, K, { transB: true, ldc, epilogue: { op: 'gelu', form, out } }));
    await t.check('pre', c, M * ldc, 1e-4, 1e-5);
    await t.check('gelu', out, M * ldc, 1e-4, 1e-5);
    const g = t.nans(M * ldc), w = t.rand(K * N);
    t.run((be) => be.gemm(g, a, w, 0, M, N, K, { ldc, epilogue: { op: 'geluGrad', form, pre: c } }));
    await t.check('grad', g, M * ldc, 1e-4, 1e-5);
  });
}
add('gemm NT accumulate from a residual input, M=65 K=17 N=66', async (t) => {
  const M = 65, K = 17, N = 66;
  const a = t.rand(M * K), b = t.rand(N * K), bias = t.rand(N), r = t.rand(M * N), c = t.nans(M * N);
  t.run((be) => be.gemm(c, a, b, bias, M, N, K, { transB: true, accumulate: true, residual: r }));
  await t.check('C', c, M * N, 1e-4);
});

// ---- attention: T across the 64-thread strides, masked keys and queries ----
const ATT: [number, number, number, number][] = [[2, 1, 8, 2], [2, 7, 16, 2], [3, 70, 24, 3], [1, 130, 32, 1]];
for (const [B, T, d, H] of ATT) {
  const setup = (t: Pair) => {
    const qkv = t.rand(B * T * 3 * d, -2, 2);
    const mask = t.mask(B * T, 0.7, [0]);
    const out = t.nans(B * T * d), att = t.nans(B * H * T * T);
    t.run((be) => be.attentionForward(out, att, qkv, mask, B, T, d, H));
    return { qkv, mask, out, att };
  };
  add(`attention fwd B=${B} T=${T} d=${d} H=${H}`, async (t) => {
    const { out, att } = setup(t);
    await t.check('out', out, B * T * d, 2e-5);
    await t.check('att', att, B * H * T * T, 2e-6);
  });
  add(`attention bwd B=${B} T=${T} d=${d} H=${H}`, async (t) => {
    const { qkv, mask, att } = setup(t);
    const dout = t.rand(B * T * d), dqkv = t.rand(B * T * 3 * d);
    t.run((be) => be.attentionBackward(dqkv, dout, qkv, att, mask, B, T, d, H));
    await t.check('dqkv', dqkv, B * T * 3 * d, 5e-5);
  });
}

// ---- LayerNorm, softmax: C across the 256-thread row ----
for (const [N, C] of [[3, 1], [5, 7], [4, 300], [2, 520]]) {
  add(`layernorm fwd+bwd N=${N} C=${C}`, async (t) => {
    const inp = t.rand(N * C, -2, 3), w = t.rand(C), b = t.rand(C);
    const out = t.nans(N * C), mean = t.nans(N), rstd = t.nans(N);
    t.run((be) => be.layernormForward(out, mean, rstd, inp, w, b, N, C));
    await t.check('out', out, N * C, 3e-5, 1e-4);
    await t.check('mean', mean, N, 1e-5);
    await t.check('rstd', rstd, N, 1e-4, 1e-4);
    const dout = t.rand(N * C), dinp = t.rand(N * C), dw = t.rand(C), db = t.rand(C);
    t.run((be) => be.layernormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C));
    await t.check('dinp', dinp, N * C, 1e-4, 1e-4);
    await t.check('dweight', dw, C, 1e-4, 1e-4);
    await t.check('dbias', db, C, 1e-5);
  });
  add(`softmax fwd+bwd N=${N} C=${C}`, async (t) => {
    const inp = t.rand(N * C, -5, 5), out = t.nans(N * C);
    t.run((be) => be.softmaxForward(out, inp, N, C));
    await t.check('out', out, N * C, 1e-6, 1e-5);
    const dout = t.rand(N * C), dinp = t.rand(N * C);
    t.run((be) => be.softmaxBackward(dinp, dout, out, N, C));
    await t.check('dinp', dinp, N * C, 1e-5);
  });
}

// ---- elementwise, reductions, model layers ----
for (const form of ['tanh', 'erf'] as const) {
  add(`gelu ${form === 'erf' ? 'erf ' : ''}fwd+bwd n=3001`, async (t) => {
    const n = 3001, inp = t.rand(n, -7, 7), out = t.nans(n);
    t.run((be) => (form === 'erf' ? be.geluErfForward(out, inp, n) : be.geluForward(out, inp, n)));
    await t.check('out', out, n, 1e-5, 1e-5);
    const dout = t.rand(n), dinp = t.rand(n);
    t.run((be) => (form === 'erf' ? be.geluErfBackward(dinp, inp, dout, n) : be.geluBackward(dinp, inp, dout, n)));
    await t.check('dinp', dinp, n, 2e-5, 1e-5);
  });
}
add('add / accumulate / scale / fill / copy n=1037', async (t) => {
  const n = 1037, a = t.rand(n), b = t.rand(n), o = t.nans(n);
  t.run((be) => be.add(o, a, b, n));
  t.run((be) => be.add(a, a, b, n)); // aliasing
  await t.check('add', o, n, 1e-6);
  await t.check('add aliased', a, n, 1e-6);
  t.run((be) => be.accumulate(o, b, n));
  t.run((be) => be.scale(o, n, -0.37));
  await t.check('accumulate+scale', o, n, 1e-6);
  const f = t.nans(n);
  t.run((be) => be.fill(f, n, 2.5));
  const c = t.nans(n);
  t.run((be) => be.copy(c, o, n));
  await t.check('fill', f, n, 0);
  await t.check('copy', c, n, 1e-6);
  const z = t.nans(n);
  const got = await t.gpu.read(z, n);
  if (!got.every((v) => Number.isNaN(v))) throw new Error('fill(NaN) did not produce NaN');
});
add('biasAdd / biasGrad N=300 C=70', async (t) => {
  const N = 300, C = 70, o = t.rand(N * C), bias = t.rand(C), db = t.rand(C), dout = t.rand(N * C);
  t.run((be) => be.biasAdd(o, bias, N, C));
  t.run((be) => be.biasGrad(db, dout, N, C));
  await t.check('biasAdd', o, N * C, 1e-6);
  await t.check('biasGrad', db, C, 1e-4);
});
add('sumSquaresTo n=1, 4099, 300001', async (t) => {
  for (const n of [1, 4099, 300001]) {
    const x = t.rand(n), out = t.nans(4);
    t.run((be) => be.sumSquaresTo(out, x, n));
    const got = await t.gpu.readScalar(out), want = t.ref.readScalarSync(out);
    if (!(Math.abs(got - want) <= 1e-5 * want + 1e-7)) throw new Error(`sumSquares n=${n}: got ${got}, want ${want}`);
    t.gpu.sumSquaresTo(out, x, n);
    const again = await t.gpu.readScalar(out);
    if (!Object.is(again, got)) throw new Error(`sumSquares not deterministic: ${got} vs ${again}`);
  }
});
add('sumBuffers count=3 n=1000', async (t) => {
  const n = 1000, stride = 1004, src = t.rand(3 * stride), dst = t.nans(n);
  t.run((be) => be.sumBuffers(dst, src, stride, 3, n));
  await t.check('dst', dst, n, 1e-6);
});
add('maskRows N=37 C=19', async (t) => {
  const N = 37, C = 19, x = t.rand(N * C), mask = t.mask(N, 0.5);
  t.run((be) => be.maskRows(x, mask, N, C));
  await t.check('x', x, N * C, 0);
});
add('affine scatter fwd+bwd B=13 T=10 C=33 (and identity rows)', async (t) => {
  const B = 13, T = 10, C = 33, R = B * T + 20, inp = t.rand(B * T * C), sc = t.rand(C), sh = t.rand(C);
  // Sample i's T rows start at row 1 + i*(T+1) + (i%2): gaps between samples stay NaN.
  const rows = t.put(Array.from({ length: B }, (_, i) => 1 + i * (T + 1) + (i % 2)));
  for (const orow of [rows, 0]) {
    const out = t.nans(R * C);
    t.run((be) => be.affineScatterForward(out, orow, inp, sc, sh, B, T, C));
    await t.check('out', out, orow ? R * C : B * T * C, 1e-6);
    const dout = t.rand(R * C), dinp = t.rand(B * T * C), dsc = t.rand(C), dsh = t.rand(C);
    t.run((be) => be.affineScatterBackward(dinp, dsc, dsh, dout, orow, inp, sc, B, T, C));
    await t.check('dinp', dinp, B * T * C, 1e-6);
    await t.check('dscale', dsc, C, 1e-5);
    await t.check('dshift', dsh, C, 1e-5);
  }
});
add('copyRows gather/scatter/broadcast, accumulateRows N=37 C=19', async (t) => {
  const N = 37, C = 19, R = 50, src = t.rand(R * C);
  const perm = t.put(Array.from({ length: N }, (_, i) => (i * 7 + 3) % R));
  const zeros = t.put(new Array(N).fill(0));
  for (const [dr, sr] of [[0, perm], [perm, 0], [perm, zeros]]) {
    const dst = t.nans(R * C);
    t.run((be) => be.copyRows(dst, dr, src, sr, N, C));
    await t.check(`copyRows ${dr ? 'scatter' : 'gather'}`, dst, dr ? R * C : N * C, 0);
  }
  const acc = t.rand(C);
  t.run((be) => be.accumulateRows(acc, src, perm, N, C));
  await t.check('accumulateRows', acc, C, 1e-5);
});
add('numTokens fwd+bwd N=9 F=5 d=24', async (t) => {
  const N = 9, F = 5, d = 24, x = t.rand(N * F), w = t.rand(F * d), b = t.rand(F * d), out = t.nans(N * F * d);
  t.run((be) => be.numTokensForward(out, x, w, b, N, F, d));
  await t.check('out', out, N * F * d, 1e-6);
  const dout = t.rand(N * F * d), dw = t.rand(F * d), db = t.rand(F * d);
  t.run((be) => be.numTokensBackward(dw, db, dout, x, N, F, d));
  await t.check('dweight', dw, F * d, 1e-5);
  await t.check('dbias', db, F * d, 1e-5);
});
add('featureTokens fwd+bwd B=7 Fn=3 Fc=2 d=24', async (t) => {
  const B = 7, Fn = 3, Fc = 2, d = 24, Ft = Fn + Fc, E = 7;
  const rows = t.put(Array.from({ length: B * Fc }, (_, i) => (i % Fc === 0 ? i % 4 : 4 + (i % 3))));
  const present = t.mask(B * Ft, 0.7);
  const x = t.rand(B * Fn), w = t.rand(Fn * d), b = t.rand(Fn * d), em = t.rand(E * d), cb = t.rand(Fc * d), out = t.nans(B * Ft * d);
  t.run((be) => be.featureTokensForward(out, x, rows, w, b, em, cb, B, Fn, Fc, d));
  await t.check('tok', out, B * Ft * d, 1e-6);
  const dt = t.rand(B * Ft * d), dw = t.rand(Fn * d), db = t.rand(Fn * d), de = t.rand(E * d), dc = t.rand(Fc * d);
  t.run((be) => be.featureTokensBackward(dw, db, de, dc, dt, x, rows, present, B, Fn, Fc, d));
  await t.check('dnumW', dw, Fn * d, 1e-5);
  await t.check('dnumB', db, Fn * d, 1e-5);
  await t.check('dembed', de, E * d, 1e-5);
  await t.check('dcatB', dc, Fc * d, 1e-5);
});
add('patchify B=2 S=12 P=4', async (t) => {
  const B = 2, S = 12, P = 4, img = t.rand(B * S * S), out = t.nans(B * S * S);
  t.run((be) => be.patchify(out, img, B, S, P));
  await t.check('out', out, B * S * S, 0);
});
add('bceLogitsTo n=14*37', async (t) => {
  const n = 14 * 37, lg = t.rand(n, -8, 8), tg = t.mask(n, 0.4), w = t.mask(n, 0.6), dl = t.nans(n), out = t.nans(4);
  t.run((be) => be.bceLogitsTo(out, dl, lg, tg, w, n, 1 / 97));
  const want = t.ref.readScalarSync(out);
  const got = await t.gpu.readScalar(out);
  if (!(Math.abs(got - want) <= 1e-5 * Math.abs(want) + 1e-5)) throw new Error(`loss: got ${got}, want ${want}`);
  await t.check('dlogits', dl, n, 1e-7);
});
add('adamw n=2051, 3 steps', async (t) => {
  const n = 2051, p = t.rand(n), g = t.rand(n), m = t.rand(n, 0, 0), v = t.rand(n, 0, 0);
  for (let s = 1; s <= 3; s++) t.run((be) => be.adamw(p, g, m, v, n, 1e-2, 0.9, 0.999, 1e-8, 0.05, s));
  await t.check('p', p, n, 2e-6);
  await t.check('m', m, n, 1e-6);
  await t.check('v', v, n, 1e-6);
});
add('a synchronous read (from untyped code) says what to use instead', async (t) => {
  let msg = '';
  try { t.gpu.view(); } catch (e) { msg = (e as Error).message; }
  if (!/forwardAsync/.test(msg) || !/predictAsync/.test(msg)) throw new Error(`expected a pointer to the async API, got '${msg}'`);
});
add('arena growth keeps contents (device-side copy)', async (t) => {
  const x = t.rand(1000);
  t.run((be) => be.scale(x, 1000, 3)); // enqueued before the grow
  const big = t.nans(3 << 20);
  void big;
  await t.check('x', x, 1000, 1e-6);
});

const DEBUG = !!(globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.RF_WEBGPU_DEBUG;

/** Run every case (optionally those whose name matches `filter`); never throws. */
export async function runKernelSuite(gpu: WebGPUBackend, filter?: RegExp): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of cases) {
    if (filter && !filter.test(c.name)) continue;
    const t = new Pair(gpu);
    const mark = gpu.mark();
    const t0 = performance.now();
    if (DEBUG) console.error(`case ${c.name}`);
    try {
      await c.run(t);
      await gpu.finish();
      out.push({ name: c.name, ok: true, maxdiff: t.maxdiff, ms: performance.now() - t0 });
    } catch (e) {
      out.push({ name: c.name, ok: false, maxdiff: t.maxdiff, ms: performance.now() - t0, error: (e as Error).message });
    }
    gpu.release(mark);
  }
  return out;
}

/** One line per case, llm.c style. */
export function formatResult(r: CaseResult): string {
  return r.ok
    ? `TENSOR OK  ${r.name}  maxdiff = ${r.maxdiff.toExponential(2)}  (${r.ms.toFixed(0)} ms)`
    : `MISMATCH   ${r.name}: ${r.error}`;
}

/**
 * For Node child processes (the GPU tests run them so Dawn's environment can differ from the runner's):
 * open a WebGPU backend, run `work` on it and print one JSON line: {adapter, ...result}, {skip} when there
 * is no adapter, or {error}; then release the device.
 */
export async function printGpuRun(work: (be: WebGPUBackend) => Promise<Record<string, unknown>>): Promise<void> {
  try {
    const be = await createWebGPUBackend();
    console.log(JSON.stringify({ adapter: be.adapterInfo, ...(await work(be)) }));
    be.destroy();
    be.device.destroy();
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) console.log(JSON.stringify({ skip: e.message }));
    else console.log(JSON.stringify({ error: (e as Error).stack ?? String(e) }));
  }
}
