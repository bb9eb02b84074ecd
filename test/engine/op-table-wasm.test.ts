/**
 * The op table (src/engine/op-table.ts) on both WebAssembly builds against the float64 reference backend,
 * each case twice for the same bits, and every backward kernel of the reference against central finite
 * differences of its forward in float64. WebGPU runs the same table in test/engine/op-table-webgpu.test.ts. The properties
 * that are not a comparison with the reference (bit-identity between call patterns, error sweeps, limits)
 * are in test/engine/kernel-bits.test.ts.
 */
import { test } from 'uvu';
import { checkBackend, checkGradients } from '../../src/engine/op-check.ts';
import type { CaseResult } from '../../src/engine/op-check.ts';
import { OPS } from '../../src/engine/op-table.ts';
import { wasmBackends } from '../util/harness.ts';

const filter = process.env.RF_OPS_FILTER ? new RegExp(process.env.RF_OPS_FILTER) : undefined;

/** Throw naming every failed case; print a summary line (and every case with RF_VERBOSE). */
function report(where: string, results: CaseResult[]): void {
  for (const r of results) {
    if (!r.ok || process.env.RF_VERBOSE) console.log(r.ok ? `    OK        ${r.name}  maxdiff = ${r.maxdiff.toExponential(2)}` : `    MISMATCH  ${r.name}: ${r.error}`);
  }
  const bad = results.filter((r) => !r.ok), worst = Math.max(0, ...results.filter((r) => r.ok).map((r) => r.maxdiff));
  console.log(`  [ops] ${where}: ${results.length - bad.length}/${results.length} cases OK, max |diff| ${worst.toExponential(2)}`);
  if (results.length === 0) throw new Error(`${where}: no case ran`);
  if (bad.length) throw new Error(`${where}: ${bad.length} case(s) failed: ${bad.slice(0, 10).map((r) => `${r.name}: ${r.error}`).join('\n')}`);
}

for (const be of wasmBackends()) {
  test(`op table: ${be.name} against the float64 reference, twice for the same bits`, async () => {
    report(be.name, await checkBackend(be, { filter }));
  });
}

test('op table: backward kernels against central finite differences (reference, float64)', () => {
  report('gradients', checkGradients({ filter }));
});

test('op table: every op has cases, names are unique, and every backward kernel has a gradient check', () => {
  const names = new Set<string>();
  for (const op of OPS) {
    const cases = op.cases();
    if (cases.length === 0) throw new Error(`${op.name}: no cases`);
    for (const c of [...cases, ...(op.gradCases?.() ?? [])]) {
      if (names.has(c.name)) throw new Error(`duplicate case name ${c.name}`);
      names.add(c.name);
    }
    if (/Backward|Grad$/.test(op.name) && !op.gradCases) throw new Error(`${op.name}: a backward kernel without a gradient check`);
  }
});

test.run();
