import { kat, madd } from './simd';

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

/**
 * exp(x), four lanes (Cephes expf: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, degree-6
 * polynomial, 2^n built in the exponent bits). About 1-2 ulp over [-87.3, 88.3]. The input is clamped to
 * [-88, 89] with pmax/pmin (single instructions; NaN in x still propagates): at the low end n = -127 makes
 * the 2^n factor exactly 0, so x < -87.7 (and -inf) gives exactly 0; at the high end n = 128 makes it +inf,
 * so x > 88.4 gives +inf. n is rounded with the 1.5*2^23 "magic number" add, whose bits also hold n, so
 * neither `nearest` nor a float-to-int conversion is needed (both lower to long sequences on x64).
 */
/** vexp's constants (kat): clamp low/high, magic, log2 e, ln2 hi/lo, the polynomial p0..p5, 1; then 127 as an i32. */
const EXP_K = memory.data<f32>([-88.0, 89.0, 12582912.0, 1.44269504088896341, -0.693359375, 2.12194440e-4,
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1, 1.0]);
const EXP_127 = memory.data<i32>([127]);

// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  const xc = f32x4.pmin(f32x4.pmax(x, kat(EXP_K, 0)), kat(EXP_K, 1));
  const magic = kat(EXP_K, 2); // 1.5 * 2^23: t's low mantissa bits hold round(x log2e)
  const t = madd(xc, kat(EXP_K, 3), magic);
  const n = f32x4.sub(t, magic);
  // r = x - n*ln2 in two steps (ln2 split so n*C1 is exact).
  let r = madd(n, kat(EXP_K, 4), xc);
  r = madd(n, kat(EXP_K, 5), r);
  let p = kat(EXP_K, 6);
  p = madd(p, r, kat(EXP_K, 7));
  p = madd(p, r, kat(EXP_K, 8));
  p = madd(p, r, kat(EXP_K, 9));
  p = madd(p, r, kat(EXP_K, 10));
  p = madd(p, r, kat(EXP_K, 11));
  p = madd(p, f32x4.mul(r, r), f32x4.add(r, kat(EXP_K, 12)));
  // 2^n: the low 9 bits of (bits(t) + 127) are n + 127 in [0, 255]; shifted into the exponent field
  // (0 gives the float 0, 255 gives +inf).
  const e = i32x4.shl(i32x4.add(t, kat(EXP_127, 0)), 23);
  return f32x4.mul(p, e);
}
