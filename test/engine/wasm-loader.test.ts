import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ReferenceBackend, WasmBackend, bestWasmBuild, createBackend, wasmBuildSupported } from '../../src/engine/index.ts';
import { v8KnowsFlag } from '../../src/engine/wasm.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('the plain SIMD build validates and loads', () => {
  assert.ok(wasmBuildSupported('simd'));
  const be = new WasmBackend('simd');
  assert.is(be.name, 'wasm-simd');
});

test('the relaxed SIMD build validates (unflagged, or with the V8 flag where the runtime has it), and auto picks it', () => {
  assert.ok(wasmBuildSupported('relaxed'), `${process.version} should validate relaxed SIMD`);
  assert.is(bestWasmBuild(), 'relaxed');
  assert.is(createBackend('auto').name, 'wasm-relaxed-simd');
});

test('v8KnowsFlag asks the runtime: a real V8 flag is known, a made-up one is not', () => {
  assert.ok(v8KnowsFlag('--max-old-space-size'));
  assert.ok(v8KnowsFlag('--max_old_space_size'), 'dashes and underscores are the same in V8 flag names');
  assert.not.ok(v8KnowsFlag('--no-such-flag-resilient-fusion'));
  assert.not.ok(v8KnowsFlag('--max-old-space'), 'a prefix of a flag is not the flag');
});

test('a fresh process loads the relaxed build with nothing on stdout or stderr, setting the flag only where V8 knows it', () => {
  const code = `import { createBackend } from './src/engine/index.ts';
    const be = createBackend('auto');
    console.log(JSON.stringify({ name: be.name }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '', `stray stderr on ${process.version}`);
  assert.equal(r.stdout.trim().split('\n'), [JSON.stringify({ name: 'wasm-relaxed-simd' })], `stray stdout on ${process.version}`);
});

test('arena: aligned allocations, growth keeps data, mark/release', () => {
  for (const be of [new WasmBackend('simd', 1 << 20), new ReferenceBackend(1024)]) {
    const a = be.alloc(3);
    assert.is(a % 4, 0);
    assert.ok(a > 0, 'pointer 0 is reserved for "none"');
    be.write(a, [1, 2, 3]);
    const m = be.mark();
    const big = be.alloc(1 << 20); // forces growth
    assert.is(big % 4, 0);
    assert.equal(Array.from(be.readSync(a, 3)), [1, 2, 3]);
    be.release(m);
    assert.is(be.mark(), m);
    assert.throws(() => be.alloc(-1));
  }
});

test('peak kernel runs in both builds', () => {
  for (const build of ['simd', 'relaxed'] as const) {
    const be = new WasmBackend(build);
    const v = be.x.f32_peak_madd(1000);
    assert.ok(Number.isFinite(v));
  }
});

test.run();
