/**
 * The edge bundle on WebGPU: in headless Chromium with WebGPU on SwiftShader (the flag set of
 * test/engine/op-table-webgpu.test.ts), `createPredictor(bytes, { backend: 'webgpu' })` + `predictAsync` gives the wasm
 * predictor's probabilities within 1e-4 (float32 on both, different summation orders), with and without the
 * image; its synchronous `predict` throws naming `predictAsync`. Where Chromium or a WebGPU adapter is
 * missing the test says why and is counted as skipped, never silently passed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEdgeBundle, startDemo } from '../../src/infer/demo-server.ts';
import type { Prediction } from '../../src/infer/index.ts';
import { CASES, pageData } from '../util/edge-fixture.ts';
import { CHROMIUM, WEBGPU_CHROMIUM_ARGS, loadChromium } from '../util/browser.ts';



interface PageOut {
  skip?: string; error?: string;
  adapter?: string; wasmBackend?: string; gpuBackend?: string;
  wasm?: Prediction[]; gpu?: Prediction[]; batch?: Prediction[]; syncError?: string;
}

/** Runs in the page: both predictors from the bundle on the same cases. */
const PAGE_RUN = `
async function run(m, data) {
  const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const inputs = data.cases.map((c) => ({
    image: c.jpeg ? bytes(data.jpeg) : c.rgba ? { width: data.w, height: data.h, data: new Uint8ClampedArray(bytes(data.rgba)) } : undefined,
    table: c.table,
  }));
  const cpu = await m.createPredictor(bytes(data.ckpt));
  const wasm = inputs.map((x) => cpu.predict(x));
  let gpu;
  try { gpu = await m.createPredictor(bytes(data.ckpt), { backend: 'webgpu' }); }
  catch (e) { return e instanceof m.WebGPUUnavailableError ? { skip: e.message } : { error: String(e && e.stack || e) }; }
  try {
    const one = [];
    for (const x of inputs) one.push(await gpu.predictAsync(x));
    const batch = await gpu.predictManyAsync(inputs);
    let syncError = '';
    try { gpu.predict(inputs[0]); } catch (e) { syncError = String(e.message); }
    return { adapter: gpu.model.backend.adapterInfo, wasmBackend: cpu.model.backend.name, gpuBackend: gpu.model.backend.name, wasm, gpu: one, batch, syncError };
  } catch (e) { return { error: String(e && e.stack || e) }; }
}`;

async function inChromium(): Promise<PageOut> {
  const pw = await loadChromium();
  if ('skip' in pw) return { skip: pw.skip };
  const { chromium } = pw;
  const dir = mkdtempSync(join(tmpdir(), 'rf-edge-webgpu-'));
  const edgeDir = join(dir, 'edge');
  buildEdgeBundle(edgeDir);
  const server = await startDemo({ port: 0, edgeDir });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: WEBGPU_CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage({ bypassCSP: true }); // the run below uses eval (new Function), which the demo's CSP forbids
    page.setDefaultTimeout(180_000);
    await page.goto(server.url);
    const hasGpu = await page.evaluate(async () => {
      const gpu = (navigator as { gpu?: GPU }).gpu;
      return !!gpu && !!(await gpu.requestAdapter());
    });
    if (!hasGpu) return { skip: `Chromium (${CHROMIUM}) offers no WebGPU adapter with flags ${WEBGPU_CHROMIUM_ARGS.join(' ')}` };
    const data = pageData();
    return (await page.evaluate(async ({ code, data }) => {
      const run = new Function(`${code}; return run;`)();
      const m = await import('/edge/resilient-fusion.mjs' as string);
      return run(m, data);
    }, { code: PAGE_RUN, data })) as PageOut;
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function compare(where: string, got: Prediction[], want: Prediction[]): number {
  let maxDiff = 0;
  assert.is(got.length, want.length);
  want.forEach((w, k) => {
    assert.equal(got[k].modalities, w.modalities, `${where}, ${CASES[k].name}: modalities`);
    assert.equal(got[k].features, w.features, `${where}, ${CASES[k].name}: features`);
    for (const [label, p] of Object.entries(w.probabilities)) {
      const d = Math.abs(got[k].probabilities[label] - p);
      maxDiff = Math.max(maxDiff, d);
      if (!(d <= 1e-4)) assert.unreachable(`${where}, ${CASES[k].name}, ${label}: ${got[k].probabilities[label]} vs wasm ${p}`);
    }
  });
  return maxDiff;
}

const out = await inChromium().catch((e: Error): PageOut => ({ error: e.stack ?? e.message }));
const NAME = "edge bundle, backend 'webgpu' in headless Chromium: the wasm predictor's probabilities within 1e-4, with and without the image";
if (out.skip) {
  console.log(`  [edge-webgpu] SKIPPED: ${out.skip}`);
  test.skip(NAME, () => {});
} else {
  test(NAME, () => {
    if (out.error) throw new Error(out.error);
    assert.match(out.wasmBackend ?? '', /^wasm-(relaxed-)?simd$/);
    assert.is(out.gpuBackend, 'webgpu');
    const spread = out.wasm!.flatMap((p) => Object.values(p.probabilities));
    assert.ok(Math.max(...spread) - Math.min(...spread) > 0.3, 'probabilities spread out');
    const d1 = compare('predictAsync', out.gpu!, out.wasm!);
    const d2 = compare('predictManyAsync', out.batch!, out.wasm!);
    console.log(`  [edge-webgpu] ${out.adapter} vs ${out.wasmBackend}: max |p_gpu - p_wasm| = ${d1.toExponential(2)} one by one, ${d2.toExponential(2)} batched (${CASES.length} cases)`);
    assert.match(out.syncError ?? '', /predictAsync/, 'the synchronous predict on WebGPU names predictAsync');
  });
}

test.run();
