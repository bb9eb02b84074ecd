/**
 * Training on the WebGPU backend against the WebAssembly engine (test/util/webgpu-train-check.ts: the same tiny
 * model and seed, three AdamW steps on a batch mixing every availability pattern, through the model's async
 * API), (a) in headless Chromium with WebGPU on SwiftShader, where the page holds both backends (the wasm
 * one is the edge bundle's WasmCoreBackend on the engine's .wasm fetched from this test's server), and
 * (b) in Node through the optional `webgpu` package, in a child process, as test/engine/op-table-webgpu.test.ts runs its
 * kernel suite (Chromium's SwiftShader Vulkan driver when the host has no GPU driver). Where neither has an
 * adapter the test says why and is counted as skipped, never silently passed.
 */
import { test } from 'uvu';
import type { Model } from '../../src/model/model.ts';
import type { WebGPUBackend as WebGPUBackendType } from '../../src/engine/webgpu/backend.ts';
import { builtinModules } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainCheck } from '../util/webgpu-train-check.ts';
import { jsonChild, onNodeGpu, onWebGpuPage } from '../util/browser.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Output { adapter?: string; wasm?: string; result?: TrainCheck; skip?: string; error?: string }

function report(where: string, out: Output): void {
  if (out.error) throw new Error(`${where}: ${out.error}`);
  const r = out.result;
  if (!r) throw new Error(`${where}: no result`);
  console.log(`  [webgpu-train] ${where}: ${out.adapter}${out.wasm ? ` vs ${out.wasm}` : ''}`);
  console.log(`  [webgpu-train] losses gpu ${r.gpuLosses.map((x) => x.toFixed(7)).join(' ')} | wasm ${r.cpuLosses.map((x) => x.toFixed(7)).join(' ')} (max rel ${r.lossRel.toExponential(2)})`);
  console.log(`  [webgpu-train] after ${r.steps} AdamW steps: params ${r.numParams - r.paramOver}/${r.numParams} within 1e-4 rel (worst ${r.paramRel.toExponential(2)} = ${r.paramLr.toExponential(2)} x lr), last grads ${r.gradRel.toExponential(2)} of max |g|, logits ${r.logitAbs.toExponential(2)}`);
  if (!r.ok) throw new Error(`${where}: ${r.errors.join('; ')}`);
}

// ---- (a) headless Chromium -----------------------------------------------------------------------------

/** The page: the WebGPU backend, the wasm core backend and the check, with Node modules stubbed out. */
async function bundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const entry = `
    import { createWebGPUBackend, WebGPUUnavailableError } from './src/engine/webgpu/index.ts';
    import { WasmCoreBackend } from './src/engine/wasm-core.ts';
    import { trainCheck } from './test/util/webgpu-train-check.ts';
    globalThis.rfTrain = async () => {
      let gpu;
      try { gpu = await createWebGPUBackend(); }
      catch (e) { return e instanceof WebGPUUnavailableError ? { skip: e.message } : { error: String(e && e.stack || e) }; }
      try {
        let build = 'relaxed', bytes = new Uint8Array(await (await fetch('/engine.relaxed.wasm')).arrayBuffer());
        if (!WebAssembly.validate(bytes)) { build = 'simd'; bytes = new Uint8Array(await (await fetch('/engine.simd.wasm')).arrayBuffer()); }
        const cpu = new WasmCoreBackend(await WebAssembly.compile(bytes), build);
        const result = await trainCheck(gpu, cpu);
        return { adapter: gpu.adapterInfo, wasm: cpu.name, result };
      } catch (e) { return { error: String(e && e.stack || e) }; }
      finally { gpu.destroy(); }
    };`;
  const wasmLoader = join(ROOT, 'src/engine/wasm.ts');
  const r = await esbuild.build({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts', sourcefile: 'webgpu-train-entry.ts' },
    bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent',
    plugins: [{
      name: 'node-stubs',
      setup(b) {
        // As scripts/build-edge.mjs: the Node loader of the .wasm becomes the edge stub, Node modules throwing stubs
        // (the page never calls them: file paths only, and the Node-only branch of the check).
        b.onResolve({ filter: /wasm\.ts$/ }, (a) => (join(a.resolveDir, a.path) === wasmLoader ? { path: join(ROOT, 'src/edge/engine-stub.ts') } : undefined));
        b.onResolve({ filter: /.*/ }, (a) => {
          const isNode = a.path.startsWith('node:') || builtinModules.includes(a.path.split('/')[0]);
          return isNode ? { path: a.path.replace(/^node:/, ''), namespace: 'node-stub' } : undefined;
        });
        b.onLoad({ filter: /.*/, namespace: 'node-stub' }, async (a) => {
          const real = await import(`node:${a.path}`);
          const names = Object.keys(real).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
          return {
            contents: [
              `const no = (n) => function () { throw new Error('node:${a.path} ' + n + ' is not available in the browser'); };`,
              ...names.map((k) => `export const ${k} = no(${JSON.stringify(k)});`),
              'export default {};',
            ].join('\n'),
            loader: 'js',
          };
        });
      },
    }],
  });
  return r.outputFiles[0].text;
}

async function inChromium(): Promise<Output> {
  for (const w of ['engine.relaxed.wasm', 'engine.simd.wasm']) {
    if (!existsSync(join(ROOT, 'build', w))) return { error: `build/${w} is missing: run \`npm run build:wasm\`` };
  }
  const js = await bundle();
  return onWebGpuPage({
    js, title: 'webgpu training', ready: 'rfTrain', timeout: 180_000,
    files: (path) => {
      const w = /^\/(engine\.(relaxed|simd)\.wasm)$/.exec(path);
      return w ? { type: 'application/wasm', body: readFileSync(join(ROOT, 'build', w[1])) } : undefined;
    },
    call: async (page) => (await page.evaluate(() => (globalThis as unknown as { rfTrain(): Promise<Output> }).rfTrain())) as Output,
  });
}

// ---- (b) Node + the webgpu package ----------------------------------------------------------------------

function inNode(env: Record<string, string>): Output {
  return jsonChild<Output>(ROOT, ['test/util/webgpu-train-check.ts'], env, 180_000);
}

const chromiumOut = await inChromium().catch((e: Error): Output => ({ error: e.stack ?? e.message }));
if (chromiumOut.skip) {
  console.log(`  [webgpu-train] SKIPPED Chromium: ${chromiumOut.skip}`);
  test.skip('3 AdamW steps on WebGPU match the wasm engine in headless Chromium (SwiftShader)', () => {});
} else {
  test('3 AdamW steps on WebGPU match the wasm engine in headless Chromium (SwiftShader)', () => report('Chromium', chromiumOut));
}

const node = process.env.RF_WEBGPU_NODE === '0' ? { where: 'Node', out: { skip: 'RF_WEBGPU_NODE=0' } as Output } : onNodeGpu(inNode);
if (node.out.skip) {
  console.log(`  [webgpu-train] SKIPPED ${node.where}: ${node.out.skip}`);
  test.skip('3 AdamW steps on WebGPU match the wasm engine in Node (webgpu package)', () => {});
} else {
  test('3 AdamW steps on WebGPU match the wasm engine in Node (webgpu package)', () => report(node.where, node.out));
}

test('the synchronous model API needs a SyncBackend: a type error on WebGPU; untyped code gets a message naming the async forms', async () => {
  const { WebGPUBackend } = await import('../../src/engine/webgpu/backend.ts');
  // Compile-time half (npm run typecheck fails if these calls ever typecheck on a WebGPU model).
  const typed = (m: Model<WebGPUBackendType>) => {
    // @ts-expect-error forward reads results synchronously
    m.forward({} as never);
    // @ts-expect-error parameters are live views of memory the host cannot see
    m.parameters();
    // @ts-expect-error lossAndGrad reads the loss synchronously
    m.lossAndGrad({} as never);
    return [m.forwardAsync, m.lossAndGradAsync, m.toSafetensorsAsync]; // the async forms do typecheck
  };
  void typed;
  // Run-time half: JavaScript that reaches a synchronous read on WebGPU (model.forward calls view).
  const proto = WebGPUBackend.prototype;
  for (const f of [proto.view, proto.readSync, proto.readScalarSync]) {
    let msg = '';
    try { f.call(proto); } catch (e) { msg = (e as Error).message; }
    for (const alt of ['forwardAsync', 'predictAsync', 'read(']) {
      if (!msg.includes(alt)) throw new Error(`expected a message naming ${alt}, got '${msg}'`);
    }
  }
});

test.run();
