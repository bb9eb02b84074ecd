/**
 * Masked multi-head self-attention over packed qkv [B,T,3d], forward and backward; the contract is in
 * src/engine/types.ts (attentionForward/attentionBackward), the exact semantics in ReferenceBackend.attention*.
 *
 * Design: per sample, the indices of the present tokens are compacted (`idx`, n of them), and per head the
 * present rows of Q, K, V (and dO) are packed into the scratch `ws`. Masked tokens are never read, so they
 * cost no flops and their values (NaN included) cannot reach any output bit. Every matrix product then runs
 * on the n x n problem through one register-tiled micro-kernel, `gemm4x8` (4 rows x 8 columns of C in 8
 * f32x4 accumulators, `madd` = fused multiply-add in the relaxed build), in two instances: A row-major, and
 * A stored transposed (so Pᵀ·dO and dSᵀ·Q read P and dS as they are: no transpose pass). It is its own, not
 * assembly/gemm.ts's 3x12 one: these products are small and need no packing pass, and routing them through
 * f32_gemm measured 5-15% slower (`npm run bench -- attention`). Tails: packed buffers have their rows
 * padded to a multiple of 4 and their columns to a multiple of 8; the reduction (K) length is always
 * exact, so the padding (never initialised) only reaches padded outputs, which are never stored or read.
 * A sample with every token present and T a multiple of 4 (`direct`) skips the packing: Q, K, V, dO and
 * P are read in place (qkv, dout, att rows), S is computed straight into its att rows and O into out.
 * Forward: S = Q·Kᵀ (Kᵀ packed by 4x4 shuffles), row softmax with a vectorised exp (Cephes expf
 * polynomial, ~1 ulp), P into att (zeros elsewhere), O = P·V into out (masked query rows zero).
 * Backward (Vaswani et al. 2017 attention, gradients as in llm.c's attention_backward):
 * dV = Pᵀ·dO, dP = dO·Vᵀ, dS = scale·P∘(dP − rowsum(dP∘P)), dQ = dS·K, dK = dSᵀ·Q, added into dqkv.
 * Every element of every product is the chain acc = madd(a_k, b_k, acc) over k in order: the direct and
 * packed paths, and both kernel instances, give the same bits.
 * Work depends only on the sample's own data, in a fixed order: results are bit-identical whatever the
 * rest of the batch is. If a shape needs more scratch than WS_FLOATS, the naive kernels below are used.
 */
import { kat, madd } from './simd';

/** Floats of `ws` the kernels may use (src/engine/wasm.ts WORKSPACE_FLOATS). */
const WS_FLOATS: i32 = 1 << 21;

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize { return p + ((<usize>i) << 2); }
// @ts-ignore: decorator
@inline function rup4(x: i32): i32 { return (x + 3) & ~3; }
// @ts-ignore: decorator
@inline function rup8(x: i32): i32 { return (x + 7) & ~7; }

/** Store lanes [0, cnt) of v at p (cnt in 0..4). */
// @ts-ignore: decorator
@inline function storeLanes(p: usize, v: v128, cnt: i32): void {
  if (cnt >= 4) { v128.store(p, v); return; }
  if (cnt >= 2) { v128.store64_lane(p, v, 0); if (cnt == 3) v128.store32_lane(p, v, 2, 8); return; }
  if (cnt == 1) v128.store32_lane(p, v, 0);
}

/**
 * C[M,N] = op(A)·B[K,N]: A row-major [M,K] (tA false) or stored [K,M] and used transposed (tA true, so
 * Pᵀ·dO and dSᵀ·Q need no transpose pass); B row-major; row strides lda, ldb, ldc in floats. M must be a
 * multiple of 4 and N of 8 (callers pad their buffers; rows/columns of padding hold garbage that reaches
 * only padded C entries); only columns j < nv of C are stored, so C may be a live tensor (att, out) whose
 * rows are exactly nv wide. K is exact. Tile 4x8: per k, two B vectors, four broadcast A scalars, eight
 * multiply-adds; every C element is the chain acc = madd(a_k, b_k, acc), k = 0..K-1 in order, from 0, so
 * tA and nv never change a bit. Inlined into two kernels with tA a constant, so each k loop is only its
 * pointer bumps: four A row pointers (+4 bytes) or one (the 4 scalars of a k are contiguous: fixed offsets),
 * and B's.
 */
// @ts-ignore: decorator
@inline function gemm4x8(c: usize, ldc: i32, a: usize, lda: i32, tA: bool, b: usize, ldb: i32, M: i32, N: i32, K: i32, nv: i32): void {
  const sa = (<usize>lda) << 2, sb = (<usize>ldb) << 2, sc = (<usize>ldc) << 2;
  const kb = (<usize>K) * sb;
  for (let i = 0; i < M; i += 4) {
    const c0 = c + (<usize>i) * sc, c1 = c0 + sc, c2 = c1 + sc, c3 = c2 + sc;
    for (let j = 0; j < N; j += 8) {
      let vacc0x0123 = f32x4.splat(0), vacc0x4567 = f32x4.splat(0);
      let vacc1x0123 = f32x4.splat(0), vacc1x4567 = f32x4.splat(0);
      let vacc2x0123 = f32x4.splat(0), vacc2x4567 = f32x4.splat(0);
      let vacc3x0123 = f32x4.splat(0), vacc3x4567 = f32x4.splat(0);
      let pb = b + ((<usize>j) << 2);
      const pend = pb + kb;
      if (tA) {
        let pa = a + ((<usize>i) << 2);
        while (pb < pend) {
          const vb0123 = v128.load(pb), vb4567 = v128.load(pb, 16);
          const va0 = v128.load32_splat(pa), va1 = v128.load32_splat(pa, 4);
          const va2 = v128.load32_splat(pa, 8), va3 = v128.load32_splat(pa, 12);
          vacc0x0123 = madd(va0, vb0123, vacc0x0123); vacc0x4567 = madd(va0, vb4567, vacc0x4567);
          vacc1x0123 = madd(va1, vb0123, vacc1x0123); vacc1x4567 = madd(va1, vb4567, vacc1x4567);
          vacc2x0123 = madd(va2, vb0123, vacc2x0123); vacc2x4567 = madd(va2, vb4567, vacc2x4567);
          vacc3x0123 = madd(va3, vb0123, vacc3x0123); vacc3x4567 = madd(va3, vb4567, vacc3x4567);
          pa += sa;
          pb += sb;
        }
      } else {
        let p0 = a + (<usize>i) * sa, p1 = p0 + sa, p2 = p1 + sa, p3 = p2 + sa;
        while (pb < pend) {
          const vb0123 = v128.load(pb), vb4567 = v128.load(pb, 16);
          const va0 = v128.load32_splat(p0), va1 = v128.load32_splat(p1);
          const va2 = v128.load32_splat(p2), va3 = v128.load32_splat(p3);
          vacc0x0123 = madd(va0, vb0123, vacc0x0123); vacc0x4567 = madd(va0, vb4567, vacc0x4567);
          vacc1x0123 = madd(va1, vb0123, vacc1x0123); vacc1x4567 = madd(va1, vb4567, vacc1x4567);
          vacc2x0123 = madd(va2, vb0123, vacc2x0123); vacc2x4567 = madd(va2, vb4567, vacc2x4567);
          vacc3x0123 = madd(va3, vb0123, vacc3x0123); vacc3x4567 = madd(va3, vb4567, vacc3x4567);
          p0 += 4; p1 += 4; p2 += 4; p3 += 4;
          pb += sb;
        }
      }
      const jo = (<usize>j) << 2;
      if (j + 8 <= nv) {
        v128.store(c0 + jo, vacc0x0123); v128.store(c0 + jo, vacc0x4567, 16);
        v128.store(c1 + jo, vacc1x0123); v128.store(c1 + jo, vacc1x4567, 16);
        v128.store(c2 + jo, vacc2x0123); v128.store(c2 + jo, vacc2x4567, 16);
        v128.store(c3 + jo, vacc3x0123); v128.store(c3 + jo, vacc3x4567, 16);
      } else {
        const n0 = nv - j, n1 = nv - j - 4;
        storeLanes(c0 + jo, vacc0x0123, n0); storeLanes(c0 + jo + 16, vacc0x4567, n1);
        storeLanes(c1 + jo, vacc1x0123, n0); storeLanes(c1 + jo + 16, vacc1x4567, n1);
        storeLanes(c2 + jo, vacc2x0123, n0); storeLanes(c2 + jo + 16, vacc2x4567, n1);
        storeLanes(c3 + jo, vacc3x0123, n0); storeLanes(c3 + jo + 16, vacc3x4567, n1);
      }
    }
  }
}

/** gemm4x8 with A row-major. */
function f32_gemm_4x8__wasmsimd(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, nv: i32): void {
  gemm4x8(c, ldc, a, lda, false, b, ldb, M, N, K, nv);
}

/** gemm4x8 with A stored [K,M] (used transposed). */
function f32_gemm_4x8t__wasmsimd(c: usize, ldc: i32, a: usize, lda: i32, b: usize, ldb: i32, M: i32, N: i32, K: i32, nv: i32): void {
  gemm4x8(c, ldc, a, lda, true, b, ldb, M, N, K, nv);
}

/** exp4's constants (kat, simd.ts): clamp, shifter, log2 e, ln2 hi/lo, the polynomial p0..p5, 1; then 127 (i32). */
const EXP4_K = memory.data<f32>([-87.0, 12582912.0, 1.44269504088896341, -0.693359375, 2.12194440e-4,
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1, 1.0]);
const EXP4_127 = memory.data<i32>([127]);

/**
 * exp(x) in four lanes for x <= 0 (softmax arguments): Cephes expf. n = round(x·log2 e) by the
 * 1.5·2^23 shifter (its low mantissa bits are n as an integer), r = x − n·ln2 (two-constant Cody-Waite),
 * exp(r) by a degree-6 polynomial, times 2^n built in the exponent bits. x is clamped at −87
 * (exp ≈ 1.6e-38, far below any tolerance) with pmax, one instruction; NaN propagates.
 */
// @ts-ignore: decorator
@inline function exp4(x: v128): v128 {
  x = f32x4.pmax(x, kat(EXP4_K, 0));
  const shifter = kat(EXP4_K, 1);
  const t = madd(x, kat(EXP4_K, 2), shifter);
  const fx = f32x4.sub(t, shifter);
  let r = madd(fx, kat(EXP4_K, 3), x);
  r = madd(fx, kat(EXP4_K, 4), r);
  let p = madd(kat(EXP4_K, 5), r, kat(EXP4_K, 6));
  p = madd(p, r, kat(EXP4_K, 7));
  p = madd(p, r, kat(EXP4_K, 8));
  p = madd(p, r, kat(EXP4_K, 9));
  p = madd(p, r, kat(EXP4_K, 10));
  const y = f32x4.add(madd(p, f32x4.mul(r, r), r), kat(EXP4_K, 11));
  // bits(t) − bits(shifter) = n; (n + 127) << 23 is 2^n
  const pow2n = i32x4.shl(i32x4.add(i32x4.sub(t, shifter), kat(EXP4_127, 0)), 23);
  return f32x4.mul(y, pow2n);
}

/** Lanes i < rem (rem in 1..3) all-ones, the rest zero. */
// @ts-ignore: decorator
@inline function laneMask(rem: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(rem));
}

/** dst[0..n) = 0 (n any), vectorised. */
function zero(dst: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(dst, i), z);
  for (; i < n; i++) store<f32>(at(dst, i), 0);
}

/** Indices of the present tokens of one sample's mask row; returns their count. */
function compact(idx: usize, mrow: usize, T: i32): i32 {
  let n = 0;
  for (let t = 0; t < T; t++) {
    if (load<f32>(at(mrow, t)) != 0) { store<i32>(at(idx, n), t); n++; }
  }
  return n;
}

/**
 * The runs of consecutive present tokens in idx [n]: run r covers tokens t0 .. t0+len-1 at packed positions
 * j0 .. j0+len-1, stored as the i32 triple (t0, j0, len) at runs + 12r. Returns the number of runs. The
 * probabilities move between att rows and packed rows run by run, as vector copies.
 */
function runsOf(runs: usize, idx: usize, n: i32): i32 {
  let nr = 0, j = 0;
  while (j < n) {
    const t0 = load<i32>(at(idx, j));
    let len = 1;
    while (j + len < n && load<i32>(at(idx, j + len)) == t0 + len) len++;
    const rr = at(runs, 3 * nr);
    store<i32>(rr, t0); store<i32>(rr, j, 4); store<i32>(rr, len, 8);
    nr++;
    j += len;
  }
  return nr;
}

/** dst[0..w) = src[0..w), vectorised (unaligned). */
function copyRow(dst: usize, src: usize, w: i32): void {
  let e = 0;
  for (; e + 4 <= w; e += 4) v128.store(at(dst, e), v128.load(at(src, e)));
  for (; e < w; e++) store<f32>(at(dst, e), load<f32>(at(src, e)));
}

/** One att row [T] from a packed row: the runs' values in place, 0 at every masked key. */
function scatterRow(arow: usize, prow: usize, runs: usize, nr: i32, T: i32): void {
  let t = 0;
  for (let r = 0; r < nr; r++) {
    const rr = at(runs, 3 * r), t0 = load<i32>(rr), len = load<i32>(rr, 8);
    zero(at(arow, t), t0 - t);
    copyRow(at(arow, t0), at(prow, load<i32>(rr, 4)), len);
    t = t0 + len;
  }
  zero(at(arow, t), T - t);
}

/** dst[i*ldd + e] = src row idx[i], columns e < w (row stride lds); rows i < n. */
function packRows(dst: usize, ldd: i32, src: usize, lds: i32, idx: usize, n: i32, w: i32): void {
  for (let i = 0; i < n; i++) {
    const s = at(src, load<i32>(at(idx, i)) * lds), d = at(dst, i * ldd);
    let e = 0;
    for (; e + 4 <= w; e += 4) v128.store(at(d, e), v128.load(at(s, e)));
    for (; e < w; e++) store<f32>(at(d, e), load<f32>(at(s, e)));
  }
}

/**
 * dst[e*ldd + i] = src row idx[i] column e (a transposed pack); rows i < n, e < w. Four rows at a time are
 * transposed 4x4 with shuffles; the n&3 rows and w&3 columns left over are copied one float at a time.
 */
function packCols(dst: usize, ldd: i32, src: usize, lds: i32, idx: usize, n: i32, w: i32): void {
  const sd = (<usize>ldd) << 2;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const s0 = at(src, load<i32>(at(idx, i)) * lds), s1 = at(src, load<i32>(at(idx, i + 1)) * lds);
    const s2 = at(src, load<i32>(at(idx, i + 2)) * lds), s3 = at(src, load<i32>(at(idx, i + 3)) * lds);
    let e = 0;
    for (; e + 4 <= w; e += 4) {
      const eo = (<usize>e) << 2;
      const r0 = v128.load(s0 + eo), r1 = v128.load(s1 + eo), r2 = v128.load(s2 + eo), r3 = v128.load(s3 + eo);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const d0 = at(dst, e * ldd + i);
      v128.store(d0, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(d0 + sd, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
      v128.store(d0 + 2 * sd, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
      v128.store(d0 + 3 * sd, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
    }
    for (; e < w; e++) {
      const d0 = at(dst, e * ldd + i), eo = (<usize>e) << 2;
      store<f32>(d0, load<f32>(s0 + eo)); store<f32>(d0, load<f32>(s1 + eo), 4);
      store<f32>(d0, load<f32>(s2 + eo), 8); store<f32>(d0, load<f32>(s3 + eo), 12);
    }
  }
  for (; i < n; i++) {
    const s = at(src, load<i32>(at(idx, i)) * lds);
    for (let e = 0; e < w; e++) store<f32>(at(dst, e * ldd + i), load<f32>(at(s, e)));
  }
}

/** Scratch floats the fast kernels need for one head of n <= T present tokens. */
function wsNeed(T: i32, hd: i32): i32 {
  const np = rup8(T), hdp = rup8(hd);
  const f = 4 * np * hdp + np * np;
  const b = 7 * np * hdp + 2 * np * np;
  return (f > b ? f : b) + 4 * np;
}

/**
 * Forward. out [B,T,d] = softmax(scale·Q·Kᵀ over present keys)·V per head, masked query rows 0;
 * att [B,H,T,T] = the probabilities (0 at masked keys and on masked query rows). qkv [B,T,3d], mask [B,T].
 * A sample with every token present and T a multiple of 4 (`direct`: no padding rows, identity index)
 * skips the packing where it can: Q (and V when hd is a multiple of 8) are read in place from qkv, S is
 * computed straight into its att rows and O straight into out. Same products in the same order: same bits.
 */
export function f32_attention_fwd(out: usize, att: usize, qkv: usize, mask: usize, B: i32, T: i32, d: i32, H: i32, ws: usize): void {
  const hd = d / H, C3 = 3 * d;
  if (wsNeed(T, hd) > WS_FLOATS) { attention_fwd_naive(out, att, qkv, mask, B, T, d, H); return; }
  const scale = <f32>(1.0 / Math.sqrt(<f64>hd));
  const np = rup8(T), hdp = rup8(hd);
  // ws: idx [np] | runs [3np] | Q [np,hd] | Kt [hd,np] | V [np,hdp] | O [np,hdp] | S [np,np]
  const idx = ws, runs = at(idx, np);
  const Qp = at(runs, 3 * np), Kt = at(Qp, np * hdp), Vp = at(Kt, np * hdp), Op = at(Vp, np * hdp), S = at(Op, np * hdp);
  for (let b = 0; b < B; b++) {
    const n = compact(idx, at(mask, b * T), T);
    const xb = at(qkv, b * T * C3), ob = at(out, b * T * d);
    // Masked query rows of out and att are zero; present rows are written in full below.
    for (let t = 0; t < T; t++) {
      if (load<f32>(at(mask, b * T + t)) != 0) continue;
      zero(at(ob, t * d), d);
      for (let h = 0; h < H; h++) zero(at(att, ((b * H + h) * T + t) * T), T);
    }
    if (n == 0) continue;
    const mp = rup4(n), ns = rup8(n);
    const direct = n == T && (T & 3) == 0, vDirect = direct && (hd & 7) == 0;
    const nr = direct ? 0 : runsOf(runs, idx, n);
    for (let h = 0; h < H; h++) {
      const ab = at(att, (b * H + h) * T * T);
      let q = Qp, ldq = hd, v = Vp, ldv = hdp;
      if (direct) { q = at(xb, h * hd); ldq = C3; } else packRows(Qp, hd, at(xb, h * hd), C3, idx, n, hd);
      if (vDirect) { v = at(xb, 2 * d + h * hd); ldv = C3; } else packRows(Vp, hdp, at(xb, 2 * d + h * hd), C3, idx, n, hd);
      packCols(Kt, ns, at(xb, d + h * hd), C3, idx, n, hd);
      if (direct) {
        // S = Q·Kᵀ in the att rows, softmax in place, O = P·V into out
        f32_gemm_4x8__wasmsimd(ab, T, q, ldq, Kt, ns, n, ns, hd, n);
        for (let i = 0; i < n; i++) softmaxRow(at(ab, i * T), n, scale);
        f32_gemm_4x8__wasmsimd(at(ob, h * hd), d, ab, T, v, ldv, n, hdp, n, hd);
        continue;
      }
      // S = Q·Kᵀ (raw dots; scale is applied inside the softmax)
      f32_gemm_4x8__wasmsimd(S, ns, q, ldq, Kt, ns, mp, ns, hd, ns);
      for (let i = 0; i < n; i++) {
        const srow = at(S, i * ns);
        softmaxRow(srow, n, scale);
        scatterRow(at(ab, load<i32>(at(idx, i)) * T), srow, runs, nr, T);
      }
      // O = P·V
      f32_gemm_4x8__wasmsimd(Op, hdp, S, ns, v, ldv, mp, hdp, n, hdp);
      for (let i = 0; i < n; i++) {
        const o = at(ob, load<i32>(at(idx, i)) * d + h * hd), src = at(Op, i * hdp);
        let e = 0;
        for (; e + 4 <= hd; e += 4) v128.store(at(o, e), v128.load(at(src, e)));
        for (; e < hd; e++) store<f32>(at(o, e), load<f32>(at(src, e)));
      }
    }
  }
}

/**
 * In place over row[0..n): p_j = exp(scale·(s_j − max s)) / Σ p. Lanes at and beyond n in the last
 * vector are excluded from max and sum and stored as 0 (the row has room up to rup8(n)).
 */
function softmaxRow(row: usize, n: i32, scale: f32): void {
  const n4 = n & ~3, rem = n & 3;
  const lm = laneMask(rem);
  const ninf = f32x4.splat(-Infinity);
  // Two max chains and two exps per iteration: independent work for the out-of-order core (the max is
  // exact, so the split changes no bit; the sum keeps its order).
  let vmx = ninf, vmx1 = ninf;
  let j = 0;
  for (; j + 8 <= n4; j += 8) { vmx = f32x4.pmax(vmx, v128.load(at(row, j))); vmx1 = f32x4.pmax(vmx1, v128.load(at(row, j + 4))); }
  if (j < n4) vmx = f32x4.pmax(vmx, v128.load(at(row, j)));
  if (rem) vmx = f32x4.pmax(vmx, v128.bitselect(v128.load(at(row, n4)), ninf, lm));
  vmx = f32x4.pmax(vmx, vmx1);
  let mx = f32x4.pmax(vmx, v128.shuffle<f32>(vmx, vmx, 2, 3, 0, 1));
  mx = f32x4.pmax(mx, v128.shuffle<f32>(mx, mx, 1, 0, 3, 2));
  const vs = f32x4.splat(scale);
  const vnegmx = f32x4.mul(mx, f32x4.neg(vs)); // −scale·max, every lane
  let vsum = f32x4.splat(0);
  j = 0;
  for (; j + 8 <= n4; j += 8) {
    const p0 = exp4(madd(v128.load(at(row, j)), vs, vnegmx));
    const p1 = exp4(madd(v128.load(at(row, j + 4)), vs, vnegmx));
    v128.store(at(row, j), p0);
    v128.store(at(row, j + 4), p1);
    vsum = f32x4.add(f32x4.add(vsum, p0), p1);
  }
  if (j < n4) {
    const p = exp4(madd(v128.load(at(row, j)), vs, vnegmx));
    v128.store(at(row, j), p);
    vsum = f32x4.add(vsum, p);
  }
  if (rem) {
    const p = v128.and(exp4(madd(v128.load(at(row, n4)), vs, vnegmx)), lm);
    v128.store(at(row, n4), p);
    vsum = f32x4.add(vsum, p);
  }
  const s2 = f32x4.add(vsum, v128.shuffle<f32>(vsum, vsum, 2, 3, 0, 1));
  const inv = f32x4.div(f32x4.splat(1), f32x4.add(s2, v128.shuffle<f32>(s2, s2, 1, 0, 3, 2)));
  for (j = 0; j < n4 + (rem ? 4 : 0); j += 4) v128.store(at(row, j), f32x4.mul(v128.load(at(row, j)), inv));
}

/**
 * Backward. dqkv [B,T,3d] += the gradient of the forward given dout [B,T,d] and the saved att [B,H,T,T].
 * Masked query rows contribute nothing; masked tokens receive nothing. The transposed products (Pᵀ·dO,
 * dSᵀ·Q) read P and dS as stored (the micro-kernel's tA), so nothing is transposed; a `direct` sample (all
 * present, T a multiple of 4) reads P in place from att, dO in place from dout, and Q, K in place from qkv
 * when hd is a multiple of 8.
 */
export function f32_attention_bwd(dqkv: usize, dout: usize, qkv: usize, att: usize, mask: usize, B: i32, T: i32, d: i32, H: i32, ws: usize): void {
  const hd = d / H, C3 = 3 * d;
  if (wsNeed(T, hd) > WS_FLOATS) { attention_bwd_naive(dqkv, dout, qkv, att, mask, B, T, d, H, ws); return; }
  const scale = <f32>(1.0 / Math.sqrt(<f64>hd));
  const np = rup8(T), hdp = rup8(hd), A = np * hdp, P2 = np * np;
  // ws: idx | runs [3np] | Q, K, dO [np,hdp] | Vt [hd,np] | dQ, dK, dV [np,hdp] | P, dS [np,np]
  const idx = ws, runs = at(idx, np);
  const Qp = at(runs, 3 * np), Kp = at(Qp, A), dOp = at(Kp, A), Vt = at(dOp, A);
  const dQ = at(Vt, A), dK = at(dQ, A), dV = at(dK, A);
  const Pb = at(dV, A), dS = at(Pb, P2);
  for (let b = 0; b < B; b++) {
    const n = compact(idx, at(mask, b * T), T);
    if (n == 0) continue;
    const mp = rup4(n), ns = rup8(n);
    const direct = n == T && (T & 3) == 0, bDirect = direct && (hd & 7) == 0;
    const nr = direct ? 0 : runsOf(runs, idx, n);
    const xb = at(qkv, b * T * C3), gb = at(dqkv, b * T * C3), ob = at(dout, b * T * d);
    for (let h = 0; h < H; h++) {
      let q = Qp, ldq = hdp, k = Kp, ldk = hdp, g = dOp, ldg = hdp;
      if (bDirect) {
        q = at(xb, h * hd); k = at(xb, d + h * hd); g = at(ob, h * hd);
        ldq = C3; ldk = C3; ldg = d;
      } else {
        packRows(Qp, hdp, at(xb, h * hd), C3, idx, n, hd);
        packRows(Kp, hdp, at(xb, d + h * hd), C3, idx, n, hd);
        packRows(dOp, hdp, at(ob, h * hd), d, idx, n, hd);
      }
      packCols(Vt, ns, at(xb, 2 * d + h * hd), C3, idx, n, hd);
      // P: the att rows themselves, or gathered (present rows and columns only)
      const ab = at(att, (b * H + h) * T * T);
      let P = Pb, ldp = ns;
      if (direct) { P = ab; ldp = T; } else {
        for (let i = 0; i < n; i++) {
          const arow = at(ab, load<i32>(at(idx, i)) * T), prow = at(Pb, i * ns);
          for (let r = 0; r < nr; r++) {
            const rr = at(runs, 3 * r);
            copyRow(at(prow, load<i32>(rr, 4)), at(arow, load<i32>(rr)), load<i32>(rr, 8));
          }
        }
      }
      // out = P·V  ->  dV = Pᵀ·dO, dP = dO·Vᵀ
      f32_gemm_4x8t__wasmsimd(dV, hdp, P, ldp, g, ldg, mp, hdp, n, hdp);
      f32_gemm_4x8__wasmsimd(dS, ns, g, ldg, Vt, ns, mp, ns, hd, ns);
      // P = softmax(S)  ->  dS = P∘(dP − rowsum(P∘dP)), times scale (S = scale·Q·Kᵀ)
      for (let i = 0; i < n; i++) dsRow(at(dS, i * ns), at(P, i * ldp), n, scale);
      // S = scale·Q·Kᵀ  ->  dQ = dS·K, dK = dSᵀ·Q
      f32_gemm_4x8__wasmsimd(dQ, hdp, dS, ns, k, ldk, mp, hdp, n, hdp);
      f32_gemm_4x8t__wasmsimd(dK, hdp, dS, ns, q, ldq, mp, hdp, n, hdp);
      for (let i = 0; i < n; i++) {
        const gr = at(gb, load<i32>(at(idx, i)) * C3 + h * hd), o = i * hdp;
        addRow(gr, at(dQ, o), hd);
        addRow(at(gr, d), at(dK, o), hd);
        addRow(at(gr, 2 * d), at(dV, o), hd);
      }
    }
  }
}

/**
 * One row of dS in place (dP in, dS out) over rup4(n) lanes: lanes at and beyond n hold garbage that is
 * kept out of the row sum by a lane mask and is never read back as a reduction input.
 */
function dsRow(dp: usize, p: usize, n: i32, scale: f32): void {
  const n4 = n & ~3, rem = n & 3;
  let vdot = f32x4.splat(0);
  for (let j = 0; j < n4; j += 4) vdot = madd(v128.load(at(p, j)), v128.load(at(dp, j)), vdot);
  if (rem) vdot = f32x4.add(vdot, v128.and(f32x4.mul(v128.load(at(p, n4)), v128.load(at(dp, n4))), laneMask(rem)));
  const s2 = f32x4.add(vdot, v128.shuffle<f32>(vdot, vdot, 2, 3, 0, 1));
  const vsum = f32x4.add(s2, v128.shuffle<f32>(s2, s2, 1, 0, 3, 2));
  const vs = f32x4.splat(scale);
  for (let j = 0; j < n; j += 4) {
    const pj = v128.load(at(p, j));
    v128.store(at(dp, j), f32x4.mul(f32x4.mul(pj, f32x4.sub(v128.load(at(dp, j)), vsum)), vs));
  }
}

/** dst[0..w) += src[0..w). */
// @ts-ignore: decorator
@inline function addRow(dst: usize, src: usize, w: i32): void {
  let e = 0;
  for (; e + 4 <= w; e += 4) v128.store(at(dst, e), f32x4.add(v128.load(at(dst, e)), v128.load(at(src, e))));
  for (; e < w; e++) store<f32>(at(dst, e), load<f32>(at(dst, e)) + load<f32>(at(src, e)));
}

/** Naive scalar forward (the fallback for shapes beyond the scratch); same semantics, row by row. */
function attention_fwd_naive(out: usize, att: usize, qkv: usize, mask: usize, B: i32, T: i32, d: i32, H: i32): void {
  const hd = d / H, C3 = 3 * d;
  const scale = <f32>(1.0 / Math.sqrt(<f64>hd));
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) {
    const arow = at(att, ((b * H + h) * T + i) * T);
    const orow = at(out, (b * T + i) * d + h * hd);
    for (let j = 0; j < T; j++) store<f32>(at(arow, j), 0);
    for (let e = 0; e < hd; e++) store<f32>(at(orow, e), 0);
    if (load<f32>(at(mask, b * T + i)) == 0) continue;
    const q = at(qkv, (b * T + i) * C3 + h * hd);
    let mx: f32 = -Infinity;
    for (let j = 0; j < T; j++) {
      if (load<f32>(at(mask, b * T + j)) == 0) continue;
      const k = at(qkv, (b * T + j) * C3 + d + h * hd);
      let dot: f32 = 0;
      for (let e = 0; e < hd; e++) dot += load<f32>(at(q, e)) * load<f32>(at(k, e));
      dot *= scale;
      store<f32>(at(arow, j), dot);
      if (dot > mx) mx = dot;
    }
    let sum: f32 = 0;
    for (let j = 0; j < T; j++) {
      if (load<f32>(at(mask, b * T + j)) == 0) continue;
      const p = Mathf.exp(load<f32>(at(arow, j)) - mx);
      store<f32>(at(arow, j), p);
      sum += p;
    }
    const inv: f32 = 1 / sum;
    for (let j = 0; j < T; j++) {
      if (load<f32>(at(mask, b * T + j)) == 0) continue;
      const p = load<f32>(at(arow, j)) * inv;
      store<f32>(at(arow, j), p);
      const v = at(qkv, (b * T + j) * C3 + 2 * d + h * hd);
      for (let e = 0; e < hd; e++) store<f32>(at(orow, e), load<f32>(at(orow, e)) + p * load<f32>(at(v, e)));
    }
  }
}

/** Naive scalar backward (the fallback for shapes beyond the scratch); uses ws[0..T) for one dP row. */
function attention_bwd_naive(dqkv: usize, dout: usize, qkv: usize, att: usize, mask: usize, B: i32, T: i32, d: i32, H: i32, ws: usize): void {
  const hd = d / H, C3 = 3 * d;
  const scale = <f32>(1.0 / Math.sqrt(<f64>hd));
  const dp = ws;
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) {
    if (load<f32>(at(mask, b * T + i)) == 0) continue;
    const arow = at(att, ((b * H + h) * T + i) * T);
    const go = at(dout, (b * T + i) * d + h * hd);
    let dot: f32 = 0;
    for (let j = 0; j < T; j++) {
      if (load<f32>(at(mask, b * T + j)) == 0) { store<f32>(at(dp, j), 0); continue; }
      const p = load<f32>(at(arow, j));
      const v = at(qkv, (b * T + j) * C3 + 2 * d + h * hd);
      const dv = at(dqkv, (b * T + j) * C3 + 2 * d + h * hd);
      let t: f32 = 0;
      for (let e = 0; e < hd; e++) {
        const g = load<f32>(at(go, e));
        store<f32>(at(dv, e), load<f32>(at(dv, e)) + p * g);
        t += g * load<f32>(at(v, e));
      }
      store<f32>(at(dp, j), t);
      dot += p * t;
    }
    const q = at(qkv, (b * T + i) * C3 + h * hd);
    const dq = at(dqkv, (b * T + i) * C3 + h * hd);
    for (let j = 0; j < T; j++) {
      if (load<f32>(at(mask, b * T + j)) == 0) continue;
      const ds = load<f32>(at(arow, j)) * (load<f32>(at(dp, j)) - dot) * scale;
      const k = at(qkv, (b * T + j) * C3 + d + h * hd);
      const dk = at(dqkv, (b * T + j) * C3 + d + h * hd);
      for (let e = 0; e < hd; e++) {
        store<f32>(at(dq, e), load<f32>(at(dq, e)) + ds * load<f32>(at(k, e)));
        store<f32>(at(dk, e), load<f32>(at(dk, e)) + ds * load<f32>(at(q, e)));
      }
    }
  }
}
