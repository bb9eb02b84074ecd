/** The engine: backends that implement the kernel interface of types.ts. */
export type { Backend, SyncBackend, GemmEpilogue, GemmOptions, Ptr, FloatArray } from './types.ts';
export { SCALAR_FLOATS } from './types.ts';
export type { Batch } from './batch.ts';
export { LABEL_NAMES, NUM_LABELS, hasTabular } from './batch.ts';
export { ReferenceBackend } from './reference.ts';
export { WasmBackend, WasmCoreBackend, bestWasmBuild, wasmBuildSupported, compiledModule, WORKSPACE_FLOATS } from './wasm.ts';
export type { WasmBuild, WasmExports } from './wasm.ts';
import type { Backend, SyncBackend } from './types.ts';
import { ReferenceBackend } from './reference.ts';
import { WasmBackend, bestWasmBuild } from './wasm.ts';
// Static: a dynamic import of a .ts module fails inside tsx-run worker threads (the trainer's replicas).
import { createWebGPUBackend } from './webgpu/index.ts';

/** 'auto' (the best WebAssembly build the runtime validates), 'relaxed', 'simd' or 'reference'. */
export type BackendKind = 'auto' | 'relaxed' | 'simd' | 'reference';
/** A BackendKind, or 'webgpu' (the optional accelerator, created asynchronously). */
export type AnyBackendKind = BackendKind | 'webgpu';

/** Create a synchronous backend by kind. */
export function createBackend(kind: BackendKind = 'auto'): SyncBackend {
  if ((kind as string) === 'webgpu') throw new Error("createBackend('webgpu'): WebGPU starts asynchronously; use `await createBackendAsync('webgpu')` and pass the instance");
  if (kind === 'reference') return new ReferenceBackend();
  return new WasmBackend(kind === 'auto' ? bestWasmBuild() : kind);
}

/**
 * Create any backend, WebGPU included (found through navigator.gpu or the optional `webgpu` package; when
 * there is no adapter the rejection says so and names the fix).
 */
export async function createBackendAsync(kind: AnyBackendKind = 'auto'): Promise<Backend> {
  if (kind !== 'webgpu') return createBackend(kind);
  return createWebGPUBackend();
}
