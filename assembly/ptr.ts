/** Byte address of element i of an f32 array at p. */
// @ts-ignore: decorator
@inline export function at(p: usize, i: i32): usize { return p + ((<usize>i) << 2); }
// @ts-ignore: decorator
@inline export function ld(p: usize, i: i32): f32 { return load<f32>(p + ((<usize>i) << 2)); }
// @ts-ignore: decorator
@inline export function st(p: usize, i: i32, v: f32): void { store<f32>(p + ((<usize>i) << 2), v); }
