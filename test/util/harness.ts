/**
 * Test helpers shared by the kernel, layer and model tests: seeded random data, NaN-prefilled outputs and
 * comparisons that print `TENSOR OK, maxdiff = ...` style diagnostics on failure.
 */
import { ReferenceBackend, SCALAR_FLOATS, WasmBackend, wasmBuildSupported } from '../../src/engine/index.ts';
import { mulberry32 } from '../../src/engine/rng.ts';
import type { SyncBackend, Ptr } from '../../src/engine/index.ts';

/** The project's seeded PRNG, so every test's data is reproducible. */
export const rng = mulberry32;

/** n uniform values in [lo, hi), rounded to float32 so both backends see identical inputs. */
export function randArray(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** Both WebAssembly builds this runtime supports, each as a fresh backend. */
export function wasmBackends(): WasmBackend[] {
  const out: WasmBackend[] = [];
  if (wasmBuildSupported('relaxed')) out.push(new WasmBackend('relaxed'));
  if (wasmBuildSupported('simd')) out.push(new WasmBackend('simd'));
  if (out.length === 0) throw new Error('no WebAssembly build is supported by this runtime');
  return out;
}

export function reference(): ReferenceBackend {
  return new ReferenceBackend();
}

/** Allocate n elements on a backend and copy data in (or fill with NaN when data is a number n). */
export function put(be: SyncBackend, data: ArrayLike<number>): Ptr {
  const p = be.alloc(data.length);
  be.write(p, data);
  return p;
}
export function nans(be: SyncBackend, n: number): Ptr {
  const p = be.alloc(n);
  be.fill(p, n, NaN);
  return p;
}

/** sumSquaresTo into a fresh scalar slot, read back at once. */
export function sumSquares(be: SyncBackend, x: Ptr, n: number): number {
  const s = be.alloc(SCALAR_FLOATS);
  be.sumSquaresTo(s, x, n);
  return be.readScalarSync(s);
}
/** bceLogitsTo into a fresh scalar slot; returns the loss sum. */
export function bceLogits(be: SyncBackend, dlogits: Ptr, logits: Ptr, targets: Ptr, weights: Ptr, n: number, gradScale: number): number {
  const s = be.alloc(SCALAR_FLOATS);
  be.bceLogitsTo(s, dlogits, logits, targets, weights, n, gradScale);
  return be.readScalarSync(s);
}

/**
 * Assert |got - want| <= atol + rtol*|want| elementwise (NaN anywhere fails). Returns the max abs diff.
 * Throws with the worst index, both values and the label.
 */
export function close(label: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol = 0): number {
  if (got.length !== want.length) throw new Error(`${label}: length ${got.length} != ${want.length}`);
  let maxdiff = 0, worst = -1;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= atol + rtol * Math.abs(want[i]))) {
      throw new Error(`${label}: mismatch at ${i}: got ${got[i]}, want ${want[i]} (|diff| ${d} > ${atol} + ${rtol}*|want|)`);
    }
    if (d > maxdiff) { maxdiff = d; worst = i; }
  }
  void worst;
  return maxdiff;
}

/** Bitwise equality of two float arrays (as Float32 bits). */
export function sameBits(label: string, a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new Error(`${label}: length ${a.length} != ${b.length}`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) throw new Error(`${label}: bits differ at ${i}: ${a[i]} vs ${b[i]}`);
  }
}

/** Assert that a promise rejects with a message matching `re` (uvu's assert has no async variant). */
export async function rejects(p: Promise<unknown>, re: RegExp, cls?: new (...args: never[]) => Error): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (cls && !(e instanceof cls)) throw new Error(`rejected with ${String(e)}, expected a ${cls.name}`);
    const msg = e instanceof Error ? e.message : String(e);
    if (!re.test(msg)) throw new Error(`rejected with '${msg}', expected ${re}`);
    return;
  }
  throw new Error(`expected a rejection matching ${re}, but it resolved`);
}
