/**
 * What the browser and GPU tests share: Debian's Chromium (RF_CHROMIUM overrides the path), the flags that
 * give headless Chromium a WebGPU adapter (SwiftShader), playwright-core loaded or a skip reason, and the
 * Node-side rule for finding an adapter: the host's own driver first, then Chromium's SwiftShader Vulkan
 * driver (RF_WEBGPU_NODE_SWIFTSHADER=0 turns that retry off).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.RF_CHROMIUM || '/usr/bin/chromium';
export const WEBGPU_CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader', '--headless=new',
];
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** playwright-core's chromium launcher, or why the browser tests must skip. */
export async function loadChromium(): Promise<{ chromium: typeof import('playwright-core').chromium } | { skip: string }> {
  if (!existsSync(CHROMIUM)) return { skip: `no Chromium at ${CHROMIUM} (apt-get install chromium, or set RF_CHROMIUM)` };
  try {
    const { chromium } = await import('playwright-core');
    return { chromium };
  } catch {
    return { skip: 'playwright-core is not installed (npm install -D playwright-core)' };
  }
}

/**
 * Run a Node child (given extra environment) on the host's WebGPU driver, else on Chromium's SwiftShader
 * Vulkan driver; `run` reports `skip` when it found no adapter.
 */
export function onNodeGpu<T extends { skip?: string }>(run: (env: Record<string, string>) => T): { where: string; out: T } {
  const plain = run({});
  if (!plain.skip) return { where: 'Node + webgpu package', out: plain };
  if (process.env.RF_WEBGPU_NODE_SWIFTSHADER !== '0' && existsSync(SWIFTSHADER_ICD)) {
    const sw = run({ VK_ICD_FILENAMES: SWIFTSHADER_ICD, LD_LIBRARY_PATH: `/usr/lib/chromium:${process.env.LD_LIBRARY_PATH ?? ''}` });
    return { where: "Node + webgpu package on Chromium's SwiftShader Vulkan driver", out: sw };
  }
  return { where: 'Node + webgpu package', out: plain };
}

/** What a page or child run reports: its own fields, or why it skipped or failed. */
export interface RunOutcome { skip?: string; error?: string }

/**
 * Serve `js` as /bundle.js (plus any `files` by path) from 127.0.0.1, open it in headless Chromium with the
 * WebGPU flags, wait for the bundle's global `ready`, check that the page has a WebGPU adapter (else a skip
 * naming the flags), then `call(page)` and return its result. Page errors come back as `error`.
 */
export async function onWebGpuPage<T extends RunOutcome>(opts: {
  js: string; title: string; ready: string; timeout: number;
  files?: (path: string) => { type: string; body: Uint8Array } | undefined;
  call: (page: import('playwright-core').Page) => Promise<T>;
}): Promise<T> {
  const pw = await loadChromium();
  if ('skip' in pw) return { skip: pw.skip } as T;
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    if (req.url === '/bundle.js') { res.setHeader('content-type', 'text/javascript'); res.end(opts.js); return; }
    const f = opts.files?.(req.url ?? '');
    if (f) { res.setHeader('content-type', f.type); res.end(f.body); return; }
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><meta charset="utf-8"><title>${opts.title}</title><script type="module" src="/bundle.js"></script>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const browser = await pw.chromium.launch({ executablePath: CHROMIUM, args: WEBGPU_CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/`);
    await page.waitForFunction((name) => name in globalThis || document.readyState === 'complete', opts.ready);
    if (errors.length) return { error: `page error: ${errors.join('; ')}` } as T;
    const hasGpu = await page.evaluate(async () => {
      const gpu = (navigator as { gpu?: GPU }).gpu;
      return !!gpu && !!(await gpu.requestAdapter());
    });
    if (!hasGpu) return { skip: `Chromium (${CHROMIUM}) offers no WebGPU adapter with flags ${WEBGPU_CHROMIUM_ARGS.join(' ')}` } as T;
    page.setDefaultTimeout(opts.timeout);
    return await opts.call(page);
  } finally {
    await browser.close();
    server.close();
  }
}

/**
 * Run `node --import tsx <args>` from the repository root and parse its last stdout line that is a JSON
 * object (a driver may print after it).
 */
export function jsonChild<T extends RunOutcome>(cwd: string, args: string[], env: Record<string, string>, timeout: number): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  const lines = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{'));
  try {
    return JSON.parse(lines.pop() ?? '') as T;
  } catch {
    return { error: `child exited ${r.status ?? r.signal} without a result${r.error ? ` (${r.error.message})` : ''}; stdout ends: ${(r.stdout ?? '').slice(-300)}; stderr: ${(r.stderr ?? '').slice(-600)}` } as T;
  }
}
