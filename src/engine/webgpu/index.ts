/// <reference types="@webgpu/types" />
/**
 * The optional WebGPU backend: finding an adapter (a browser's `navigator.gpu`, or in Node the optional
 * `webgpu` npm package, Dawn) and creating the backend on it. Nothing here throws at import time, so code
 * that merely imports the engine never falls over on a host without a GPU.
 */
import { WebGPUBackend } from './backend.ts';
import type { WebGPUBackendOptions } from './backend.ts';

export { WebGPUBackend } from './backend.ts';
export type { WebGPUBackendOptions } from './backend.ts';
export { KERNELS } from './kernels/index.ts';

/** What to do when there is no adapter: the line every "no adapter" message ends with. */
export const WEBGPU_FIX =
  'To fix: in Node, install the optional package (`npm install webgpu`) on a host with a GPU driver (Vulkan on Linux, ' +
  'Metal on macOS, D3D12 on Windows); in Chromium, enable WebGPU (on Linux: --enable-unsafe-webgpu --enable-features=Vulkan); ' +
  'or use the default WebAssembly engine (--backend wasm).';

/** Thrown when no WebGPU adapter or device can be had; `reason` says why, the message adds the fix. */
export class WebGPUUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`WebGPU is not available: ${reason}. ${WEBGPU_FIX}`);
    this.name = 'WebGPUUnavailableError';
  }
}

export interface WebGPUOptions extends WebGPUBackendOptions {
  /** Dawn flags for the Node `webgpu` package, e.g. ['backend=vulkan', 'adapter=NVIDIA']. Default: $RF_DAWN_FLAGS split on commas. */
  dawnFlags?: string[];
  powerPreference?: GPUPowerPreference;
}

export type GpuSource = { gpu: GPU; source: 'navigator.gpu' | 'webgpu package' } | { gpu: null; reason: string };

/** Every Dawn GPU instance created here, kept reachable for the life of the process (see findGpu). */
const LIVE_GPUS = new Set<GPU>();

/** The GPU entry point of this runtime, or why there is none. Never throws. */
export async function findGpu(opts: WebGPUOptions = {}): Promise<GpuSource> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, source: 'navigator.gpu' };
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) return { gpu: null, reason: 'this browser has no navigator.gpu' };
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    const name = 'webgpu'; // not a literal: bundlers for the browser must not try to include Dawn
    mod = await import(/* @vite-ignore */ name);
  } catch (e) {
    return { gpu: null, reason: `the optional Node package 'webgpu' is not installed or did not load (${(e as Error).message.split('\n')[0]})` };
  }
  try {
    // Dawn's objects check `instanceof GPU*` against these globals in some paths; installing them is harmless.
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    const env = typeof process !== 'undefined' ? process.env.RF_DAWN_FLAGS : undefined;
    const flags = opts.dawnFlags ?? (env ? env.split(',').filter(Boolean) : []);
    const gpu = mod.create(flags);
    // Dawn's instance must outlive every device made from it: if the GPU object is garbage-collected while a
    // device is in use, Dawn frees its instance under the device and the process dies in pthread asserts.
    LIVE_GPUS.add(gpu);
    return { gpu, source: 'webgpu package' };
  } catch (e) {
    return { gpu: null, reason: `the 'webgpu' package failed to start Dawn (${(e as Error).message})` };
  }
}

/** One line about an adapter: vendor, architecture, device, description, and whether it is a fallback. */
export function describeAdapter(a: GPUAdapter): string {
  const info = (a as { info?: GPUAdapterInfo }).info;
  if (!info) return 'adapter (no info)';
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0);
  const fallback = (a as { isFallbackAdapter?: boolean }).isFallbackAdapter || (info as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return (parts.join(' / ') || 'unnamed adapter') + (fallback ? ' (fallback adapter)' : '');
}

/** An adapter and device, or a WebGPUUnavailableError naming the reason and the fix. */
export async function requestDevice(opts: WebGPUOptions = {}): Promise<{ adapter: GPUAdapter; device: GPUDevice; info: string; source: string }> {
  const found = await findGpu(opts);
  if (!found.gpu) throw new WebGPUUnavailableError(found.reason);
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await found.gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new WebGPUUnavailableError(`requestAdapter() failed via ${found.source}: ${(e as Error).message}`);
  }
  if (!adapter) throw new WebGPUUnavailableError(`${found.source} found no adapter (no GPU driver it can use)`);
  const lim = adapter.limits;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
        maxBufferSize: lim.maxBufferSize,
      },
    });
  } catch (e) {
    throw new WebGPUUnavailableError(`requestDevice() failed on ${describeAdapter(adapter)}: ${(e as Error).message}`);
  }
  return { adapter, device, info: describeAdapter(adapter), source: found.source };
}

/** Find an adapter, open a device and compile every kernel. Rejects with WebGPUUnavailableError when there is no GPU. */
export async function createWebGPUBackend(opts: WebGPUOptions = {}): Promise<WebGPUBackend> {
  const { device, info, source } = await requestDevice(opts);
  return WebGPUBackend.create(device, { ...opts, adapterInfo: `${info} [${source}]` });
}
