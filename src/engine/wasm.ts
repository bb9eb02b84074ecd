/**
 * Node.js loader of the WebAssembly engine: reads build/engine.<build>.wasm, sets the relaxed-SIMD flag,
 * validates, compiles once per build, and picks the best build the runtime accepts.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { WasmCoreBackend } from './wasm-core.ts';
import type { WasmBuild } from './wasm-core.ts';

export { WasmCoreBackend, WORKSPACE_FLOATS } from './wasm-core.ts';
export type { WasmBuild, WasmExports } from './wasm-core.ts';

const modules = new Map<WasmBuild, WebAssembly.Module>();
let relaxedFlagSet = false;

/** build/engine.<build>.wasm, or the same name under $RF_WASM_DIR when set (private builds). */
function wasmPath(build: WasmBuild): string {
  const dir = process.env.RF_WASM_DIR;
  if (dir) return `${dir}/engine.${build}.wasm`;
  return fileURLToPath(new URL(`../../build/engine.${build}.wasm`, import.meta.url));
}

function loadBytes(build: WasmBuild): Uint8Array<ArrayBuffer> {
  const path = wasmPath(build);
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    throw new Error(`resilient-fusion: ${path} is missing; build the engine with \`npm run build:wasm\` (npm ci runs it).`);
  }
}

/**
 * Whether this runtime can run a build. Relaxed SIMD sits behind --experimental-wasm-relaxed-simd on
 * Node 20, so the flag is set (before any relaxed module is compiled) and the bytes are validated.
 */
export function wasmBuildSupported(build: WasmBuild): boolean {
  if (build === 'relaxed' && !relaxedFlagSet) {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    relaxedFlagSet = true;
  }
  return WebAssembly.validate(loadBytes(build));
}

/** The best build this runtime validates: relaxed SIMD (fused multiply-add), else plain SIMD. */
export function bestWasmBuild(): WasmBuild {
  if (wasmBuildSupported('relaxed')) return 'relaxed';
  if (wasmBuildSupported('simd')) return 'simd';
  throw new Error('resilient-fusion: this runtime validates neither WebAssembly build (128-bit SIMD is required).');
}

/** The compiled module of a build (cached). */
export function compiledModule(build: WasmBuild): WebAssembly.Module {
  let mod = modules.get(build);
  if (!mod) {
    if (!wasmBuildSupported(build)) throw new Error(`resilient-fusion: this runtime cannot run the ${build} WebAssembly build.`);
    mod = new WebAssembly.Module(loadBytes(build));
    modules.set(build, mod);
  }
  return mod;
}

/** The WebAssembly backend, loaded from the build folder (default: the best build this runtime runs). */
export class WasmBackend extends WasmCoreBackend {
  constructor(build: WasmBuild = bestWasmBuild(), initialBytes = 16 << 20) {
    super(compiledModule(build), build, initialBytes);
  }
}
