/**
 * `npm run bench -- NAME [NAME ...] [--json] [--build relaxed|simd|both] [--quick] [train: --threads N --steps N --preset P --batch B --micro-batch M --torch]`
 * Runs the named benchmarks one after another (never two at once: they share the cores).
 * Names: peak, gemm, attention, kernels, model, data, data-scale, train, webgpu, infer, explain. An unknown name or flag is one line
 * naming it and the list (exit 1), before anything runs.
 */
import { UsageError } from '../src/options/schema.ts';
import { helpText } from '../src/options/command-line.ts';
import { runMain } from '../src/cli/main.ts';
import { BENCH_SPEC, formatRow, parseBenchArgs } from './util.ts';
import type { BenchMain, BenchRow } from './util.ts';

runMain('bench', async () => {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.help) {
    console.log(helpText(BENCH_SPEC));
    return 0;
  }
  if (args.names.length === 0) throw new UsageError(`name a benchmark: ${BENCH_SPEC.positional.choices.join(', ')} (see --help)`);
  const rows: BenchRow[] = [];
  for (const name of args.names) {
    const mod = (await import(`./${name}.ts`)) as { main: BenchMain };
    await mod.main(args, (r) => {
      rows.push(r);
      if (!args.json) console.log(formatRow(r));
    });
  }
  if (args.json) console.log(JSON.stringify(rows, null, 2));
  return 0;
});
