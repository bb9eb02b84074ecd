import { ld, st } from './ptr';

/** LayerNorm forward over rows (eps 1e-5, biased variance); matches ReferenceBackend.layernormForward. */
export function f32_layernorm_fwd(out: usize, mean: usize, rstd: usize, inp: usize, w: usize, b: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const x = inp + ((<usize>(n * C)) << 2), o = out + ((<usize>(n * C)) << 2);
    let mu: f32 = 0;
    for (let c = 0; c < C; c++) mu += ld(x, c);
    mu /= <f32>C;
    let v: f32 = 0;
    for (let c = 0; c < C; c++) { const t = ld(x, c) - mu; v += t * t; }
    v /= <f32>C;
    const r: f32 = 1 / Mathf.sqrt(v + 1e-5);
    for (let c = 0; c < C; c++) st(o, c, (ld(x, c) - mu) * r * ld(w, c) + ld(b, c));
    st(mean, n, mu);
    st(rstd, n, r);
  }
}

/** LayerNorm backward, accumulating dinp, dw, db; matches ReferenceBackend.layernormBackward. */
export function f32_layernorm_bwd(dinp: usize, dw: usize, db: usize, dout: usize, inp: usize, w: usize, mean: usize, rstd: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const x = inp + ((<usize>(n * C)) << 2), g = dout + ((<usize>(n * C)) << 2), di = dinp + ((<usize>(n * C)) << 2);
    const mu = ld(mean, n), r = ld(rstd, n);
    let dnMean: f32 = 0, dnXhat: f32 = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (ld(x, c) - mu) * r, dn = ld(w, c) * ld(g, c);
      dnMean += dn;
      dnXhat += dn * xhat;
    }
    dnMean /= <f32>C;
    dnXhat /= <f32>C;
    for (let c = 0; c < C; c++) {
      const xhat = (ld(x, c) - mu) * r, gv = ld(g, c), dn = ld(w, c) * gv;
      st(db, c, ld(db, c) + gv);
      st(dw, c, ld(dw, c) + gv * xhat);
      st(di, c, ld(di, c) + (dn - dnMean - xhat * dnXhat) * r);
    }
  }
}
