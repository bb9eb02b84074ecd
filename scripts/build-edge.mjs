// Builds the edge bundle: dist/edge/resilient-fusion.mjs (one ES module, no Node.js API, no runtime
// dependency) from src/edge/index.ts, plus engine.relaxed.wasm and engine.simd.wasm beside it. The optional
// WebGPU backend is in it too (navigator.gpu; createPredictor(bytes, { backend: 'webgpu' })).
//
// The model's file I/O lives in src/node/ and the data set's in Node-only modules (feature-spec-file.ts), which
// the bundle never reaches; src/engine/wasm.ts loads the .wasm from the build folder, so the plugin below swaps it for
// src/edge/engine-stub.ts and resolves node:fs, for the listed importers only, to a stub whose functions
// throw; any other Node.js or package import is a build error, and the output is checked for leftovers.
//
//   node scripts/build-edge.mjs [--outdir DIR] [--no-minify]
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = 'resilient-fusion.mjs';
const WASM = ['engine.relaxed.wasm', 'engine.simd.wasm'];

/** Node.js modules the shared code imports, and the only files allowed to import them. */
const NODE_STUBS = {
  'node:fs': [],
};
/** Package files bundled in (pure JavaScript, no Node.js API on the paths the bundle uses). */
const PACKAGES = ['jpeg-js/lib/decoder.js'];
/** src/data/jpeg.ts uses jpeg-js only to decode: the shim leaves its encoder (and Buffer) out. */
const JPEG_SHIM = "import decode from 'jpeg-js/lib/decoder.js'; export default { decode };";
/**
 * src/engine/webgpu/index.ts loads the optional Node package 'webgpu' (Dawn) by a name held in a variable,
 * so bundlers leave it alone; minifying folds that constant into import("webgpu"), which a downstream
 * bundler would then try to resolve. The bundle gets a name esbuild cannot fold (the browser never reaches
 * that branch: it takes navigator.gpu; a Node-like edge runtime still finds the package).
 */
const WEBGPU_LOADER = 'src/engine/webgpu/index.ts';
const WEBGPU_NAME = "const name = 'webgpu';";
const WEBGPU_NAME_UNFOLDED = "const name = ['web', 'gpu'].join('');";

const edgePlugin = {
  name: 'resilient-fusion-edge',
  setup(b) {
    const wasmLoader = join(root, 'src/engine/wasm.ts');
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.kind === 'entry-point') return undefined;
      const from = args.importer ? relative(root, args.importer) : '(entry)';
      const spec = args.path;
      const isNode = spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]);
      if (isNode) {
        const name = spec.startsWith('node:') ? spec : `node:${spec}`;
        if (NODE_STUBS[name]?.includes(from)) return { path: name, namespace: 'node-stub' };
        return { errors: [{ text: `${from} imports ${spec}: the edge bundle must not reach Node.js (add a stub in scripts/build-edge.mjs only if the bundle never calls it)` }] };
      }
      if (spec.startsWith('.') || spec.startsWith('/')) {
        const target = resolve(args.resolveDir, spec);
        if (target === wasmLoader) return { path: join(root, 'src/edge/engine-stub.ts') };
        return undefined;
      }
      if (spec === 'jpeg-js') return { path: 'jpeg-js', namespace: 'jpeg-shim' };
      if (PACKAGES.includes(spec)) return undefined;
      return { errors: [{ text: `${from} imports the package '${spec}', which the edge bundle does not allow (see PACKAGES in scripts/build-edge.mjs)` }] };
    });
    b.onLoad({ filter: /webgpu[\\/]index\.ts$/ }, (args) => {
      if (relative(root, args.path).split('\\').join('/') !== WEBGPU_LOADER) return undefined;
      const src = readFileSync(args.path, 'utf8');
      if (!src.includes(WEBGPU_NAME)) return { errors: [{ text: `${WEBGPU_LOADER} no longer holds \`${WEBGPU_NAME}\`: update WEBGPU_NAME in scripts/build-edge.mjs` }] };
      return { contents: src.replace(WEBGPU_NAME, WEBGPU_NAME_UNFOLDED), loader: 'ts' };
    });
    b.onLoad({ filter: /.*/, namespace: 'jpeg-shim' }, () => ({ contents: JPEG_SHIM, loader: 'js', resolveDir: root }));
    // A stub exporting every name of the real module as a function that throws when called.
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, async (args) => {
      const real = await import(args.path);
      const names = Object.keys(real).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
      const lines = [
        `const unavailable = (name) => function () { throw new Error('resilient-fusion edge bundle: ${args.path} ' + name + ' is not available here (pass bytes, not file paths)'); };`,
        ...names.map((k) => `export const ${k} = /* @__PURE__ */ unavailable(${JSON.stringify(k)});`),
        'export default {};',
      ];
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

/**
 * Build the bundle into outdir (default dist/edge). Returns the files with their sizes (bytes, gzipped).
 * @param {{ outdir?: string, minify?: boolean, quiet?: boolean }} [opts]
 */
export async function buildEdge(opts = {}) {
  const outdir = resolve(opts.outdir ?? join(root, 'dist/edge'));
  const minify = opts.minify ?? true;
  for (const w of WASM) {
    if (!existsSync(join(root, 'build', w))) throw new Error(`build/${w} is missing: run \`npm run build:wasm\` (npm ci runs it)`);
  }
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, BUNDLE);
  await build({
    entryPoints: [join(root, 'src/edge/index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify,
    legalComments: 'eof',
    logLevel: 'silent',
    plugins: [edgePlugin],
  });
  for (const w of WASM) copyFileSync(join(root, 'build', w), join(outdir, w));
  // The output must hold no Node.js import and no require().
  const text = readFileSync(outfile, 'utf8');
  const leak = /\bfrom\s*["']node:|\bimport\s*\(\s*["']node:|\brequire\(\s*["'](node:|fs|path|os|v8|url)\b/.exec(text);
  if (leak) throw new Error(`${outfile}: the bundle still references Node.js (${leak[0]})`);
  const pkg = /\bimport\s*\(\s*["'][^"'./][^"']*["']\s*\)/.exec(text);
  if (pkg) throw new Error(`${outfile}: the bundle imports a package by name (${pkg[0]}), which a browser cannot resolve`);
  const files = [BUNDLE, ...WASM].map((f) => {
    const bytes = readFileSync(join(outdir, f));
    return { file: join(outdir, f), bytes: statSync(join(outdir, f)).size, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  if (!opts.quiet) {
    for (const f of files) console.log(`build-edge: ${relative(process.cwd(), f.file) || f.file}  ${f.bytes} bytes (${f.gzip} gzipped)`);
  }
  return { outdir, files };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const o = args.indexOf('--outdir');
  if (o >= 0 && !args[o + 1]) {
    console.error('build-edge: --outdir needs a folder');
    process.exit(1);
  }
  buildEdge({ outdir: o >= 0 ? args[o + 1] : undefined, minify: !args.includes('--no-minify') }).catch((e) => {
    console.error(`build-edge: ${e.errors?.length ? e.errors.map((x) => x.text).join('\n') : e.message}`);
    process.exit(1);
  });
}
