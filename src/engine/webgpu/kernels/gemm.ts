import type { KernelSource } from './common.ts';
import { GELU_FNS } from './activation.ts';

/**
 * f32_gemm_64x64__wgsl: C[M,N] (+)= op(A)[M,K]·op(B)[K,N] (+ bias[N]), the reference's `gemm`.
 * Tile: a 16x16 workgroup computes a 64x64 block of C, 4x4 per thread at rows ty+16r, columns tx+16c
 * (strided, so the threads of a row read consecutive shared-memory words); K advances in slabs of 16 held
 * in workgroup memory, loaded with the stored matrix's contiguous axis across threads (coalesced for every
 * transpose variant). Tails (M, N, K not multiples of the tile) load zeros and store nothing.
 * The four transpose variants are pipeline constants (TA, TB); accumulate and bias are runtime flags.
 * Each C entry is one thread's sum over k = 0..K-1 in order, then + bias, then (+ C, or + R at `res` when
 * res != 0): deterministic. The epilogue (GemmOptions.epilogue) runs on the final value: ep 1/2 writes
 * GELU (tanh/erf) of it at aux, ep 3/4 multiplies it by GELU'(aux) (aux laid out like C).
 */
export const GEMM: KernelSource = {
  name: 'gemm',
  params: 'c a b bias M N K lda ldb ldc acc res ep aux',
  variants: {
    gemm_nn: { TA: 0, TB: 0 },
    gemm_nt: { TA: 0, TB: 1 },
    gemm_tn: { TA: 1, TB: 0 },
    gemm_tt: { TA: 1, TB: 1 },
  },
  code: /* wgsl */ `${GELU_FNS}
override TA: u32 = 0u;
override TB: u32 = 0u;
var<workgroup> As: array<f32, 1024>; // [16 k][64 rows]
var<workgroup> Bs: array<f32, 1024>; // [16 k][64 cols]
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  var acc: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }
  for (var k0 = 0u; k0 < p.K; k0 += 16u) {
    for (var s = 0u; s < 4u; s++) {
      let idx = s * 256u + li;
      // A element (row i, k): stored [M,K] (k contiguous) or, transposed, [K,M] (rows contiguous).
      var i: u32; var k: u32;
      if (TA == 1u) { k = idx / 64u; i = idx % 64u; } else { i = idx / 16u; k = idx % 16u; }
      var av = 0.0;
      if (m0 + i < p.M && k0 + k < p.K) {
        if (TA == 1u) { av = m[p.a + (k0 + k) * p.lda + m0 + i]; } else { av = m[p.a + (m0 + i) * p.lda + k0 + k]; }
      }
      As[k * 64u + i] = av;
      // B element (k, col n): stored [K,N] (cols contiguous) or, transposed, [N,K] (k contiguous).
      var n: u32;
      if (TB == 1u) { n = idx / 16u; k = idx % 16u; } else { k = idx / 64u; n = idx % 64u; }
      var bv = 0.0;
      if (n0 + n < p.N && k0 + k < p.K) {
        if (TB == 1u) { bv = m[p.b + (n0 + n) * p.ldb + k0 + k]; } else { bv = m[p.b + (k0 + k) * p.ldb + n0 + n]; }
      }
      Bs[k * 64u + n] = bv;
    }
    workgroupBarrier();
    let kn = min(16u, p.K - k0);
    for (var k = 0u; k < kn; k++) {
      let a0 = As[k * 64u + lid.y];
      let a1 = As[k * 64u + lid.y + 16u];
      let a2 = As[k * 64u + lid.y + 32u];
      let a3 = As[k * 64u + lid.y + 48u];
      let b0 = Bs[k * 64u + lid.x];
      let b1 = Bs[k * 64u + lid.x + 16u];
      let b2 = Bs[k * 64u + lid.x + 32u];
      let b3 = Bs[k * 64u + lid.x + 48u];
      acc[0] += a0 * b0; acc[1] += a0 * b1; acc[2] += a0 * b2; acc[3] += a0 * b3;
      acc[4] += a1 * b0; acc[5] += a1 * b1; acc[6] += a1 * b2; acc[7] += a1 * b3;
      acc[8] += a2 * b0; acc[9] += a2 * b1; acc[10] += a2 * b2; acc[11] += a2 * b3;
      acc[12] += a3 * b0; acc[13] += a3 * b1; acc[14] += a3 * b2; acc[15] += a3 * b3;
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    let gi = m0 + lid.y + 16u * r;
    if (gi >= p.M) { continue; }
    for (var c = 0u; c < 4u; c++) {
      let gn = n0 + lid.x + 16u * c;
      if (gn >= p.N) { continue; }
      var s = acc[r * 4u + c];
      if (p.bias != 0u) { s += m[p.bias + gn]; }
      let ci = p.c + gi * p.ldc + gn;
      var v = s;
      if (p.acc != 0u) {
        var r = ci;
        if (p.res != 0u) { r = p.res + gi * p.ldc + gn; }
        v = m[r] + s;
      }
      let ai = p.aux + gi * p.ldc + gn;
      if (p.ep == 1u) { m[ai] = gelu_tanh(v); }
      if (p.ep == 2u) { m[ai] = gelu_erf(v); }
      if (p.ep == 3u) { v = gelu_tanh_grad(m[ai]) * v; }
      if (p.ep == 4u) { v = gelu_erf_grad(m[ai]) * v; }
      m[ci] = v;
    }
  }
}`,
};
