/**
 * Run the WebGPU kernel suite in this Node process (`webgpu` package) and print one JSON line:
 * {adapter, results} or {skip: reason}. The Node test spawns it, so Dawn's environment (Vulkan ICD
 * variables) can differ from the test runner's. Usage: tsx src/engine/webgpu/selftest-node.ts [filter]
 */
import { printGpuRun, runKernelSuite } from './selftest.ts';

const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
await printGpuRun(async (be) => ({ results: await runKernelSuite(be, filter) }));
// Exit once stdout has taken the result line (it is long: one entry per case).
process.stdout.write('', () => process.exit(0));
