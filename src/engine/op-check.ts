/**
 * The runner of the op table (op-table.ts), in the style of ggml's test-backend-ops. Two modes:
 * - `checkBackend(be)`: every case on `be` against the float64 reference backend, output by output, within
 *   the case's tolerance; each case runs twice on `be` and must give the same bits (kernels are
 *   deterministic). Works on any backend (it reads through the asynchronous `read`), so the same call serves
 *   both WebAssembly builds in the Node tests and WebGPU in Node, in Chromium and in the benchmark.
 * - `checkGradients()`: every backward kernel against central finite differences of its forward, in
 *   float64 on the reference backend.
 * Imports nothing Node-specific (the WebGPU self-test is bundled for a browser page).
 */
import { ReferenceBackend } from './reference.ts';
import { SCALAR_FLOATS } from './types.ts';
import type { Backend, Ptr } from './types.ts';
import { OPS, tolFor } from './op-table.ts';
import type { Op, OpCase, Ptrs } from './op-table.ts';

/** One case's outcome. */
export interface CaseResult {
  /** Op and shape, e.g. 'layernormForward N=3 C=5'. */
  name: string;
  ok: boolean;
  /** Largest |backend - reference| (or |analytic - numeric|) over the compared outputs. */
  maxdiff: number;
  /** Floating-point operations of one call of the case. */
  flops: number;
  ms: number;
  error?: string;
  /** Why the backend does not take this case (a documented limit); such a case counts as passed. */
  skipped?: string;
}

/** Which cases to run: a name filter and the ops (default: the whole table). */
export interface CheckOptions {
  filter?: RegExp;
  ops?: readonly Op[];
  /** Called with each case's name before it runs (to find a case that hangs a device). */
  log?: (name: string) => void;
}

/** Allocate and fill a case's buffers (and its scalar slots) on a backend. */
function load(be: Backend, c: OpCase): Ptrs {
  const p: Ptrs = {};
  for (const [name, data] of Object.entries(c.bufs)) {
    p[name] = be.alloc(Math.max(1, data.length));
    if (data.length) be.write(p[name], data);
  }
  for (const name of c.scalars ?? []) p[name] = be.alloc(SCALAR_FLOATS);
  return p;
}

/**
 * The outputs a case checks, read back from a backend (a scalar as a one-element array). The buffers are
 * read in one `read` of the arena range that spans them (one round trip on a GPU).
 */
async function outputs(be: Backend, c: OpCase, p: Ptrs): Promise<Record<string, ArrayLike<number>>> {
  const out: Record<string, ArrayLike<number>> = {};
  const names = Object.keys(c.check), arrays = names.filter((k) => !c.scalars?.includes(k));
  for (const name of names) if (!arrays.includes(name)) out[name] = [await be.readScalar(p[name])];
  if (arrays.length) {
    const lo = Math.min(...arrays.map((k) => p[k])), hi = Math.max(...arrays.map((k) => p[k] + c.bufs[k].length));
    const all = await be.read(lo, hi - lo);
    for (const k of arrays) out[k] = all.subarray(p[k] - lo, p[k] - lo + c.bufs[k].length);
  }
  return out;
}

/**
 * |got - want| <= atol + rtol |want| everywhere (bit equality for an `exact` output). NaN fails, except
 * where both hold the NaN the buffer started with (an element a kernel must leave alone). Returns the max
 * difference; throws naming the first element out of tolerance.
 */
export function compareOutput(label: string, got: ArrayLike<number>, want: ArrayLike<number>, init: ArrayLike<number> | undefined,
  tol: { atol: number; rtol?: number; exact?: boolean }): number {
  const rtol = tol.rtol ?? 0;
  let maxdiff = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(g) && Number.isNaN(w) && init !== undefined && Number.isNaN(init[i])) continue;
    const d = Math.abs(g - w);
    const ok = tol.exact ? Object.is(Math.fround(g), Math.fround(w)) : d <= tol.atol + rtol * Math.abs(w);
    if (!ok) throw new Error(`${label}[${i}]: got ${g}, want ${w} (|diff| ${d.toExponential(2)} > ${tol.exact ? 'exact' : `${tol.atol} + ${rtol}|want|`})`);
    if (d > maxdiff) maxdiff = d;
  }
  return maxdiff;
}

function sameBits(label: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) throw new Error(`${label}[${i}]: ${a[i]} then ${b[i]} (not deterministic)`);
  }
}

/** Run one case on the reference and twice on `be`; compare. */
async function checkCase(be: Backend, ref: ReferenceBackend, c: OpCase): Promise<number> {
  const rm = ref.mark();
  const pr = load(ref, c);
  c.run(ref, pr);
  const want = await outputs(ref, c, pr);
  ref.release(rm);
  const runOnce = async () => {
    const mk = be.mark();
    const p = load(be, c);
    c.run(be, p);
    const got = await outputs(be, c, p);
    be.release(mk);
    return got;
  };
  const got = await runOnce(), again = await runOnce();
  let maxdiff = 0;
  for (const [name, tol] of Object.entries(c.check)) {
    maxdiff = Math.max(maxdiff, compareOutput(name, got[name], want[name], c.bufs[name], tolFor(tol, be.name)));
    sameBits(`${name} rerun`, got[name], again[name]);
  }
  return maxdiff;
}

function selected(o: CheckOptions): OpCase[][] {
  return (o.ops ?? OPS).map((op) => op.cases().filter((c) => !o.filter || o.filter.test(c.name)));
}

/** Every case of the table on `be` against the float64 reference; never throws (a failure is a result). */
export async function checkBackend(be: Backend, o: CheckOptions = {}): Promise<CaseResult[]> {
  const ref = new ReferenceBackend();
  const results: CaseResult[] = [];
  for (const cases of selected(o)) {
    for (const c of cases) {
      const t0 = performance.now();
      o.log?.(c.name);
      if (c.skip?.[be.name]) {
        results.push({ name: c.name, ok: true, maxdiff: 0, flops: c.flops, ms: 0, skipped: c.skip[be.name] });
        continue;
      }
      const mark = be.mark();
      try {
        const maxdiff = await checkCase(be, ref, c);
        results.push({ name: c.name, ok: true, maxdiff, flops: c.flops, ms: performance.now() - t0 });
      } catch (e) {
        results.push({ name: c.name, ok: false, maxdiff: NaN, flops: c.flops, ms: performance.now() - t0, error: (e as Error).message });
      }
      be.release(mark);
    }
  }
  return results;
}

/** Central differences of loss() with respect to each of the n elements at p (reference arena). */
function numericGrad(be: ReferenceBackend, p: Ptr, n: number, eps: number, loss: () => number): Float64Array {
  const g = new Float64Array(n), m = be.m;
  for (let i = 0; i < n; i++) {
    const x = m[p + i];
    m[p + i] = x + eps;
    const lp = loss();
    m[p + i] = x - eps;
    const lm = loss();
    m[p + i] = x;
    g[i] = (lp - lm) / (2 * eps);
  }
  return g;
}

/** One gradient case: the analytic backward against central differences of the forward, in float64. */
function checkGradCase(ref: ReferenceBackend, c: OpCase): number {
  const g = c.grad;
  if (!g) throw new Error(`${c.name}: no gradient spec`);
  const mk = ref.mark();
  const p = load(ref, c);
  const loss = (): number => {
    g.forward(ref, p);
    if (typeof g.loss === 'string') return ref.readScalarSync(p[g.loss]);
    let s = 0;
    for (const [out, cot] of g.loss) {
      const n = c.bufs[out].length, o = ref.view(p[out], n), r = ref.view(p[cot], n);
      for (let i = 0; i < n; i++) s += o[i] * r[i];
    }
    return s;
  };
  loss();
  for (const [, d] of g.wrt) ref.fill(p[d], c.bufs[d].length, 0);
  g.backward(ref, p);
  // Every analytic gradient is read before any central difference runs the forward again.
  const analytic = g.wrt.map(([x, d]) => ref.readSync(p[d], c.bufs[x].length));
  let maxdiff = 0;
  for (const [k, [x, d]] of g.wrt.entries()) {
    const n = c.bufs[x].length;
    const numeric = numericGrad(ref, p[x], n, g.eps ?? 1e-6, loss);
    maxdiff = Math.max(maxdiff, compareOutput(`${d} = d loss / d ${x}, against central differences`, analytic[k], numeric, undefined, { atol: g.atol ?? 1e-7, rtol: g.rtol ?? 1e-7 }));
  }
  ref.release(mk);
  return maxdiff;
}

/** Every gradient case of the table (reference backend, float64); never throws. */
export function checkGradients(o: CheckOptions = {}): CaseResult[] {
  const ref = new ReferenceBackend();
  const results: CaseResult[] = [];
  for (const op of o.ops ?? OPS) {
    for (const c of op.gradCases?.() ?? []) {
      if (o.filter && !o.filter.test(c.name)) continue;
      const t0 = performance.now();
      try {
        results.push({ name: c.name, ok: true, maxdiff: checkGradCase(ref, c), flops: c.flops, ms: performance.now() - t0 });
      } catch (e) {
        results.push({ name: c.name, ok: false, maxdiff: NaN, flops: c.flops, ms: performance.now() - t0, error: (e as Error).message });
      }
    }
  }
  return results;
}
