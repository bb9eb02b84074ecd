// Shared SIMD helpers. `madd(a, b, c)` is a*b + c: one fused multiply-add in the relaxed build, a multiply
// then an add in the plain build (the branch is resolved at compile time).

/** a * b + c, lane-wise. */
// @ts-ignore: decorator
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}
