/**
 * The WebGPU self-test: the op table (src/engine/op-table.ts, the same table the WebAssembly builds are
 * tested with) on a WebGPU device against the float64 reference backend, plus two checks of the WebGPU
 * backend itself (synchronous reads refused with a pointer to the async API; arena growth keeps contents).
 * Runs wherever a device exists (the Node test, the Chromium page, `npm run bench -- webgpu`), so it imports
 * nothing Node-specific.
 */
import { checkBackend } from '../op-check.ts';
import type { CaseResult } from '../op-check.ts';
import type { WebGPUBackend } from './backend.ts';
import { createWebGPUBackend, WebGPUUnavailableError } from './index.ts';

export type { CaseResult } from '../op-check.ts';

/** Checks of the WebGPU backend that are not kernels: each throws on failure. */
const BACKEND_CHECKS: { name: string; run(gpu: WebGPUBackend): Promise<void> }[] = [
  {
    name: 'webgpu: a synchronous read (from untyped code) says what to use instead',
    run: async (gpu) => {
      let msg = '';
      try { gpu.view(); } catch (e) { msg = (e as Error).message; }
      if (!/forwardAsync/.test(msg) || !/predictAsync/.test(msg)) throw new Error(`expected a pointer to the async API, got '${msg}'`);
    },
  },
  {
    name: 'webgpu: arena growth keeps contents (device-side copy)',
    run: async (gpu) => {
      const n = 1000, x = gpu.alloc(n), want = Float32Array.from({ length: n }, (_, i) => i - 500);
      gpu.write(x, want);
      gpu.scale(x, n, 3); // enqueued before the grow
      gpu.alloc(3 << 20);
      const got = await gpu.read(x, n);
      for (let i = 0; i < n; i++) if (got[i] !== 3 * want[i]) throw new Error(`x[${i}] = ${got[i]}, want ${3 * want[i]}`);
    },
  },
];

const DEBUG = !!(globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.RF_WEBGPU_DEBUG;

/** The op table on `gpu` and the backend checks (optionally those whose name matches `filter`); never throws. */
export async function runKernelSuite(gpu: WebGPUBackend, filter?: RegExp): Promise<CaseResult[]> {
  const out = await checkBackend(gpu, { filter, log: DEBUG ? (name) => console.error(`case ${name}`) : undefined });
  for (const c of BACKEND_CHECKS) {
    if (filter && !filter.test(c.name)) continue;
    const mark = gpu.mark(), t0 = performance.now();
    try {
      await c.run(gpu);
      await gpu.finish();
      out.push({ name: c.name, ok: true, maxdiff: 0, flops: 0, ms: performance.now() - t0 });
    } catch (e) {
      out.push({ name: c.name, ok: false, maxdiff: NaN, flops: 0, ms: performance.now() - t0, error: (e as Error).message });
    }
    gpu.release(mark);
  }
  return out;
}

/** One line per case, llm.c style. */
export function formatResult(r: CaseResult): string {
  if (r.skipped) return `SKIPPED    ${r.name}: ${r.skipped}`;
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
