/**
 * What every WGSL kernel shares: the three bindings (the f32 arena, a 64-byte parameter block at a dynamic
 * offset of the uniform ring, a scratch buffer) and the workgroup reductions. A kernel is its parameter list
 * plus a WGSL body; `wgsl()` prepends the bindings and a `P` struct generated from the list, so the
 * TypeScript side packs arguments in the same order it names them.
 */

/** One compute kernel: `params` are space-separated names, `name:f` for f32 (default u32); 16 at most. */
export interface KernelSource {
  name: string;
  params: string;
  code: string;
  /** Pipeline-overridable constants, one pipeline per entry of `variants`. */
  variants?: Record<string, Record<string, number>>;
}

/** Threads per workgroup for elementwise and row kernels. */
export const WG = 256;

/** Field kinds of a kernel's parameter block, in order: true = f32. */
export function paramKinds(k: KernelSource): boolean[] {
  return k.params.trim().split(/\s+/).map((f) => f.endsWith(':f'));
}

/** The full WGSL module of a kernel. */
export function wgsl(k: KernelSource): string {
  const fields = k.params.trim().split(/\s+/).map((f) => {
    const [n, t] = f.split(':');
    return `${n}: ${t === 'f' ? 'f32' : 'u32'}`;
  });
  if (fields.length > 16) throw new Error(`kernel ${k.name}: more than 16 parameters`);
  return `struct P { ${fields.join(', ')} }
@group(0) @binding(0) var<storage, read_write> m: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@group(0) @binding(2) var<storage, read_write> ws: array<f32>;
${k.code}`;
}

/**
 * Tree reductions over a workgroup of `n` threads (a power of two) in a fixed order: the same inputs give
 * the same bits on every run (no atomics). Call in uniform control flow only.
 */
export function reductions(n: number): string {
  return `
var<workgroup> red: array<f32, ${n}>;
fn reduce_sum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${n / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn reduce_max(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${n / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;
}

/** The workgroup index of a row kernel dispatched as a 2-D grid (x up to 65535). */
export const ROW_ID = `@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32`;
/** Grid-stride loop header of an elementwise kernel over `n`. */
export const GRID = `@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>`;
