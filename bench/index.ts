/**
 * `npm run bench -- NAME [NAME ...] [--json] [--build relaxed|simd|both] [--quick]`
 * Runs the named benchmarks one after another (never two at once: they share the cores).
 * Names: peak, gemm, attention, kernels, model, data, data-scale, train.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatRow, parseBenchArgs } from './util.ts';
import type { BenchMain, BenchRow } from './util.ts';

const NAMES = ['peak', 'gemm', 'attention', 'kernels', 'model', 'data', 'data-scale', 'train', 'webgpu'];
const args = parseBenchArgs(process.argv.slice(2));
// Benchmark names, then per-benchmark flags (`--threads 2`): a word right after a flag is that flag's value.
const names: string[] = [];
for (let i = 0; i < args.rest.length; i++) {
  const a = args.rest[i];
  if (a.startsWith('-')) {
    if (i + 1 < args.rest.length && !args.rest[i + 1].startsWith('-') && !NAMES.includes(args.rest[i + 1])) i++;
  } else names.push(a);
}
if (names.length === 0 || names.includes('--help')) {
  console.log(`usage: npm run bench -- NAME [NAME ...] [--json] [--build relaxed|simd|both] [--quick]\nnames: ${NAMES.join(', ')}`);
  process.exit(names.length === 0 ? 1 : 0);
}
const rows: BenchRow[] = [];
for (const name of names) {
  if (!NAMES.includes(name)) throw new Error(`unknown benchmark '${name}' (known: ${NAMES.join(', ')})`);
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  if (!existsSync(file)) throw new Error(`benchmark '${name}' is not written yet (${file})`);
  const mod = (await import(`./${name}.ts`)) as { main: BenchMain };
  await mod.main(args, (r) => {
    rows.push(r);
    if (!args.json) console.log(formatRow(r));
  });
}
if (args.json) console.log(JSON.stringify(rows, null, 2));
