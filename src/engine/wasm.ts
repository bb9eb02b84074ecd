/**
 * Node.js loader of the WebAssembly engine: reads build/engine.<build>.wasm, validates it (setting the
 * relaxed-SIMD flag only on a runtime that needs and knows it), compiles once per build, and picks the best
 * build the runtime accepts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { WasmCoreBackend } from './wasm-core.ts';
import type { WasmBuild } from './wasm-core.ts';

export { WasmCoreBackend, WORKSPACE_FLOATS } from './wasm-core.ts';
export type { WasmBuild, WasmExports } from './wasm-core.ts';

const modules = new Map<WasmBuild, WebAssembly.Module>();
let relaxedFlagTried = false;

/** The V8 flag that enables relaxed SIMD where it is still experimental (Node 20, V8 11.3). */
export const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';

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
 * Whether this runtime's V8 has a flag, asked of the runtime itself (`node --v8-options`, one short child
 * process) rather than guessed from its version. Why: `v8.setFlagsFromString` with a flag V8 does not know
 * prints "Error: unrecognized flag" on stderr (Node 22 and later dropped the relaxed-SIMD flag, the feature
 * having shipped), and that cannot be caught. A runtime that cannot be asked is taken not to know the flag.
 */
export function v8KnowsFlag(flag: string): boolean {
  try {
    const r = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 16 << 20 });
    if (r.status !== 0 || typeof r.stdout !== 'string') return false;
    const name = flag.replace(/^--(no-)?/, '');
    // V8 lists each flag as `  --name (help)`; dashes and underscores are interchangeable in flag names.
    const norm = (t: string) => t.replace(/_/g, '-');
    return r.stdout.split('\n').some((line) => norm(line.trim()).startsWith(`--${norm(name)} `));
  } catch {
    return false;
  }
}

/**
 * Whether this runtime can run a build, decided by validating its bytes. Relaxed SIMD ships unflagged from
 * V8 11.4 (Node 22 on); on an older V8 that still has --experimental-wasm-relaxed-simd (Node 20) the flag is
 * set, once, before any relaxed module is compiled, and the bytes are validated again. The flag is never
 * set on a runtime that validates the build without it or does not know it.
 */
export function wasmBuildSupported(build: WasmBuild): boolean {
  const bytes = loadBytes(build);
  if (WebAssembly.validate(bytes)) return true;
  if (build !== 'relaxed' || relaxedFlagTried) return false;
  relaxedFlagTried = true;
  if (!v8KnowsFlag(RELAXED_SIMD_FLAG)) return false;
  setFlagsFromString(RELAXED_SIMD_FLAG);
  return WebAssembly.validate(bytes);
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
