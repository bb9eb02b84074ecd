/**
 * The edge bundle's entry (dist/edge/resilient-fusion.mjs, built by `npm run build:edge`): inference without
 * Node.js, on a browser's main thread, in a Web Worker or in an edge runtime. It loads the engine (.wasm by
 * URL or bytes; relaxed SIMD when WebAssembly.validate accepts it, else plain SIMD), a checkpoint from bytes,
 * and predicts from raw inputs (JPEG bytes or decoded pixels, and a table of raw clinical values) with the
 * preprocessing the checkpoint prescribes: the same code path as `npm run predict`.
 *
 *   import { createPredictor } from './resilient-fusion.mjs';
 *   const p = await createPredictor(await (await fetch('model.safetensors')).arrayBuffer());
 *   const r = p.predict({ image: jpegBytes, table: { temperature: 101.2, gender: 'F' } });
 *   r.probabilities['Pleural Effusion'], r.modalities, r.features
 *
 * Why: `p.explain(input)` (or `await p.explainAsync(input)`) adds `explanation`: exact Shapley values over
 * {image, table} per finding (base + image + table = full, logit and probability scale) and over the
 * present table features by masking, the image held as given (src/infer/explain.ts).
 *
 * On the optional WebGPU backend (navigator.gpu; no adapter: a WebGPUUnavailableError naming the fix) the
 * model's results are read asynchronously, so predict with `await p.predictAsync(...)`:
 *   const g = await createPredictor(bytes, { backend: 'webgpu' });
 *   const r = await g.predictAsync({ image: jpegBytes, table: { temperature: 101.2 } });
 */
import { WasmCoreBackend } from '../engine/wasm-core.ts';
import type { WasmBuild } from '../engine/wasm-core.ts';
import { modelFromBytes } from '../model/model.ts';
import type { Backend, SyncBackend } from '../engine/types.ts';
import { Predictor } from '../infer/predictor.ts';
import type { PredictorOptions } from '../infer/predictor.ts';
import { createWebGPUBackend } from '../engine/webgpu/index.ts';
import type { WebGPUOptions } from '../engine/webgpu/index.ts';

export { Predictor, sigmoidProbabilities } from '../infer/predictor.ts';
export type { PredictInput, Prediction, FieldInfo, PredictorOptions } from '../infer/predictor.ts';
export type { Explanation, ExplainOptions, ModalityValues, FeatureValue, FindingFeatures } from '../infer/explain.ts';
export type { DecodedImage, ImageInput, TableInput, FieldReport, InvalidField } from '../infer/inputs.ts';
export { LABEL_NAMES } from '../engine/batch.ts';
export { WasmCoreBackend };
export { createWebGPUBackend, WebGPUUnavailableError, WEBGPU_FIX } from '../engine/webgpu/index.ts';
export type { WebGPUOptions } from '../engine/webgpu/index.ts';
export type { WasmBuild };

/** Where a .wasm build comes from: its bytes, a URL (fetched), a fetch Response, or a compiled module. */
export type WasmSource = WasmBytesSource | WebAssembly.Module;
type WasmBytesSource = ArrayBuffer | ArrayBufferView | URL | string | Response;

export interface EngineOptions {
  /** Sources of the two builds (default: engine.relaxed.wasm / engine.simd.wasm next to this module). */
  relaxed?: WasmSource;
  simd?: WasmSource;
  /** Force a build (default 'auto': relaxed when the runtime validates it, else simd). */
  build?: 'auto' | WasmBuild;
}

/** A compiled engine: make a backend per model with `backend()`. */
export interface Engine {
  module: WebAssembly.Module;
  build: WasmBuild;
  /** A fresh backend (its own linear memory). */
  backend(): WasmCoreBackend;
}

async function bytesOf(src: WasmBytesSource, what: string): Promise<Uint8Array> {
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer as ArrayBuffer, src.byteOffset, src.byteLength);
  let res: Response;
  if (typeof Response !== 'undefined' && src instanceof Response) res = src;
  else {
    try {
      res = await fetch(src as string | URL);
    } catch (e) {
      throw new Error(`${what}: cannot fetch ${String(src)} (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (!res.ok) throw new Error(`${what}: ${res.url || String(src)} answered ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

const defaultSource = (build: WasmBuild): URL => new URL(`./engine.${build}.wasm`, import.meta.url);

/**
 * Fetch (or take) and compile the engine: the relaxed-SIMD build (fused multiply-add) when
 * WebAssembly.validate accepts it, else the plain 128-bit SIMD build.
 */
export async function loadEngine(opts: EngineOptions = {}): Promise<Engine> {
  if (typeof WebAssembly !== 'object') throw new Error('resilient-fusion: this runtime has no WebAssembly');
  const want = opts.build ?? 'auto';
  const order: WasmBuild[] = want === 'auto' ? ['relaxed', 'simd'] : [want];
  const errors: string[] = [];
  for (const build of order) {
    const src = opts[build] ?? defaultSource(build);
    let module: WebAssembly.Module;
    if (src instanceof WebAssembly.Module) module = src;
    else {
      let bytes: Uint8Array;
      try {
        bytes = await bytesOf(src as WasmBytesSource, `engine.${build}.wasm`);
      } catch (e) {
        errors.push((e as Error).message);
        continue;
      }
      if (!WebAssembly.validate(bytes as BufferSource)) {
        errors.push(`this runtime does not validate the ${build} build${build === 'relaxed' ? ' (no relaxed SIMD)' : ' (no 128-bit SIMD)'}`);
        continue;
      }
      module = await WebAssembly.compile(bytes as BufferSource);
    }
    return { module, build, backend: () => new WasmCoreBackend(module, build) };
  }
  throw new Error(`resilient-fusion: cannot load the engine: ${errors.join('; ')}`);
}

export interface CreateOptions extends EngineOptions, PredictorOptions {
  /** An engine from loadEngine() to reuse (default: loaded with the options above). */
  engine?: Engine;
  /**
   * 'wasm' (default): the WebAssembly engine, `predict` and `predictAsync` both work. 'webgpu': the optional
   * WebGPU backend on navigator.gpu (rejects with WebGPUUnavailableError, naming the fix, where there is no
   * adapter); results are read asynchronously, so use `predictAsync` / `predictManyAsync`.
   */
  backend?: 'wasm' | 'webgpu';
  /** With backend 'webgpu': options for createWebGPUBackend. */
  webgpu?: WebGPUOptions;
}

/**
 * Load a checkpoint (the bytes of a model.safetensors written by `npm run train`) on a fresh backend and
 * return its Predictor. Throws a clear message on a malformed or hostile checkpoint.
 */
export async function createPredictor(checkpoint: ArrayBuffer | ArrayBufferView, opts?: CreateOptions & { backend?: 'wasm' }): Promise<Predictor<SyncBackend>>;
export async function createPredictor(checkpoint: ArrayBuffer | ArrayBufferView, opts: CreateOptions): Promise<Predictor<Backend>>;
export async function createPredictor(checkpoint: ArrayBuffer | ArrayBufferView, opts: CreateOptions = {}): Promise<Predictor<Backend>> {
  let bytes: Uint8Array;
  if (checkpoint instanceof ArrayBuffer) bytes = new Uint8Array(checkpoint);
  else if (ArrayBuffer.isView(checkpoint)) bytes = new Uint8Array(checkpoint.buffer as ArrayBuffer, checkpoint.byteOffset, checkpoint.byteLength);
  else throw new Error('createPredictor: the checkpoint must be bytes (ArrayBuffer or Uint8Array)');
  const kind = opts.backend ?? 'wasm';
  if (kind !== 'wasm' && kind !== 'webgpu') throw new Error(`createPredictor: backend is 'wasm' or 'webgpu', got '${String(kind)}'`);
  const backend: Backend = kind === 'webgpu' ? await createWebGPUBackend(opts.webgpu) : (opts.engine ?? (await loadEngine(opts))).backend();
  const model = modelFromBytes(bytes, { backend });
  return new Predictor(model, opts);
}
