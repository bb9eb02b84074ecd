import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReferenceBackend, WasmBackend, bestWasmBuild, createBackend, wasmBuildSupported } from '../src/engine/index.ts';

test('the plain SIMD build validates and loads', () => {
  assert.ok(wasmBuildSupported('simd'));
  const be = new WasmBackend('simd');
  assert.is(be.name, 'wasm-simd');
});

test('the relaxed SIMD build validates once the V8 flag is set, and auto picks it', () => {
  assert.ok(wasmBuildSupported('relaxed'), 'Node 20 with --experimental-wasm-relaxed-simd should validate relaxed SIMD');
  assert.is(bestWasmBuild(), 'relaxed');
  assert.is(createBackend('auto').name, 'wasm-relaxed-simd');
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
