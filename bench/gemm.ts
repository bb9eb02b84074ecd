/**
 * GEMM benchmark: f32_gemm (assembly/gemm.ts) on one thread, per build x variant x shape, against the peak
 * of the same build measured in the same run. Variants are the three the backward pass needs: NN (dX = dY·W),
 * NT (a Linear's forward, W stored [out,in]) and TN (dW = dYᵀ·X). Shapes are (M, K, N); the three 4096-row
 * ones are a small model's MLP and attention projections over a batch of tokens. Each run is verified first
 * against float64 dot products on sampled entries, then timed.
 */
import { WasmBackend, wasmBuildSupported } from '../src/engine/index.ts';
import type { WasmBuild } from '../src/engine/index.ts';
import { measure, measurePeak, row } from './util.ts';
import type { BenchMain } from './util.ts';

type Variant = 'NN' | 'NT' | 'TN';
const VARIANTS: Variant[] = ['NN', 'NT', 'TN'];
/** (M, K, N). */
const SHAPES: [number, number, number][] = [[4096, 192, 192], [4096, 192, 768], [4096, 768, 192], [512, 512, 512], [64, 192, 192]];
const QUICK_SHAPES: [number, number, number][] = [[4096, 192, 192], [4096, 192, 768], [4096, 768, 192]];

/** Deterministic inputs in [-1, 1). */
function fill(a: Float32Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
}

function benchBuild(build: WasmBuild, shapes: [number, number, number][], quick: boolean, emit: Parameters<BenchMain>[1]): void {
  const peak = measurePeak(build);
  const maxA = Math.max(...shapes.map(([M, K]) => M * K));
  const maxB = Math.max(...shapes.map(([, K, N]) => K * N));
  const maxC = Math.max(...shapes.map(([M, , N]) => M * N));
  const be = new WasmBackend(build, (maxA + maxB + maxC + (4 << 20)) * 4);
  const a = be.alloc(maxA), b = be.alloc(maxB), c = be.alloc(maxC);
  const hostA = new Float32Array(maxA), hostB = new Float32Array(maxB);
  fill(hostA, 1);
  fill(hostB, 2);
  be.write(a, hostA);
  be.write(b, hostB);
  for (const v of VARIANTS) {
    const transA = v === 'TN', transB = v === 'NT';
    for (const [M, K, N] of shapes) {
      const run = () => be.gemm(c, a, b, 0, M, N, K, { transA, transB });
      // Verify: sampled entries against a float64 dot product of the stored operands.
      be.fill(c, M * N, NaN);
      run();
      const C = be.view(c, M * N);
      for (let s = 0; s < 64; s++) {
        const i = (s * 7919) % M, j = (s * 104729) % N;
        let dot = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? hostA[k * M + i] : hostA[i * K + k];
          const bv = transB ? hostB[j * K + k] : hostB[k * N + j];
          dot += av * bv;
        }
        const got = C[i * N + j];
        if (!(Math.abs(got - dot) <= 2e-6 * K + 1e-5 * Math.abs(dot))) {
          throw new Error(`gemm ${build} ${v} ${M}x${K}x${N}: C[${i},${j}] = ${got}, want ${dot}`);
        }
      }
      const t = measure(run, quick ? { minRuns: 5, minSeconds: 0.1 } : { minRuns: 9, minSeconds: 0.4 });
      emit(row('gemm', build, `${v} M=${M} K=${K} N=${N}`, t, 2 * M * N * K, peak));
    }
  }
}

export const main: BenchMain = (args, emit) => {
  const shapes = args.quick ? QUICK_SHAPES : SHAPES;
  for (const build of args.builds) {
    if (!wasmBuildSupported(build)) continue;
    benchBuild(build, shapes, args.quick, emit);
  }
};
