import { ld, st, ld4, st4, hsum4 } from './ptr';
import { madd } from './simd';

// Row reductions of the LayerNorm kernels. Their order depends only on the row length C (never on N or on
// the address): lanes c mod 4 accumulate in two f32x4 accumulators (the 8-wide body alternates them, one
// 4-wide step goes to the first), the accumulators are added, the lanes summed (l0+l1)+(l2+l3), then the
// C&3 tail elements are added one by one in order.

/** sum_c x[c] over a row of C. */
// @ts-ignore: decorator
@inline function rowSum(x: usize, C: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let c = 0;
  for (; c + 8 <= C; c += 8) { a0 = f32x4.add(a0, ld4(x, c)); a1 = f32x4.add(a1, ld4(x, c + 4)); }
  if (c + 4 <= C) { a0 = f32x4.add(a0, ld4(x, c)); c += 4; }
  let s = hsum4(f32x4.add(a0, a1));
  for (; c < C; c++) s += ld(x, c);
  return s;
}

/** sum_c (x[c] - mu)^2 over a row of C. */
// @ts-ignore: decorator
@inline function rowSqDev(x: usize, mu: f32, C: i32): f32 {
  const vmu = f32x4.splat(mu);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let c = 0;
  for (; c + 8 <= C; c += 8) {
    const t0 = f32x4.sub(ld4(x, c), vmu), t1 = f32x4.sub(ld4(x, c + 4), vmu);
    a0 = madd(t0, t0, a0);
    a1 = madd(t1, t1, a1);
  }
  if (c + 4 <= C) { const t0 = f32x4.sub(ld4(x, c), vmu); a0 = madd(t0, t0, a0); c += 4; }
  let s = hsum4(f32x4.add(a0, a1));
  for (; c < C; c++) { const t = ld(x, c) - mu; s += t * t; }
  return s;
}

/**
 * LayerNorm forward (Ba et al. 2016), rows of C, eps 1e-5, biased variance, two-pass mean/variance.
 *   out [N,C] = (inp - mean) * rstd * w[C] + b[C];  mean [N], rstd [N] saved for the backward.
 * f32x4 over C; the C&3 tail is scalar. Reductions: see rowSum (order fixed by C). Matches
 * ReferenceBackend.layernormForward.
 */
export function f32_layernorm_fwd(out: usize, mean: usize, rstd: usize, inp: usize, w: usize, b: usize, N: i32, C: i32): void {
  const invC: f32 = 1 / <f32>C;
  for (let n = 0; n < N; n++) {
    const x = inp + ((<usize>(n * C)) << 2), o = out + ((<usize>(n * C)) << 2);
    const mu: f32 = rowSum(x, C) * invC;
    const v: f32 = rowSqDev(x, mu, C) * invC;
    const r: f32 = 1 / Mathf.sqrt(v + 1e-5);
    const vmu = f32x4.splat(mu), vr = f32x4.splat(r);
    let c = 0;
    for (; c + 4 <= C; c += 4) st4(o, c, madd(f32x4.mul(f32x4.sub(ld4(x, c), vmu), vr), ld4(w, c), ld4(b, c)));
    for (; c < C; c++) st(o, c, (ld(x, c) - mu) * r * ld(w, c) + ld(b, c));
    st(mean, n, mu);
    st(rstd, n, r);
  }
}

/**
 * LayerNorm backward, accumulating: with xhat = (x - mean) * rstd and dn = w * dout,
 *   dinp [N,C] += (dn - mean_c(dn) - xhat * mean_c(dn * xhat)) * rstd;  dw [C] += dout * xhat;  db [C] += dout.
 * Rows are processed in order n = 0..N-1, so dw/db accumulate deterministically. f32x4 over C with a scalar
 * C&3 tail; the two row reductions use the fixed order of rowSum. Matches ReferenceBackend.layernormBackward.
 */
export function f32_layernorm_bwd(dinp: usize, dw: usize, db: usize, dout: usize, inp: usize, w: usize, mean: usize, rstd: usize, N: i32, C: i32): void {
  const invC: f32 = 1 / <f32>C;
  for (let n = 0; n < N; n++) {
    const off = (<usize>(n * C)) << 2;
    const x = inp + off, g = dout + off, di = dinp + off;
    const mu = ld(mean, n), r = ld(rstd, n);
    const vmu = f32x4.splat(mu), vr = f32x4.splat(r);
    // Pass 1: sum dn and sum dn*xhat (same lane/tail order as rowSum).
    let m0 = f32x4.splat(0), m1 = f32x4.splat(0), x0 = f32x4.splat(0), x1 = f32x4.splat(0);
    let c = 0;
    for (; c + 8 <= C; c += 8) {
      const h0 = f32x4.mul(f32x4.sub(ld4(x, c), vmu), vr), h1 = f32x4.mul(f32x4.sub(ld4(x, c + 4), vmu), vr);
      const d0 = f32x4.mul(ld4(w, c), ld4(g, c)), d1 = f32x4.mul(ld4(w, c + 4), ld4(g, c + 4));
      m0 = f32x4.add(m0, d0); m1 = f32x4.add(m1, d1);
      x0 = madd(d0, h0, x0); x1 = madd(d1, h1, x1);
    }
    if (c + 4 <= C) {
      const h0 = f32x4.mul(f32x4.sub(ld4(x, c), vmu), vr), d0 = f32x4.mul(ld4(w, c), ld4(g, c));
      m0 = f32x4.add(m0, d0); x0 = madd(d0, h0, x0);
      c += 4;
    }
    let sm = hsum4(f32x4.add(m0, m1)), sx = hsum4(f32x4.add(x0, x1));
    for (; c < C; c++) { const h = (ld(x, c) - mu) * r, d = ld(w, c) * ld(g, c); sm += d; sx += d * h; }
    const dnMean: f32 = sm * invC, dnXhat: f32 = sx * invC;
    // Pass 2: the three accumulations.
    const vdm = f32x4.splat(dnMean), vdx = f32x4.splat(-dnXhat);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const h = f32x4.mul(f32x4.sub(ld4(x, c), vmu), vr), gv = ld4(g, c), d = f32x4.mul(ld4(w, c), gv);
      st4(db, c, f32x4.add(ld4(db, c), gv));
      st4(dw, c, madd(gv, h, ld4(dw, c)));
      // (dn - dnMean - xhat*dnXhat) * rstd
      st4(di, c, madd(madd(h, vdx, f32x4.sub(d, vdm)), vr, ld4(di, c)));
    }
    for (; c < C; c++) {
      const h = (ld(x, c) - mu) * r, gv = ld(g, c), d = ld(w, c) * gv;
      st(db, c, ld(db, c) + gv);
      st(dw, c, ld(dw, c) + gv * h);
      st(di, c, ld(di, c) + (d - dnMean - h * dnXhat) * r);
    }
  }
}
