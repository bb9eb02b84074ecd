/**
 * The WebGPU backend: the op table (src/engine/op-table.ts, as the WebAssembly builds in test/engine/op-table-wasm.test.ts)
 * against the float64 reference, through src/engine/webgpu/selftest.ts,
 * (a) in headless Chromium with WebGPU on SwiftShader (a software adapter is enough for correctness):
 *     the backend and the suite bundled by esbuild, served from 127.0.0.1, driven by playwright-core;
 * (b) in Node through the optional `webgpu` package (Dawn), in a child process, as the host is configured
 *     (a real GPU where there is one, else Chromium's SwiftShader driver: test/util/browser.ts).
 * Where neither has an adapter the test says why and is counted as skipped, never silently passed.
 */
import { test } from 'uvu';
import { fileURLToPath } from 'node:url';
import { formatResult } from '../../src/engine/webgpu/selftest.ts';
import type { CaseResult } from '../../src/engine/webgpu/selftest.ts';
import { jsonChild, onNodeGpu, onWebGpuPage } from '../util/browser.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface SuiteOutput { adapter?: string; results?: CaseResult[]; skip?: string; error?: string }

function report(where: string, out: SuiteOutput): void {
  if (out.error) throw new Error(`${where}: ${out.error}`);
  const results = out.results ?? [];
  console.log(`  [webgpu] ${where}: ${out.adapter}`);
  const bad = results.filter((r) => !r.ok);
  for (const r of results) {
    if (!r.ok || process.env.RF_VERBOSE) {
      console.log(`    ${formatResult(r)}`);
    }
  }
  const worst = Math.max(0, ...results.filter((r) => r.ok).map((r) => r.maxdiff)), skipped = results.filter((r) => r.skipped).length;
  console.log(`  [webgpu] ${where}: ${results.length - bad.length}/${results.length} op-table cases OK (${skipped} not taken by WebGPU), max |diff| ${worst.toExponential(2)}`);
  if (results.length === 0) throw new Error(`${where}: the suite ran no cases`);
  if (bad.length) throw new Error(`${where}: ${bad.length} kernel case(s) failed: ${bad.map((r) => r.name).join('; ')}`);
}

// ---- (a) headless Chromium -----------------------------------------------------------------------------

async function bundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const entry = `
    import { createWebGPUBackend, WebGPUUnavailableError } from './src/engine/webgpu/index.ts';
    import { runKernelSuite } from './src/engine/webgpu/selftest.ts';
    globalThis.rfRun = async (filter) => {
      let be;
      try { be = await createWebGPUBackend(); }
      catch (e) { return e instanceof WebGPUUnavailableError ? { skip: e.message } : { error: String(e && e.stack || e) }; }
      const results = await runKernelSuite(be, filter ? new RegExp(filter) : undefined);
      be.destroy();
      return { adapter: be.adapterInfo, results };
    };`;
  const r = await esbuild.build({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts', sourcefile: 'webgpu-test-entry.ts' },
    bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

async function inChromium(): Promise<SuiteOutput> {
  const js = await bundle();
  return onWebGpuPage({
    js, title: 'webgpu kernels', ready: 'rfRun', timeout: 300_000,
    call: async (page) => (await page.evaluate((f) => (globalThis as unknown as { rfRun(f?: string): Promise<SuiteOutput> }).rfRun(f), process.env.RF_WEBGPU_FILTER)) as SuiteOutput,
  });
}

// ---- (b) Node + the webgpu package ----------------------------------------------------------------------

function inNode(env: Record<string, string>): SuiteOutput {
  const args = ['src/engine/webgpu/selftest-node.ts'];
  if (process.env.RF_WEBGPU_FILTER) args.push(process.env.RF_WEBGPU_FILTER);
  return jsonChild<SuiteOutput>(ROOT, args, env, 300_000);
}

// Decide before registering, so a missing adapter is reported as a skip by uvu.
const chromiumOut = await inChromium().catch((e: Error): SuiteOutput => ({ error: e.stack ?? e.message }));
if (chromiumOut.skip) {
  console.log(`  [webgpu] SKIPPED Chromium: ${chromiumOut.skip}`);
  test.skip('WGSL kernels vs reference in headless Chromium (SwiftShader)', () => {});
} else {
  test('WGSL kernels vs reference in headless Chromium (SwiftShader)', () => report('Chromium', chromiumOut));
}

const node = process.env.RF_WEBGPU_NODE === '0'
  ? { where: 'Node', out: { skip: 'RF_WEBGPU_NODE=0' } as SuiteOutput }
  : onNodeGpu(inNode);
if (node.out.skip) {
  console.log(`  [webgpu] SKIPPED ${node.where}: ${node.out.skip} (with Debian's chromium installed, Chromium's SwiftShader driver is tried)`);
  test.skip('WGSL kernels vs reference in Node (webgpu package)', () => {});
} else {
  test('WGSL kernels vs reference in Node (webgpu package)', () => report(node.where, node.out));
}

test('no adapter: a clear message that names the fix, and no crash', async () => {
  const { WebGPUUnavailableError, WEBGPU_FIX } = await import('../../src/engine/webgpu/index.ts');
  const e = new WebGPUUnavailableError('no adapter');
  if (!e.message.includes('--backend wasm') || !e.message.includes('npm install webgpu') || !WEBGPU_FIX.includes('--enable-unsafe-webgpu')) {
    throw new Error(`message does not name the fix: ${e.message}`);
  }
});

test.run();
