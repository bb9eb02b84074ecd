/** Typed arrays over SharedArrayBuffers: a worker pool reads a prepared data set without copies. */

/** Float32Array of n on shared memory. */
export function sharedF32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * n));
}
/** Uint8Array of n on shared memory. */
export function sharedU8(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}
/** Int32Array of n on shared memory. */
export function sharedI32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}
