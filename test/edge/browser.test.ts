/**
 * The edge bundle in a real browser: build it (scripts/build-edge.mjs), serve it with the demo server on
 * 127.0.0.1, and drive Debian's Chromium headless with playwright-core. On the main thread and in a Web
 * Worker it gives Node's probabilities within 1e-5, with and without the image; hostile checkpoints and a
 * bad JPEG show an error in the demo page instead of hanging it. Skipped, with the reason printed, where
 * /usr/bin/chromium is missing (.ci/run installs it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildEdgeBundle, startDemo } from '../../src/infer/demo-server.ts';
import type { DemoServer } from '../../src/infer/demo-server.ts';
import { Predictor } from '../../src/infer/index.ts';
import type { Prediction } from '../../src/infer/index.ts';
import { encodeCheckpoint } from '../../src/model/index.ts';
import { loadModel } from '../../src/node/model.ts';
import { CASES, ckpt, gray, jpeg, metadata, pageData, rgba } from '../util/edge-fixture.ts';
import type { Case } from '../util/edge-fixture.ts';

/** Debian's Chromium (RF_CHROMIUM overrides the path). */
const CHROMIUM = process.env.RF_CHROMIUM || '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`edge-browser.test.ts: SKIPPED: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);
const it = hasChromium ? test : test.skip;

const dir = mkdtempSync(join(tmpdir(), 'rf-edge-'));
const edgeDir = join(dir, 'edge');
let server: DemoServer;
let browser: Browser;
let page: Page;


function nodePredictions(): Prediction[] {
  const p = new Predictor(loadModel(ckpt));
  return CASES.map((c: Case) => p.predict({
    image: 'jpeg' in c && c.jpeg ? jpeg : 'rgba' in c && c.rgba ? { width: gray.width, height: gray.height, data: rgba } : undefined,
    table: c.table,
  }));
}

/** Runs in the browser (main thread or worker): the same cases through the bundle. */
const BROWSER_RUN = `
async function runCases(m, data) {
  const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const p = await m.createPredictor(bytes(data.ckpt));
  const results = data.cases.map((c) => p.predict({
    image: c.jpeg ? bytes(data.jpeg) : c.rgba ? { width: data.w, height: data.h, data: new Uint8ClampedArray(bytes(data.rgba)) } : undefined,
    table: c.table,
  }));
  const c0 = data.cases[0];
  const explained = p.explain({ image: c0.jpeg ? bytes(data.jpeg) : undefined, table: c0.table }).explanation;
  return { backend: p.model.backend.name, results, explained, worker: typeof window === 'undefined' };
}`;

function payload() {
  return pageData();
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
      if (!(d <= 1e-5)) assert.unreachable(`${where}, ${CASES[k].name}, ${label}: ${got[k].probabilities[label]} vs Node ${p}`);
    }
  });
  return maxDiff;
}

test.before(async () => {
  if (!hasChromium) return;
  buildEdgeBundle(edgeDir);
  server = await startDemo({ port: 0, edgeDir });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--headless=new'],
  });
  // The worker test below starts a blob: worker, which the demo's CSP forbids (as it should); the demo-page
  // test runs under the CSP.
  page = await browser.newPage({ bypassCSP: true });
  await page.goto(server.url);
});

test.after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('the bundle is one ES module with no Node.js import, next to both .wasm builds', () => {
  const text = readFileSync(join(edgeDir, 'resilient-fusion.mjs'), 'utf8');
  assert.not.match(text, /from\s*["']node:|require\(/);
  assert.ok(existsSync(join(edgeDir, 'engine.relaxed.wasm')) && existsSync(join(edgeDir, 'engine.simd.wasm')));
  const spread = nodePredictions().flatMap((p) => Object.values(p.probabilities));
  assert.ok(Math.max(...spread) - Math.min(...spread) > 0.3, 'probabilities spread out');
});

it('main thread: same probabilities as Node within 1e-5, with and without the image', async () => {
  const out = await page.evaluate(async ({ code, data }) => {
    const runCases = new Function(`${code}; return runCases;`)();
    const m = await import('/edge/resilient-fusion.mjs' as string);
    return runCases(m, data);
  }, { code: BROWSER_RUN, data: payload() });
  assert.is(out.worker, false);
  assert.match(out.backend, /^wasm-(relaxed-)?simd$/);
  const d = compare('main thread', out.results, nodePredictions());
  console.log(`  main thread (${out.backend}): max |p - p_node| = ${d.toExponential(2)}`);
  // The bundle's explain: Node's modality and feature values within 1e-5.
  const c0 = CASES[0];
  const want = new Predictor(loadModel(ckpt)).explain({ image: 'jpeg' in c0 && c0.jpeg ? jpeg : undefined, table: c0.table }).explanation!;
  const got = out.explained as typeof want;
  assert.equal(got.features.present, want.features.present);
  for (const l of Object.keys(want.modalities)) {
    for (const k of ['base', 'image', 'table', 'full'] as const) assert.ok(Math.abs(got.modalities[l][k] - want.modalities[l][k]) <= 1e-5, `explain ${l} ${k}`);
    want.features.findings[l].values.forEach((v, i) => assert.ok(Math.abs(got.features.findings[l].values[i].value - v.value) <= 1e-5, `explain ${l} ${v.name}`));
  }
});

it('Web Worker: same probabilities as Node within 1e-5, with and without the image', async () => {
  const out = await page.evaluate(({ code, data }) => new Promise<{ ok: boolean; error?: string; backend: string; results: Prediction[]; worker: boolean }>((resolve) => {
    const src = `${code}
self.onmessage = async (e) => {
  try {
    const m = await import(e.data.bundle);
    self.postMessage({ ok: true, ...(await runCases(m, e.data.data)) });
  } catch (err) { self.postMessage({ ok: false, error: String(err && err.message || err) }); }
};`;
    const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), { type: 'module' });
    w.onmessage = (e) => { w.terminate(); resolve(e.data); };
    w.onerror = (e) => resolve({ ok: false, error: e.message, backend: '', results: [], worker: true });
    w.postMessage({ bundle: new URL('/edge/resilient-fusion.mjs', location.href).href, data });
  }), { code: BROWSER_RUN, data: payload() });
  assert.ok(out.ok, out.error);
  assert.is(out.worker, true);
  const d = compare('worker', out.results, nodePredictions());
  console.log(`  worker (${out.backend}): max |p - p_node| = ${d.toExponential(2)}`);
});

/** The demo page's error box text, waited for (a hang fails the wait). */
async function demoError(p: Page): Promise<string> {
  await p.waitForFunction(() => { const e = document.getElementById('error'); return e && !e.hidden && e.textContent; }, null, { timeout: 10000 });
  return (await p.textContent('#error')) ?? '';
}

it('demo page: hostile checkpoints and a bad JPEG show an error, not a hang; a good checkpoint still works after', async () => {
  // The server's default checkpoint is hostile: an 8-byte header length of 2^62.
  const evil = new Uint8Array(64);
  new DataView(evil.buffer).setBigUint64(0, 1n << 62n, true);
  const evilPath = join(dir, 'evil.safetensors');
  writeFileSync(evilPath, evil);
  const demo = await startDemo({ port: 0, edgeDir, model: evilPath });
  const p = await browser.newPage();
  try {
    await p.goto(demo.url);
    assert.match(await demoError(p), /Cannot load evil\.safetensors: safetensors: header length \d+ exceeds/);

    const pick = async (name: string, bytes: Uint8Array) => {
      await p.evaluate(() => { const e = document.getElementById('error')!; e.hidden = true; e.textContent = ''; });
      await p.setInputFiles('#checkpoint', { name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
    };
    // Garbage, a header that is not JSON, tensors the config does not declare, metadata that lies.
    await pick('garbage.safetensors', Uint8Array.from({ length: 300 }, (_, i) => (i * 97) & 255));
    assert.match(await demoError(p), /Cannot load garbage\.safetensors: safetensors:/);
    const h = new TextEncoder().encode('{"__metadata__": {"format": "resilient-fusion/1", "config": "{\\"dim\\": 1e9}"}, "x": ');
    const notJson = new Uint8Array(8 + h.length);
    new DataView(notJson.buffer).setBigUint64(0, BigInt(h.length), true);
    notJson.set(h, 8);
    await pick('truncated-header.safetensors', notJson);
    assert.match(await demoError(p), /header is not valid JSON/);
    const m = loadModel(ckpt, { backend: 'reference' });
    await pick('no-normalization.safetensors', encodeCheckpoint(m.config, m.layout, m.paramData(), { schema: metadata.schema }));
    assert.match(await demoError(p), /checkpoint metadata: no 'normalization' entry/);
    const huge = encodeCheckpoint(m.config, m.layout, m.paramData(), metadata);
    await pick('truncated.safetensors', huge.subarray(0, huge.length - 100));
    assert.match(await demoError(p), /truncated/);

    // A good checkpoint: the page waits for input; a field gives bars; then a corrupt JPEG is an error in the
    // page, and the page recovers.
    await pick('good.safetensors', ckpt);
    await p.waitForFunction(() => document.body.dataset.state === 'waiting', null, { timeout: 10000 });
    await p.fill('#f-age', '50');
    await p.waitForFunction(() => document.querySelectorAll('#bars .bar').length === 14, null, { timeout: 10000 });
    assert.match((await p.textContent('#model-info')) ?? '', /good\.safetensors: .* parameters/);
    // Placeholders show the valid range in the unit the field takes (temperature: 26-45 C is 78.8-113 F).
    assert.is(await p.getAttribute('#f-temperature', 'placeholder'), '78.8 to 113');
    assert.match((await p.textContent('label[for="f-temperature"]')) ?? '', /\(F\)/);
    await p.setInputFiles('#image', { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(jpeg.subarray(0, jpeg.length - 30)) });
    assert.match(await demoError(p), /image: unreadable JPEG: truncated/);
    await p.setInputFiles('#image', { name: 'ok.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(jpeg) });
    await p.fill('#f-temperature', '101.2');
    await p.waitForFunction(() => document.getElementById('error')!.hidden && /temperature/.test(document.getElementById('features')!.textContent ?? ''), null, { timeout: 10000 });
    assert.match((await p.textContent('#modalities')) ?? '', /image.*table/);
  } finally {
    await p.close();
    await demo.close();
  }
});

test.run();
