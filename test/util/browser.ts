/**
 * What the browser and GPU tests share: Debian's Chromium (RF_CHROMIUM overrides the path), the flags that
 * give headless Chromium a WebGPU adapter (SwiftShader), playwright-core loaded or a skip reason, and the
 * Node-side rule for finding an adapter: the host's own driver first, then Chromium's SwiftShader Vulkan
 * driver (RF_WEBGPU_NODE_SWIFTSHADER=0 turns that retry off).
 */
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
