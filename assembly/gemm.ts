import { madd } from './simd';
import { vgeluErf, vgeluErfGrad, vgeluTanh, vgeluTanhGrad } from './gelu';

/**
 * f32_gemm: C[M,N] (+)= op(A)[M,K] · op(B)[K,N] (+ bias[N] on every row); matches ReferenceBackend.gemm.
 *
 * flags: 1 = A stored [K,M] (used transposed), 2 = B stored [N,K] (used transposed: a PyTorch Linear weight
 * [out,in]), 4 = accumulate into C (else overwrite; C is never read). lda/ldb/ldc are row strides in elements
 * as stored. bias 0 = none. ws: scratch for the packed panels, MR*KC+4 + KC*NC floats (~132 K of the 2^21).
 * res (a residual input the accumulation starts from instead of C) and ep/aux (a GELU or GELU-gradient
 * epilogue on each finished tile while it is in L1): see `f32_gemm` at the end.
 *
 * Blocking (GotoBLAS / BLIS loop order): N in equal blocks of at most NC columns, K in blocks of KC, M in tiles of 3 rows,
 * N in panels of 12 columns. Each KC x NC block of op(B) is packed once into 12-wide panels (zero padded past
 * N; NT transposes 4x4 with shuffles), each 3 x KC block of op(A) into a k-major sliver (NN transposes 4x4),
 * so all four transpose variants run one register-tiled microkernel, f32_gemm_3x12__wasmsimd_splat: 3x12 = 9
 * f32x4 accumulators, A broadcast by v128.load32_splat, B loaded as three f32x4; `madd` is one fused
 * f32x4.relaxed_madd in the relaxed build and mul+add in the plain one.
 *
 * Why 3x12: V8 (TurboFan) schedules all of a k step's A broadcasts ahead of the multiply-adds, so an R x 4V
 * tile keeps R*V accumulators + R broadcasts + V B vectors live, and wasm code gets 15 xmm registers.
 * 3x12 needs exactly 15 (no spill in the loop, checked with --print-wasm-code) and gives 9 independent
 * accumulator chains, more than the 2 FMA pipes x 4 cycles latency need. Measured alternatives (relaxed,
 * % of peak): 6x8 42% and 5x8 36% (they spill), 4x8 84-87% (8 chains, exactly the latency bound; the plain
 * build 86-90%), 4x8 with k unrolled by 2 47% (spills).
 *
 * Tails: M tails alias the missing rows to the last valid row (packed as duplicates, stored first); N tails
 * compute on zero-padded B lanes and store by nr & 8, nr & 4, nr & 2, nr & 1. C tails load only their lanes.
 *
 * Determinism: every C element is the chain acc = madd(a_k, b_k, acc) over k = 0..K-1 in order, started at 0
 * (overwrite) or at the old C (accumulate), then + bias. The chain is the same in full tiles and tails; K
 * blocks store and reload the exact f32 partial, so KC does not even change the bits. A row of C therefore
 * never depends on M, N, the other rows or its position (test/engine/gemm.test.ts checks it bit for bit).
 *
 * Peak (bench/peak.ts, register-only madd loop, one AMD EPYC Zen 5 core): ~65 GFLOP/s relaxed, ~54 plain.
 * Reached (bench/gemm.ts, one thread, M,K,N = 4096,192,192 / 4096,192,768 / 4096,768,192, NN NT TN):
 * relaxed 58-65 GFLOP/s, 81-91% of a peak measured at 71.5 in the same run (the peak loop's own figure
 * varies 65-72 GFLOP/s from run to run with the core's clock); plain SIMD 95-100% of its peak loop (~52
 * GFLOP/s): that loop's mul+add chains are latency-bound, so it understates the plain build's peak.
 */

/** K block: the packed A sliver (3 x KC) stays in L1 while the N panels stream past. */
const KC: i32 = 256;
/** N block: the packed B block (KC x NC floats, 512 KiB) stays in the 1 MiB L2 across the M tiles. */
const NC: i32 = 512;
/** Register tile: MR rows x NR columns (see above). */
const MR: i32 = 3;
const NR: i32 = 12;
/** Floats of `ws` f32_gemm uses: the packed A sliver, then the packed B block. */
export const GEMM_WS_FLOATS: i32 = MR * KC + 4 + KC * NC;

/** The first n (<= 0 .. >= 4) lanes at p, zeros elsewhere; never reads past lane n. */
// @ts-ignore: decorator
@inline function loadPart(p: usize, n: i32): v128 {
  if (n >= 4) return v128.load(p);
  if (n == 3) return f32x4.replace_lane(v128.load64_zero(p), 2, load<f32>(p, 8));
  if (n == 2) return v128.load64_zero(p);
  if (n == 1) return v128.load32_zero(p);
  return f32x4.splat(0);
}
/**
 * 3x12 microkernel: C[mr,nr] (+)= Apack[kc,3]ᵀ·Bpack[kc,12] (+ bias). Apack holds 3 rows per k (row r at
 * ap + 4*(3k + r)), Bpack 12 columns per k. Rows >= mr alias row mr-1 (the packer duplicates it) and are
 * stored first, so the valid row's store lands last; columns >= nr are zero in Bpack and never stored.
 * Every element is the same chain acc = madd(a_k, b_k, acc), k = 0..kc-1, from 0 or from the tile at cin
 * (C itself, or the residual input R at the same offsets; 0 = start from 0).
 */
// @ts-ignore: decorator
@inline function f32_gemm_3x12__wasmsimd_splat(kc: i32, ap: usize, bp: usize, c: usize, cs: usize, mr: i32, nr: i32, cin: usize, bias: usize): void {
  let c0 = c;
  let c1 = c0 + cs;
  if (mr <= 1) c1 = c0;
  let c2 = c1 + cs;
  if (mr <= 2) c2 = c1;
  const vzero = f32x4.splat(0);
  let vacc0x0123 = vzero, vacc0x4567 = vzero, vacc0x89AB = vzero;
  let vacc1x0123 = vzero, vacc1x4567 = vzero, vacc1x89AB = vzero;
  let vacc2x0123 = vzero, vacc2x4567 = vzero, vacc2x89AB = vzero;
  if (cin) {
    // The chain starts from the tile at cin (C itself, or the residual input), rows aliased like C's.
    const i0 = cin, i1 = mr <= 1 ? i0 : i0 + cs, i2 = mr <= 2 ? i1 : i1 + cs;
    vacc0x0123 = loadPart(i0 + 0, nr - 0); vacc0x4567 = loadPart(i0 + 16, nr - 4); vacc0x89AB = loadPart(i0 + 32, nr - 8);
    vacc1x0123 = loadPart(i1 + 0, nr - 0); vacc1x4567 = loadPart(i1 + 16, nr - 4); vacc1x89AB = loadPart(i1 + 32, nr - 8);
    vacc2x0123 = loadPart(i2 + 0, nr - 0); vacc2x4567 = loadPart(i2 + 16, nr - 4); vacc2x89AB = loadPart(i2 + 32, nr - 8);
  }
  const bend = bp + <usize>(kc * NR * 4);
  while (bp < bend) {
    const vb0123 = v128.load(bp, 0);
    const vb4567 = v128.load(bp, 16);
    const vb89AB = v128.load(bp, 32);
    const va0 = v128.load32_splat(ap, 0);
    vacc0x0123 = madd(va0, vb0123, vacc0x0123);
    vacc0x4567 = madd(va0, vb4567, vacc0x4567);
    vacc0x89AB = madd(va0, vb89AB, vacc0x89AB);
    const va1 = v128.load32_splat(ap, 4);
    vacc1x0123 = madd(va1, vb0123, vacc1x0123);
    vacc1x4567 = madd(va1, vb4567, vacc1x4567);
    vacc1x89AB = madd(va1, vb89AB, vacc1x89AB);
    const va2 = v128.load32_splat(ap, 8);
    vacc2x0123 = madd(va2, vb0123, vacc2x0123);
    vacc2x4567 = madd(va2, vb4567, vacc2x4567);
    vacc2x89AB = madd(va2, vb89AB, vacc2x89AB);
    ap += 12;
    bp += 48;
  }
  if (bias) {
    const vbias0123 = loadPart(bias + 0, nr - 0); const vbias4567 = loadPart(bias + 16, nr - 4); const vbias89AB = loadPart(bias + 32, nr - 8);
    vacc0x0123 = f32x4.add(vacc0x0123, vbias0123); vacc0x4567 = f32x4.add(vacc0x4567, vbias4567); vacc0x89AB = f32x4.add(vacc0x89AB, vbias89AB);
    vacc1x0123 = f32x4.add(vacc1x0123, vbias0123); vacc1x4567 = f32x4.add(vacc1x4567, vbias4567); vacc1x89AB = f32x4.add(vacc1x89AB, vbias89AB);
    vacc2x0123 = f32x4.add(vacc2x0123, vbias0123); vacc2x4567 = f32x4.add(vacc2x4567, vbias4567); vacc2x89AB = f32x4.add(vacc2x89AB, vbias89AB);
  }
  if (nr == 12) {
    v128.store(c2, vacc2x0123); v128.store(c2, vacc2x4567, 16); v128.store(c2, vacc2x89AB, 32);
    v128.store(c1, vacc1x0123); v128.store(c1, vacc1x4567, 16); v128.store(c1, vacc1x89AB, 32);
    v128.store(c0, vacc0x0123); v128.store(c0, vacc0x4567, 16); v128.store(c0, vacc0x89AB, 32);
  } else {
    if (nr & 8) {
      v128.store(c2, vacc2x0123); v128.store(c2, vacc2x4567, 16); vacc2x0123 = vacc2x89AB; c2 += 32;
      v128.store(c1, vacc1x0123); v128.store(c1, vacc1x4567, 16); vacc1x0123 = vacc1x89AB; c1 += 32;
      v128.store(c0, vacc0x0123); v128.store(c0, vacc0x4567, 16); vacc0x0123 = vacc0x89AB; c0 += 32;
    }
    if (nr & 4) {
      v128.store(c2, vacc2x0123); vacc2x0123 = vacc2x4567; c2 += 16;
      v128.store(c1, vacc1x0123); vacc1x0123 = vacc1x4567; c1 += 16;
      v128.store(c0, vacc0x0123); vacc0x0123 = vacc0x4567; c0 += 16;
    }
    if (nr & 2) {
      v128.store64_lane(c2, vacc2x0123, 0); vacc2x0123 = v128.shuffle<f32>(vacc2x0123, vacc2x0123, 2, 3, 2, 3); c2 += 8;
      v128.store64_lane(c1, vacc1x0123, 0); vacc1x0123 = v128.shuffle<f32>(vacc1x0123, vacc1x0123, 2, 3, 2, 3); c1 += 8;
      v128.store64_lane(c0, vacc0x0123, 0); vacc0x0123 = v128.shuffle<f32>(vacc0x0123, vacc0x0123, 2, 3, 2, 3); c0 += 8;
    }
    if (nr & 1) {
      v128.store32_lane(c2, vacc2x0123, 0);
      v128.store32_lane(c1, vacc1x0123, 0);
      v128.store32_lane(c0, vacc0x0123, 0);
    }
  }
}

/**
 * The microkernel over every 12-column panel of a packed B block (nc columns). In the relaxed build it is
 * inlined into this loop (one call per A sliver instead of one per tile: with the k loop ending on a pointer
 * compare, 3.5-4% faster GEMMs); the plain build keeps one call per tile, since its mul+add pairs need
 * temporaries and the inlined loop spilled (55 -> 43 GFLOP/s).
 */
function f32_gemm_3x12_panels(kc: i32, ap: usize, bp: usize, c: usize, cs: usize, mr: i32, nc: i32, cin: usize, bias: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr), jo = (<usize>jr) << 2, bj = bp + ((<usize>(jr * kc)) << 2);
    const cj: usize = cin ? cin + jo : 0, bb: usize = bias ? bias + jo : 0;
    if (ASC_FEATURE_RELAXED_SIMD) f32_gemm_3x12__wasmsimd_splat(kc, ap, bj, c + jo, cs, mr, nr, cj, bb);
    else f32_gemm_3x12_tile(kc, ap, bj, c + jo, cs, mr, nr, cj, bb);
  }
}

/** The microkernel as a function of its own (the plain build's per-tile call). */
function f32_gemm_3x12_tile(kc: i32, ap: usize, bp: usize, c: usize, cs: usize, mr: i32, nr: i32, cin: usize, bias: usize): void {
  f32_gemm_3x12__wasmsimd_splat(kc, ap, bp, c, cs, mr, nr, cin, bias);
}

/**
 * Pack op(B)[pc:pc+kc, jc:jc+nc] into 12-column panels: panel p holds, for each k, columns jc+12p .. +12
 * (zeros past nc), at bp + 4*(p*kc*12 + k*12 + j).
 */
function packB(bp: usize, b: usize, tB: bool, ldb: i32, pc: i32, kc: i32, jc: i32, nc: i32): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const dst = bp + ((<usize>(jr * kc)) << 2);
    if (!tB) {
      // B stored [K,N]: each k's 12 columns are contiguous.
      let src = b + ((<usize>pc * <usize>ldb + <usize>(jc + jr)) << 2);
      const sstride = (<usize>ldb) << 2;
      if (nr == NR) {
        for (let k = 0; k < kc; k++) {
          const d = dst + <usize>(k * NR * 4);
          v128.store(d, v128.load(src));
          v128.store(d, v128.load(src, 16), 16);
          v128.store(d, v128.load(src, 32), 32);
          src += sstride;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          const d = dst + <usize>(k * NR * 4);
          v128.store(d, f32x4.splat(0));
          v128.store(d, f32x4.splat(0), 16);
          v128.store(d, f32x4.splat(0), 32);
          for (let j = 0; j < nr; j++) store<f32>(d + ((<usize>j) << 2), load<f32>(src + ((<usize>j) << 2)));
          src += sstride;
        }
      }
    } else {
      // B stored [N,K]: 12 rows of K, transposed 4x4 at a time.
      const s0 = b + ((<usize>(jc + jr) * <usize>ldb + <usize>pc) << 2);
      const rs = (<usize>ldb) << 2;
      let k = 0;
      if (nr == NR) {
        for (; k + 4 <= kc; k += 4) {
          const p = s0 + ((<usize>k) << 2);
          const d = dst + <usize>(k * NR * 4);
          transpose4x4(d + 32, 48, v128.load(p + 8 * rs), v128.load(p + 9 * rs), v128.load(p + 10 * rs), v128.load(p + 11 * rs));
          transpose4x4(d, 48, v128.load(p), v128.load(p + rs), v128.load(p + 2 * rs), v128.load(p + 3 * rs));
          transpose4x4(d + 16, 48, v128.load(p + 4 * rs), v128.load(p + 5 * rs), v128.load(p + 6 * rs), v128.load(p + 7 * rs));
        }
      }
      for (; k < kc; k++) {
        const d = dst + <usize>(k * NR * 4);
        for (let j = 0; j < NR; j++) {
          const v: f32 = j < nr ? load<f32>(s0 + <usize>j * rs + ((<usize>k) << 2)) : 0;
          store<f32>(d + ((<usize>j) << 2), v);
        }
      }
    }
  }
}

/** Store the 4x4 transpose of rows r0..r3 as 4 vectors at d, d + step, d + 2 step, d + 3 step. */
// @ts-ignore: decorator
@inline function transpose4x4(d: usize, step: usize, r0: v128, r1: v128, r2: v128, r3: v128): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(d + step, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(d + 2 * step, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(d + 3 * step, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * Pack op(A)[ic:ic+mr, pc:pc+kc] as k-major slivers of MR rows: row r of step k at ap + 4*(k*MR + r).
 * Rows >= mr repeat row mr-1, so the microkernel's aliased tail rows compute exactly the valid row.
 */
function packA(ap: usize, a: usize, tA: bool, lda: i32, M: i32, ic: i32, mr: i32, pc: i32, kc: i32): void {
  if (tA) {
    // A stored [K,M]: the MR rows of step k are contiguous.
    let src = a + ((<usize>pc * <usize>lda + <usize>ic) << 2);
    const sstride = (<usize>lda) << 2;
    if (ic + 4 <= M) {
      // One f32x4 per k (its 4th lane, column ic+3 < M, is in bounds) lands its spare lane on the next k's row
      // 0, which the next store rewrites; the sliver has 4 floats of slack at its end.
      for (let k = 0; k < kc; k++) {
        v128.store(ap + <usize>(k * MR * 4), v128.load(src));
        src += sstride;
      }
    } else if (mr == MR) {
      for (let k = 0; k < kc; k++) {
        const d = ap + <usize>(k * MR * 4);
        store<f32>(d, load<f32>(src));
        store<f32>(d, load<f32>(src, 4), 4);
        store<f32>(d, load<f32>(src, 8), 8);
        src += sstride;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const d = ap + <usize>(k * MR * 4);
        for (let r = 0; r < MR; r++) store<f32>(d + ((<usize>r) << 2), load<f32>(src + ((<usize>min(r, mr - 1)) << 2)));
        src += sstride;
      }
    }
    return;
  }
  // A stored [M,K]: 3 rows of K, transposed 4 k at a time as a 4x4 with a duplicate 4th row; each 16-byte
  // store's spare lane lands on the next k's row 0 and is rewritten by the next store (4 floats of slack).
  const rs = (<usize>lda) << 2;
  const a0 = a + ((<usize>ic * <usize>lda + <usize>pc) << 2);
  const a1 = mr > 1 ? a0 + rs : a0;
  const a2 = mr > 2 ? a1 + rs : a1;
  const a3 = a2;
  let k = 0;
  for (; k + 4 <= kc; k += 4) {
    const o = (<usize>k) << 2;
    const d = ap + <usize>(k * MR * 4);
    transpose4x4(d, MR * 4, v128.load(a0 + o), v128.load(a1 + o), v128.load(a2 + o), v128.load(a3 + o));
  }
  for (; k < kc; k++) {
    const o = (<usize>k) << 2;
    const d = ap + <usize>(k * MR * 4);
    store<f32>(d, load<f32>(a0 + o));
    store<f32>(d, load<f32>(a1 + o), 4);
    store<f32>(d, load<f32>(a2 + o), 8);
  }
}

/** Epilogue codes of f32_gemm (`ep`); the GELU forms are those of activation.ts (shared lane math, gelu.ts). */
const EP_GELU: i32 = 1, EP_GELU_ERF: i32 = 2, EP_GELU_GRAD: i32 = 3, EP_GELU_ERF_GRAD: i32 = 4;

/** Store lanes [0, n) of v at p (n >= 4: all four). */
// @ts-ignore: decorator
@inline function storePart(p: usize, v: v128, n: i32): void {
  if (n >= 4) { v128.store(p, v); return; }
  if (n >= 2) { v128.store64_lane(p, v, 0); if (n == 3) v128.store32_lane(p, v, 2, 8); return; }
  v128.store32_lane(p, v, 0);
}

/**
 * The fused epilogue over a finished block of C (mr rows of n columns, rows cs bytes apart; aux at the same
 * offsets), run once per 3-row sliver right after its last K block, while it is in L1: EP_GELU[_ERF] writes
 * aux = GELU(C), EP_GELU[_ERF]_GRAD sets C = GELU'(aux)·C, formed as madd(GELU'(aux), C, 0): the expression
 * of f32_gelu_bwd into a zeroed dinp, so the fused backward gives the bits of fill + geluBackward. Every
 * element takes the f32x4 path (lanes past n are computed on zeros and never stored), which is the separate
 * kernels' path for every element when their n is a multiple of 4.
 */
function epilogue(c: usize, aux: usize, cs: usize, mr: i32, n: i32, ep: i32): void {
  for (let r = 0; r < mr; r++) {
    const cr = c + (<usize>r) * cs, xr = aux + (<usize>r) * cs;
    if (ep == EP_GELU) epiGeluTanh(cr, xr, n);
    else if (ep == EP_GELU_ERF) epiGeluErf(cr, xr, n);
    else if (ep == EP_GELU_GRAD) epiGradTanh(cr, xr, n);
    else epiGradErf(cr, xr, n);
  }
}

/** aux[0..n) = GELU(c[0..n)), two vectors per step (independent chains for the out-of-order core). */
// @ts-ignore: decorator
@inline function epiGelu(c: usize, aux: usize, n: i32, erf: bool): void {
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const o = (<usize>j) << 2;
    const v0 = v128.load(c + o), v1 = v128.load(c + o, 16);
    v128.store(aux + o, erf ? vgeluErf(v0) : vgeluTanh(v0));
    v128.store(aux + o, erf ? vgeluErf(v1) : vgeluTanh(v1), 16);
  }
  for (; j < n; j += 4) {
    const o = (<usize>j) << 2, v = loadPart(c + o, n - j);
    storePart(aux + o, erf ? vgeluErf(v) : vgeluTanh(v), n - j);
  }
}

/** c[0..n) = madd(GELU'(aux), c, 0), two vectors per step. */
// @ts-ignore: decorator
@inline function epiGeluGrad(c: usize, aux: usize, n: i32, erf: bool): void {
  const z = f32x4.splat(0);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const o = (<usize>j) << 2;
    const p0 = v128.load(aux + o), p1 = v128.load(aux + o, 16);
    const g0 = erf ? vgeluErfGrad(p0) : vgeluTanhGrad(p0), g1 = erf ? vgeluErfGrad(p1) : vgeluTanhGrad(p1);
    v128.store(c + o, madd(g0, v128.load(c + o), z));
    v128.store(c + o, madd(g1, v128.load(c + o, 16), z), 16);
  }
  for (; j < n; j += 4) {
    const o = (<usize>j) << 2, g = erf ? vgeluErfGrad(loadPart(aux + o, n - j)) : vgeluTanhGrad(loadPart(aux + o, n - j));
    storePart(c + o, madd(g, loadPart(c + o, n - j), z), n - j);
  }
}

// One compiled function per form and direction (the inlined variants in one body made V8 spill).
function epiGeluTanh(c: usize, aux: usize, n: i32): void { epiGelu(c, aux, n, false); }
function epiGeluErf(c: usize, aux: usize, n: i32): void { epiGelu(c, aux, n, true); }
function epiGradTanh(c: usize, aux: usize, n: i32): void { epiGeluGrad(c, aux, n, false); }
function epiGradErf(c: usize, aux: usize, n: i32): void { epiGeluGrad(c, aux, n, true); }

/**
 * res: with flag 4 (accumulate), the chain of each C element starts from R[i,j] at res (laid out like C, row
 * stride ldc) instead of C's old value: C = R + op(A)·op(B) (+ bias) without a copy of R into C, same bits
 * (0 = from C). ep, aux: the fused epilogue after the last K block (see `epilogue`; 0 = none).
 */
export function f32_gemm(c: usize, a: usize, b: usize, bias: usize, M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32, flags: i32, ws: usize, res: usize, ep: i32, aux: usize): void {
  if (M <= 0 || N <= 0) return;
  const tA = (flags & 1) != 0, tB = (flags & 2) != 0, acc = (flags & 4) != 0;
  if (K < 0) K = 0;
  const ap = ws;
  const bp = ws + <usize>((MR * KC + 4) * 4);
  const cs = (<usize>ldc) << 2;
  // N in equal blocks of whole panels, at most NC wide (N = 768: 2 x 384, not 512 + 256; N = 576: 2 x 288, not
  // 512 + 64 with a ragged last panel): 2-3% on those shapes. The blocking never changes a bit.
  const nblk = (N + NC - 1) / NC;
  const ncb = (((N + nblk - 1) / nblk + NR - 1) / NR) * NR;
  for (let jc = 0; jc < N; jc += ncb) {
    const nc = min(ncb, N - jc);
    let pc = 0;
    do {
      const kc = min(KC, K - pc);
      const last = pc + kc >= K;
      const vbias: usize = bias != 0 && last ? bias + ((<usize>jc) << 2) : 0;
      packB(bp, b, tB, ldb, pc, kc, jc, nc);
      for (let ic = 0; ic < M; ic += MR) {
        const mr = min(MR, M - ic);
        packA(ap, a, tA, lda, M, ic, mr, pc, kc);
        const off = (<usize>ic * <usize>ldc + <usize>jc) << 2;
        const cin: usize = pc > 0 ? c + off : acc ? (res ? res : c) + off : 0;
        f32_gemm_3x12_panels(kc, ap, bp, c + off, cs, mr, nc, cin, vbias);
        if (ep != 0 && last) epilogue(c + off, aux + off, cs, mr, nc, ep);
      }
      pc += kc;
    } while (pc < K);
  }
}
