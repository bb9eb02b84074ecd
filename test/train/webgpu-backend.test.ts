/**
 * The trainer on the WebGPU backend (`--backend webgpu`): a few optimizer steps through the real trainer
 * (worker task path, chunked gradients, norm, clip, AdamW on the device) give the WebAssembly engine's losses.
 * Runs in a child process on the host's GPU driver, else on Chromium's SwiftShader Vulkan driver; skipped
 * with the reason printed when neither gives an adapter.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSynthetic } from '../../src/data/index.ts';
import { SWIFTSHADER_ICD } from '../util/browser.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rf-train-gpu-'));
const data = join(dir, 'data');
await generateSynthetic({ out: data, patients: 150, seed: 3 });

function trainRun(name: string, backend: string, env: Record<string, string> = {}) {
  const args = ['--import', 'tsx', 'src/cli/train.ts', '--preset', 'tiny', '--threads', '1', '--max-steps', '3', '--data', data,
    '--out', join(dir, 'runs'), '--name', name, '--progress', 'none', '--backend', backend];
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}
const losses = (name: string) => readFileSync(join(dir, 'runs', name, 'log.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l)).filter((e) => e.loss !== undefined).map((e) => e.loss as number);

let gpu = trainRun('gpu', 'webgpu');
let where = "the host's driver";
if (gpu.status !== 0 && /not available/.test(gpu.out) && existsSync(SWIFTSHADER_ICD)) {
  gpu = trainRun('gpu-sw', 'webgpu', { VK_ICD_FILENAMES: SWIFTSHADER_ICD, LD_LIBRARY_PATH: `/usr/lib/chromium:${process.env.LD_LIBRARY_PATH ?? ''}` });
  where = "Chromium's SwiftShader Vulkan driver";
}
const gpuName = where.startsWith('Chromium') ? 'gpu-sw' : 'gpu';

if (gpu.status !== 0 && /not available/.test(gpu.out)) {
  console.log(`  [train-webgpu] SKIPPED: no WebGPU adapter (${gpu.out.trim().split('\n').pop()})`);
  test.skip('three trainer steps on WebGPU give the wasm engine\'s losses', () => {});
} else {
  test('three trainer steps on WebGPU give the wasm engine\'s losses', () => {
    assert.ok(gpu.status === 0 && /stopped at the step limit \(--max-steps 3\) at step 3/.test(gpu.out), `the WebGPU run did not reach step 3:\n${gpu.out}`);
    const cpu = trainRun('cpu', 'auto');
    assert.ok(cpu.status === 0 && /stopped at the step limit \(--max-steps 3\) at step 3/.test(cpu.out), cpu.out);
    const a = losses(gpuName), b = losses('cpu');
    assert.is(a.length, 3);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 * Math.abs(b[i]), `step ${i + 1}: webgpu ${a[i]} vs wasm ${b[i]}`);
    console.log(`  [train-webgpu] ${where}: losses ${a.map((x) => x.toFixed(6)).join(' ')} vs wasm ${b.map((x) => x.toFixed(6)).join(' ')}`);
    assert.ok(existsSync(join(dir, 'runs', gpuName, 'last.state.safetensors')), 'the WebGPU run stopped at the step limit saved its resume state');
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
