/**
 * Stands in for src/engine/wasm.ts (the Node.js loader) in the edge bundle: scripts/build-edge.mjs swaps
 * it in, so the bundle never reaches node:fs or node:v8. The backend class is the same WasmCoreBackend; only
 * loading from the build folder is unavailable (src/edge/index.ts loads the .wasm by URL or bytes instead).
 */
import { WasmCoreBackend } from '../engine/wasm-core.ts';
import type { WasmBuild } from '../engine/wasm-core.ts';

export { WasmCoreBackend, WORKSPACE_FLOATS } from '../engine/wasm-core.ts';
export type { WasmBuild, WasmExports } from '../engine/wasm-core.ts';

function unavailable(what: string): never {
  throw new Error(`resilient-fusion edge bundle: ${what} reads the .wasm from the build folder (Node.js only); load the engine with loadEngine() and pass its backend`);
}

export function wasmBuildSupported(_build: WasmBuild): boolean { return unavailable('wasmBuildSupported'); }
export function bestWasmBuild(): WasmBuild { return unavailable('bestWasmBuild'); }
export function compiledModule(_build: WasmBuild): WebAssembly.Module { return unavailable('compiledModule'); }

export class WasmBackend extends WasmCoreBackend {
  constructor(_build?: WasmBuild, _initialBytes?: number) {
    unavailable('WasmBackend');
    super(undefined as never, 'simd');
  }
}
