#!/usr/bin/env node
/**
 * `resilient-fusion COMMAND [options]`: the package's command. Each subcommand is one file of the checkout
 * (the same one `npm run COMMAND` runs), started in a child Node process with tsx's loader, so the worker
 * threads the commands start (training replicas, image decoders) inherit the loader too. The child gets
 * the terminal; Ctrl-C reaches it directly (this process waits for it) and its exit status is ours.
 *
 * Adding a command is one line in COMMANDS.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Subcommand -> [file under the package root, one line of help]. */
const COMMANDS = {
  train: ['src/cli/train.ts', 'train a model on a data set folder (default: the built-in synthetic set)'],
  stress: ['src/cli/stress.ts', 'run the stress-test protocols (missing-image and missing-table grids) and report'],
  worker: ['src/cli/worker.ts', 'serve protocol jobs from a Redis queue (BullMQ)'],
  predict: ['src/cli/predict.ts', 'predict from a checkpoint: a data set split, or one image and/or table'],
  data: ['src/cli/data.ts', 'inspect a data set folder (MIMIC-CXR-JPG + MIMIC-IV layout)'],
  synth: ['src/cli/synth.ts', 'write the synthetic data set'],
  demo: ['src/cli/demo.ts', 'serve the in-browser prediction demo'],
  evaluate: ['src/cli/evaluate.ts', 'score a checkpoint on a data set split: calibration, subgroups, availability, model card'],
  export: ['src/cli/export.ts', 'export a checkpoint to ONNX (checked in onnxruntime)'],
  bench: ['bench/index.ts', 'benchmarks: peak, gemm, attention, kernels, model, data, data-scale, train, webgpu, infer, explain'],
};

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function usage() {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, [, about]]) => `  ${name.padEnd(width)}  ${about}`);
  return `usage: resilient-fusion COMMAND [options]   (COMMAND --help lists its options)\ncommands:\n${lines.join('\n')}`;
}

const [name, ...args] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  console.log(usage());
  process.exit(name === undefined ? 1 : 0);
}
if (name === '--version' || name === '-v') {
  const { createRequire } = await import('node:module');
  console.log(createRequire(import.meta.url)('../package.json').version);
  process.exit(0);
}
if (!Object.hasOwn(COMMANDS, name)) {
  console.error(`resilient-fusion: unknown command '${name}'; commands: ${Object.keys(COMMANDS).join(', ')}`);
  process.exit(1);
}
const file = `${ROOT}${COMMANDS[name][0]}`;
if (!existsSync(file)) {
  console.error(`resilient-fusion: ${file} is missing from this installation`);
  process.exit(1);
}
// tsx's loader, resolved from this package (it is a dependency), so the user's folder needs no tsx.
const loader = import.meta.resolve('tsx');
const child = spawn(process.execPath, ['--import', loader, file, ...args], { stdio: 'inherit' });
// The terminal sends Ctrl-C to the whole group: the child saves and exits on its own; we wait for it.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { if (sig !== 'SIGINT') child.kill(sig); });
child.on('error', (e) => {
  console.error(`resilient-fusion: cannot start ${process.execPath}: ${e.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
