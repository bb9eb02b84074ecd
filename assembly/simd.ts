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

/**
 * Lane-splat of the f32 (or i32 bits) at element i of a static constant table (`memory.data`). V8's x64 code
 * rebuilds an f32x4.splat(constant) / v128.const from immediates at every use inside a loop, 3 instructions
 * (movq r, imm64; vmovq; vpunpcklqdq), while this is one vbroadcastss from a constant address: in the
 * exp-based loops (GELU; then also a row softmax, since removed) the constants were over half of the instructions. Same values, same bits.
 */
// @ts-ignore: decorator
@inline
export function kat(table: usize, i: i32): v128 {
  return v128.load32_splat(table + ((<usize>i) << 2));
}
