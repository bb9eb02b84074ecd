/**
 * Run the WebGPU kernel suite in this Node process (`webgpu` package) and print one JSON line:
 * {adapter, results} or {skip: reason}. The Node test spawns it, so Dawn's environment (Vulkan ICD
 * variables) can differ from the test runner's. Usage: tsx src/engine/webgpu/selftest-node.ts [filter]
 */
import { createWebGPUBackend, WebGPUUnavailableError } from './index.ts';
import { runKernelSuite } from './selftest.ts';

const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
try {
  const be = await createWebGPUBackend();
  const results = await runKernelSuite(be, filter);
  console.log(JSON.stringify({ adapter: be.adapterInfo, results }));
  be.destroy();
  be.device.destroy();
} catch (e) {
  if (e instanceof WebGPUUnavailableError) console.log(JSON.stringify({ skip: e.message }));
  else console.log(JSON.stringify({ error: (e as Error).stack ?? String(e) }));
}
process.exit(0);
