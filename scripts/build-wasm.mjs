// Builds both WebAssembly engines from one AssemblyScript source (assembly/index.ts):
// build/engine.simd.wasm (128-bit SIMD, mul+add) and build/engine.relaxed.wasm (relaxed SIMD, fused multiply-add).
// The kernels pick their instructions with the compile-time constant ASC_FEATURE_RELAXED_SIMD.
// Run by `npm ci` through the `prepare` script, so no build output is ever committed.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let asc;
try {
  asc = join(dirname(require.resolve('assemblyscript/package.json')), 'bin', 'asc.js');
} catch {
  console.error('build-wasm: assemblyscript is not installed; run `npm ci` (it is a devDependency).');
  process.exit(1);
}
// `--out DIR` builds into another folder (the loader reads RF_WASM_DIR), so parallel work on kernels can keep
// private builds.
const outArg = process.argv.indexOf('--out');
const outDir = outArg > 0 ? process.argv[outArg + 1] : join(root, 'build');
mkdirSync(outDir, { recursive: true });
for (const target of ['simd', 'relaxed']) {
  const outFile = join(outDir, `engine.${target}.wasm`);
  try {
    execFileSync(process.execPath, [asc, '--config', 'asconfig.json', '--target', target, '--outFile', outFile], { cwd: root, stdio: 'inherit' });
  } catch {
    console.error(`build-wasm: the ${target} build failed (see the compiler output above).`);
    process.exit(1);
  }
  console.log(`build-wasm: ${outFile}`);
}
