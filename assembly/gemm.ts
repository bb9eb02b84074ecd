/**
 * f32_gemm: C[M,N] (+)= op(A)[M,K] · op(B)[K,N] (+ bias[N]).
 * flags: 1 = A stored [K,M] (transposed), 2 = B stored [N,K] (transposed), 4 = accumulate into C.
 * lda/ldb/ldc are row strides in elements of A, B, C as stored. bias 0 = none. ws: scratch (unused here).
 * Naive placeholder (to be replaced by the blocked SIMD kernel); matches ReferenceBackend.gemm.
 */
export function f32_gemm(c: usize, a: usize, b: usize, bias: usize, M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32, flags: i32, ws: usize): void {
  const tA = (flags & 1) != 0, tB = (flags & 2) != 0, acc = (flags & 4) != 0;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) {
        const av = tA ? load<f32>(a + ((<usize>(k * lda + i)) << 2)) : load<f32>(a + ((<usize>(i * lda + k)) << 2));
        const bv = tB ? load<f32>(b + ((<usize>(j * ldb + k)) << 2)) : load<f32>(b + ((<usize>(k * ldb + j)) << 2));
        s += av * bv;
      }
      if (bias) s += load<f32>(bias + ((<usize>j) << 2));
      const cp = c + ((<usize>(i * ldc + j)) << 2);
      store<f32>(cp, acc ? load<f32>(cp) + s : s);
    }
  }
}
