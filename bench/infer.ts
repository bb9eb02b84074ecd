/**
 * Inference speed against onnxruntime (issue 28): the same model, exported with src/export/onnx.ts, timed
 * per forward pass on batches of complete samples (image and every feature present: the graph always runs
 * full sequences, the engine skips absent modalities, so complete samples are the like-for-like case).
 *
 * In Node: this engine on one thread (the WebAssembly backend, its best build) against onnxruntime-node with
 * one intra-op thread and with all cores. In headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core): the edge bundle (dist/edge, built into a temporary folder) against onnxruntime-web's wasm
 * backend (SIMD, one thread; and threaded, the page being cross-origin isolated by its COOP/COEP headers),
 * both served from 127.0.0.1 and node_modules: no network. Each pair is verified before it is timed: the
 * logits agree within 1e-5 relative (max|d| / max|ref|), and each row carries that figure (`maxRel`).
 *
 * Rows: bench `infer`, build = the runtime (`engine`, `ort-node`, `edge`, `ort-web`), `threads`, shape
 * `PRESET B=N`, median ms per forward, samples/s, and on onnxruntime rows `engineSpeedup` = onnxruntime's
 * time / the engine's (Node) or the edge bundle's (browser) time on the same batch: >= 1 means this engine
 * is at least as fast. Presets small and base with the default feature spec's 13 numeric and 3 categorical
 * features; batches 1 and 64. `--quick`: tiny only, short timing (the smoke run of the tests).
 */
import { availableParallelism, tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { WasmBackend } from '../src/engine/index.ts';
import type { PresetName } from '../src/model/index.ts';
import { exportOnnx } from '../src/export/onnx.ts';
import { buildEdgeBundle } from '../src/infer/demo-server.ts';
import { feedsOf, perturbedModel, relDiff } from './onnx-compare.ts';
import { syntheticBatch } from '../src/model/synthetic.ts';
import type { Availability } from '../src/model/synthetic.ts';
import { summarize } from './util.ts';
import type { BenchArgs, BenchMain, BenchRow, Timing } from './util.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CHROMIUM = process.env.RF_CHROMIUM || '/usr/bin/chromium';
/** The agreement every timed pair must show first (max|d| / max|ref| over the logits). */
const AGREE = 1e-5;

/** The timing budget of one row. */
interface Budget { minRuns: number; minSeconds: number; warmup: number }

/** A preset with 13 numeric and 3 categorical features, every parameter perturbed (agreement then means something). */
function benchModel(preset: PresetName) {
  return perturbedModel(preset, {}, 1, new WasmBackend(undefined, 64 << 20));
}

/** As bench/util.ts `measure`, for an async call. */
async function measureAsync(fn: () => Promise<unknown>, o: Budget): Promise<Timing> {
  for (let i = 0; i < o.warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 1000 && (times.length < o.minRuns || performance.now() - start < o.minSeconds * 1000)) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return summarize(times);
}

function inferRow(build: string, threads: number, preset: string, B: number, t: Timing, extra: Record<string, unknown> = {}): BenchRow {
  return { bench: 'infer', build, shape: `${preset} B=${B}`, medianMs: t.median * 1e3, spreadPct: t.spreadPct, threads, samplesPerSec: B / t.median, ...extra };
}

/** The Node rows of one preset and batch size. */
async function nodeRows(preset: PresetName, B: number, onnx: Uint8Array, m: ReturnType<typeof benchModel>, o: Budget, emit: (r: BenchRow) => void): Promise<void> {
  const batch = syntheticBatch(m.config, Array<Availability>(B).fill('both'), 11);
  const ref = Float32Array.from(m.forward(batch));
  const te = await measureAsync(async () => m.forward(batch), o);
  emit(inferRow('engine', 1, preset, B, te, { wasm: m.backend.name }));
  const f = feedsOf(batch);
  for (const threads of [...new Set([1, availableParallelism()])]) {
    const s = await ort.InferenceSession.create(onnx, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    const got = (await s.run(f)).logits.data as Float32Array;
    const maxRel = relDiff(got, ref);
    if (!(maxRel <= AGREE)) throw new Error(`infer bench: onnxruntime-node's logits differ from the engine's by ${maxRel} relative (${preset} B=${B})`);
    const t = await measureAsync(() => s.run(f), o);
    emit(inferRow('ort-node', threads, preset, B, t, { engineSpeedup: t.median / te.median, maxRel: maxRel.toExponential(1) }));
    await s.release();
  }
}

/**
 * Runs in the page: builds the same kind of batch in both runtimes (a seeded generator), checks agreement,
 * times each. onnxruntime-web fixes its thread count when its wasm starts (once per page), so each page
 * times one `ortThreads` (more than 1 only when the page is cross-origin isolated); `edge` says whether the
 * page times the edge bundle too (it always runs it once, as the reference of the agreement check).
 */
const PAGE = `
import { createPredictor } from '/edge/resilient-fusion.mjs';
import * as ort from '/ort/ort.wasm.min.mjs';
ort.env.wasm.wasmPaths = '/ort/';
const fetchBytes = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
async function time(fn, o) {
  for (let i = 0; i < o.warmup; i++) await fn();
  const times = [], start = performance.now();
  while (times.length < 1000 && (times.length < o.minRuns || performance.now() - start < o.minSeconds * 1000)) {
    const t0 = performance.now(); await fn(); times.push((performance.now() - t0) / 1000);
  }
  return times;
}
function batchOf(c, B) {
  let s = 12345;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const S = c.imageSize, Fn = c.numFeatures, Fc = c.catCardinalities.length;
  const b = { B, S, image: new Float32Array(B * S * S).map(() => 2 * r() - 1), hasImage: new Uint8Array(B).fill(1),
    num: new Float32Array(B * Fn).map(() => 2 * r() - 1), numPresent: new Uint8Array(B * Fn).fill(1),
    cat: new Int32Array(B * Fc), catPresent: new Uint8Array(B * Fc).fill(1), labels: new Float32Array(B * 14).fill(NaN) };
  for (let i = 0; i < B; i++) for (let j = 0; j < Fc; j++) b.cat[i * Fc + j] = Math.floor(r() * c.catCardinalities[j]);
  return b;
}
window.runInfer = async (job) => {
  const p = await createPredictor(await fetchBytes(job.ckpt));
  const onnx = await fetchBytes(job.onnx);
  const out = { build: p.model.backend.name, isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency, rows: [] };
  for (const B of job.batches) {
    const b = batchOf(p.model.config, B), Fn = b.num.length / B, Fc = b.cat.length / B;
    const ref = Float32Array.from(p.model.forward(b));
    if (job.edge) out.rows.push({ runtime: 'edge', threads: 1, B, times: await time(async () => p.model.forward(b), job.budget) });
    const feeds = {
      image: new ort.Tensor('float32', b.image, [B, 1, b.S, b.S]), image_present: new ort.Tensor('float32', Float32Array.from(b.hasImage), [B]),
      num: new ort.Tensor('float32', b.num, [B, Fn]), num_present: new ort.Tensor('float32', Float32Array.from(b.numPresent), [B, Fn]),
      cat: new ort.Tensor('int64', BigInt64Array.from(b.cat, (v) => BigInt(v)), [B, Fc]), cat_present: new ort.Tensor('float32', Float32Array.from(b.catPresent), [B, Fc]),
    };
    for (const threads of [job.ortThreads]) {
      if (threads > 1 && !self.crossOriginIsolated) continue;
      ort.env.wasm.numThreads = threads;
      const s = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'] });
      const got = (await s.run(feeds)).logits.data;
      let d = 0, m = 0;
      for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(got[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
      out.rows.push({ runtime: 'ort-web', threads, B, maxRel: d / m, times: await time(() => s.run(feeds), job.budget) });
      await s.release();
    }
  }
  return out;
};
window.pageReady = true;
`;

/** Serve the page, the edge bundle, onnxruntime-web's dist and the two model files from 127.0.0.1. */
async function serve(edgeDir: string, files: Record<string, Uint8Array>) {
  const ortDir = join(ROOT, 'node_modules/onnxruntime-web/dist');
  const types: Record<string, string> = { mjs: 'text/javascript', js: 'text/javascript', wasm: 'application/wasm', html: 'text/html' };
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    // Cross-origin isolation (SharedArrayBuffer, so onnxruntime-web may run threads).
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    res.setHeader('cross-origin-embedder-policy', 'require-corp');
    const send = (body: Uint8Array | string, type: string) => { res.setHeader('content-type', type); res.end(body); };
    if (url === '/') return send('<!doctype html><meta charset="utf-8"><title>infer bench</title><script type="module" src="/page.mjs"></script>', 'text/html');
    if (url === '/page.mjs') return send(PAGE, 'text/javascript');
    if (files[url]) return send(files[url], 'application/octet-stream');
    const m = /^\/(edge|ort)\/([\w.-]+)$/.exec(url);
    const path = m && join(m[1] === 'edge' ? edgeDir : ortDir, m[2]);
    if (path && existsSync(path)) return send(readFileSync(path), types[path.split('.').pop()!] ?? 'application/octet-stream');
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** The browser rows of one preset (both batch sizes in one page). Skipped, with a row saying why, without Chromium. */
async function browserRows(preset: PresetName, batches: number[], ckpt: Uint8Array, onnx: Uint8Array, edgeDir: string, o: Budget, emit: (r: BenchRow) => void): Promise<void> {
  const { chromium } = await import('playwright-core');
  const { server, url } = await serve(edgeDir, { '/model.safetensors': ckpt, '/model.onnx': onnx });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new', '--disable-background-networking', '--disable-component-update'], headless: true });
  try {
    type PageRow = { runtime: string; threads: number; B: number; maxRel?: number; times: number[] };
    type PageResult = { build: string; isolated: boolean; rows: PageRow[] };
    const runPage = async (ortThreads: number, edge: boolean): Promise<PageResult> => {
      const page = await browser.newPage();
      try {
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(url);
        await page.waitForFunction(() => (globalThis as { pageReady?: boolean }).pageReady === true || document.readyState === 'complete');
        if (errors.length) throw new Error(`infer bench: page error: ${errors.join('; ')}`);
        page.setDefaultTimeout(600_000);
        const job = { ckpt: '/model.safetensors', onnx: '/model.onnx', batches, budget: o, ortThreads, edge };
        return await page.evaluate((j) => (globalThis as unknown as { runInfer: (j: unknown) => Promise<unknown> }).runInfer(j), job) as PageResult;
      } finally {
        await page.close();
      }
    };
    const first = await runPage(1, true);
    const res = { ...first, rows: [...first.rows] };
    if (availableParallelism() > 1) res.rows.push(...(await runPage(availableParallelism(), false)).rows);
    const edge = new Map<number, Timing>();
    for (const r of res.rows) {
      const t = summarize(r.times);
      if (r.runtime === 'edge') {
        edge.set(r.B, t);
        emit(inferRow('edge', 1, preset, r.B, t, { where: 'chromium', wasm: res.build }));
        continue;
      }
      if (!(r.maxRel! <= AGREE)) throw new Error(`infer bench: onnxruntime-web's logits differ from the edge bundle's by ${r.maxRel} relative (${preset} B=${r.B})`);
      emit(inferRow('ort-web', r.threads, preset, r.B, t, { where: 'chromium', engineSpeedup: t.median / edge.get(r.B)!.median, maxRel: r.maxRel!.toExponential(1), isolated: res.isolated }));
    }
  } finally {
    await browser.close();
    server.close();
  }
}

export const main: BenchMain = async (args: BenchArgs, emit) => {
  const presets: PresetName[] = args.quick ? ['tiny'] : ['small', 'base'];
  const batches = [1, 64];
  const budget: Budget = args.quick ? { minRuns: 3, minSeconds: 0.05, warmup: 1 } : { minRuns: 10, minSeconds: 2, warmup: 3 };
  const hasBrowser = existsSync(CHROMIUM);
  const tmp = mkdtempSync(join(tmpdir(), 'rf-infer-bench-'));
  try {
    const edgeDir = join(tmp, 'edge');
    if (hasBrowser) buildEdgeBundle(edgeDir);
    for (const preset of presets) {
      const m = benchModel(preset);
      const onnx = exportOnnx({ config: m.config, params: m.paramData(), metadata: m.metadata });
      for (const B of batches) await nodeRows(preset, B, onnx, m, budget, emit);
      if (hasBrowser) await browserRows(preset, batches, m.toSafetensors(), onnx, edgeDir, budget, emit);
      else emit({ bench: 'infer', build: 'edge', shape: `${preset}`, medianMs: NaN, spreadPct: NaN, skipped: `no Chromium at ${CHROMIUM}` });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
};
