/**
 * Masked multi-head attention over packed qkv [B,T,3d]; see src/engine/types.ts for the contract.
 * Naive placeholder (to be replaced by the SIMD kernel); matches ReferenceBackend.attention*.
 */
// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize { return p + ((<usize>i) << 2); }

export function f32_attention_fwd(out: usize, att: usize, qkv: usize, mask: usize, B: i32, T: i32, d: i32, H: i32, ws: usize): void {
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

export function f32_attention_bwd(dqkv: usize, dout: usize, qkv: usize, att: usize, mask: usize, B: i32, T: i32, d: i32, H: i32, ws: usize): void {
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
