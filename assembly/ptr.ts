import { madd } from './simd';

/** Byte address of element i of an f32 array at p. */
// @ts-ignore: decorator
@inline export function at(p: usize, i: i32): usize { return p + ((<usize>i) << 2); }
// @ts-ignore: decorator
@inline export function ld(p: usize, i: i32): f32 { return load<f32>(p + ((<usize>i) << 2)); }
// @ts-ignore: decorator
@inline export function st(p: usize, i: i32, v: f32): void { store<f32>(p + ((<usize>i) << 2), v); }

// ---- f32x4 helpers shared by the elementwise/norm/activation kernels (not exported from index.ts) --------

/** Load 4 floats at element i of p (unaligned is fine). */
// @ts-ignore: decorator
@inline export function ld4(p: usize, i: i32): v128 { return v128.load(p + ((<usize>i) << 2)); }
/** Store 4 floats at element i of p. */
// @ts-ignore: decorator
@inline export function st4(p: usize, i: i32, v: v128): void { v128.store(p + ((<usize>i) << 2), v); }

/** Horizontal sum in a fixed order: (l0 + l1) + (l2 + l3). */
// @ts-ignore: decorator
@inline export function hsum4(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}
/** Horizontal max. */
// @ts-ignore: decorator
@inline export function hmax4(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/**
 * exp(x), four lanes (Cephes expf: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, degree-6
 * polynomial, 2^n built in the exponent bits). About 1-2 ulp over [-87, 88]; inputs above 88 give +inf
 * (exp(88) = 1.7e38 is within a factor 2 of FLT_MAX; the kernels only ever need it to saturate, e.g.
 * 1/(1+exp(.)) = 0), inputs below -87 (and -inf) give exactly 0; NaN propagates.
 */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  const lo = f32x4.splat(-87.0);
  const xc = f32x4.min(f32x4.max(x, lo), f32x4.splat(88.0));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  // r = x - n*ln2 in two steps (ln2 split so n*C1 is exact).
  let r = madd(n, f32x4.splat(-0.693359375), xc);
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const r2 = f32x4.mul(r, r);
  p = madd(p, r2, f32x4.add(r, f32x4.splat(1.0)));
  // 2^n: n in [-126, 127] after the clamp, so (n + 127) << 23 is a normal float.
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  const y = v128.bitselect(f32x4.splat(Infinity), f32x4.mul(p, e), f32x4.gt(x, f32x4.splat(88.0)));
  return v128.andnot(y, f32x4.lt(x, lo));
}
