import { madd } from './simd';

/** 0 for any iteration count the loops run (iters >= 0), but unknown to the compiler. */
// @ts-ignore: decorator
@inline function runtimeZero(iters: i32): f32 {
  return <f32>(iters >>> 31);
}

/**
 * Register-only multiply-add loop for the peak benchmark: 12 independent f32x4 accumulators, `iters`
 * iterations, 12 * 4 * 2 = 96 flops per iteration. No memory traffic, so it measures the core's SIMD
 * multiply-add throughput for the build in use (fused in the relaxed build, mul+add in the plain one).
 * Returns a lane sum so the loop cannot be removed.
 */
export function f32_peak_madd(iters: i32): f32 {
  return maddLoop(iters, f32x4.splat(0.999999), f32x4.splat(1e-7));
}

/**
 * f32_peak_madd with its operands derived from `iters` (`runtimeZero`) instead of written as constants.
 * Why both: V8 13 (Node 24) treats a constant splat as free to rematerialize and rebuilds it at every use
 * inside the loop, which ran the constant form at ~14 GFLOP/s against ~58 for this one (Node 24.22.3, same
 * core, same minute), while V8 11.3 (Node 20) runs the constant forms as fast or faster. The benchmarks
 * take the largest loop, so each runtime is measured at its best. The GEMM's operands come from memory and
 * never had the problem.
 */
export function f32_peak_madd_rt(iters: i32): f32 {
  const z = runtimeZero(iters);
  return maddLoop(iters, f32x4.splat(0.999999 + z), f32x4.splat(1e-7 + z));
}

// @ts-ignore: decorator
@inline function maddLoop(iters: i32, x: v128, y: v128): f32 {
  let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
  let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5), a6 = f32x4.splat(0.6), a7 = f32x4.splat(0.7);
  let a8 = f32x4.splat(0.8), a9 = f32x4.splat(0.9), a10 = f32x4.splat(1.0), a11 = f32x4.splat(1.1);
  for (let i = 0; i < iters; i++) {
    a0 = madd(a0, x, y); a1 = madd(a1, x, y); a2 = madd(a2, x, y); a3 = madd(a3, x, y);
    a4 = madd(a4, x, y); a5 = madd(a5, x, y); a6 = madd(a6, x, y); a7 = madd(a7, x, y);
    a8 = madd(a8, x, y); a9 = madd(a9, x, y); a10 = madd(a10, x, y); a11 = madd(a11, x, y);
  }
  let s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  s = f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/**
 * Peak of separate multiplies and adds: 6 independent add chains and 6 independent multiply chains per
 * iteration, 12 * 4 = 48 flops per iteration. Without fused multiply-add (the plain build) a dependent
 * mul+add pair is latency-bound, so this loop, which keeps both the multiply and the add pipes busy, is
 * the plain build's true throughput peak. The benchmarks take the largest of the loops.
 */
export function f32_peak_mul_add(iters: i32): f32 {
  return mulAddLoop(iters, f32x4.splat(1e-7), f32x4.splat(0.9999999));
}

/** f32_peak_mul_add with its operands derived from `iters`, for the reason given at f32_peak_madd_rt. */
export function f32_peak_mul_add_rt(iters: i32): f32 {
  const z = runtimeZero(iters);
  return mulAddLoop(iters, f32x4.splat(1e-7 + z), f32x4.splat(0.9999999 + z));
}

// @ts-ignore: decorator
@inline function mulAddLoop(iters: i32, x: v128, y: v128): f32 {
  let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
  let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5);
  let m0 = f32x4.splat(1.0), m1 = f32x4.splat(1.1), m2 = f32x4.splat(1.2), m3 = f32x4.splat(1.3);
  let m4 = f32x4.splat(1.4), m5 = f32x4.splat(1.5);
  for (let i = 0; i < iters; i++) {
    a0 = f32x4.add(a0, x); m0 = f32x4.mul(m0, y); a1 = f32x4.add(a1, x); m1 = f32x4.mul(m1, y);
    a2 = f32x4.add(a2, x); m2 = f32x4.mul(m2, y); a3 = f32x4.add(a3, x); m3 = f32x4.mul(m3, y);
    a4 = f32x4.add(a4, x); m4 = f32x4.mul(m4, y); a5 = f32x4.add(a5, x); m5 = f32x4.mul(m5, y);
  }
  let s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(a4, a5));
  s = f32x4.add(s, f32x4.add(f32x4.add(f32x4.add(m0, m1), f32x4.add(m2, m3)), f32x4.add(m4, m5)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
