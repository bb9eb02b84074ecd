import { GRID, WG } from './common.ts';
import type { KernelSource } from './common.ts';

/** An elementwise kernel: `body` runs for every i < p.n (grid-stride loop, 256 threads a workgroup). */
function ew(name: string, params: string, body: string): KernelSource {
  return {
    name,
    params,
    code: /* wgsl */ `
@compute @workgroup_size(${WG})
fn main(${GRID}) {
  for (var i = gid.x; i < p.n; i += nwg.x * ${WG}u) {
    ${body}
  }
}`,
  };
}

/** A per-column kernel: one thread per column c < p.C sums over rows in order (deterministic). */
function cols(name: string, params: string, body: string): KernelSource {
  return {
    name,
    params,
    code: /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  ${body}
}`,
  };
}

/** out = a + b (out may alias a or b: each element is read before it is written by the same thread). */
export const ADD = ew('add', 'o a b n', 'm[p.o + i] = m[p.a + i] + m[p.b + i];');
/** dst += src. */
export const ACCUMULATE = ew('accumulate', 'dst src n', 'm[p.dst + i] = m[p.dst + i] + m[p.src + i];');
/** x *= s. */
export const SCALE = ew('scale', 'x n s:f', 'm[p.x + i] = m[p.x + i] * p.s;');
/** x = v (v travels as f32 bits, so NaN fills work). */
export const FILL = ew('fill', 'x n v:f', 'm[p.x + i] = p.v;');
/** dst = src (non-overlapping). */
export const COPY = ew('copy', 'dst src n', 'm[p.dst + i] = m[p.src + i];');
/** out [N,C] += bias [C]; n = N*C. */
export const BIAS_ADD = ew('bias_add', 'o bias C n', 'm[p.o + i] = m[p.o + i] + m[p.bias + i % p.C];');
/** Rows of x [N,C] with mask 0 set to exactly 0; n = N*C. */
export const MASK_ROWS = ew('mask_rows', 'x mask C n', 'if (m[p.mask + i / p.C] == 0.0) { m[p.x + i] = 0.0; }');
/** Row r of an index buffer at `rows` (0: the identity, row r). Index buffers hold exact integers as floats. */
const ROW = (rows: string, r: string) => `select(${r}, u32(m[${rows} + ${r}]), ${rows} != 0u)`;
/** Modality tokens into their sequences: out row outRows[b] + j = inp row b*T + j * sc + sh; n = B*T*C. */
export const AFFINE_SCATTER_FWD = ew(
  'affine_scatter_fwd',
  'o orow inp sc sh T C n',
  `let c = i % p.C; let q = i / p.C; let b = q / p.T;
    let r0 = select(b * p.T, u32(m[p.orow + b]), p.orow != 0u);
    m[p.o + (r0 + q % p.T) * p.C + c] = m[p.inp + i] * m[p.sc + c] + m[p.sh + c];`,
);
/** dinp [B*T,C] += dout row (doutRows[b] + j) * scale[C]; n = B*T*C. */
export const AFFINE_SCATTER_BWD_X = ew(
  'affine_scatter_bwd_x',
  'dinp dout drow sc T C n',
  `let c = i % p.C; let q = i / p.C; let b = q / p.T;
    let r0 = select(b * p.T, u32(m[p.drow + b]), p.drow != 0u);
    m[p.dinp + i] = m[p.dinp + i] + m[p.dout + (r0 + q % p.T) * p.C + c] * m[p.sc + c];`,
);
/** Row gather/scatter/broadcast: dst row dstRows[r] = src row srcRows[r]; n = N*C. */
export const COPY_ROWS = ew(
  'copy_rows',
  'dst dr src sr C n',
  `let r = i / p.C; let c = i % p.C;
    m[p.dst + ${ROW('p.dr', 'r')} * p.C + c] = m[p.src + ${ROW('p.sr', 'r')} * p.C + c];`,
);
/** out [N,F,d] = x[N,F] * w[F,d] + b[F,d]; n = N*F*d. */
export const NUMTOK_FWD = ew(
  'numtok_fwd',
  'o x w b F d n',
  'let e = i % p.d; let nf = i / p.d; let fe = (nf % p.F) * p.d + e; m[p.o + i] = m[p.x + nf] * m[p.w + fe] + m[p.b + fe];',
);
/** A batch's feature tokens [B,Fn+Fc,d]: numeric x*numW + numB, categorical embed[catRows] + catB; n = B*(Fn+Fc)*d. */
export const FEATURE_TOKENS_FWD = ew(
  'feature_tokens_fwd',
  'o x cr nw nb em cb Fn Fc d n',
  `let e = i % p.d; let q = i / p.d; let Ft = p.Fn + p.Fc; let f = q % Ft; let b = q / Ft;
    if (f < p.Fn) { m[p.o + i] = m[p.x + b * p.Fn + f] * m[p.nw + f * p.d + e] + m[p.nb + f * p.d + e]; }
    else { let j = f - p.Fn; m[p.o + i] = m[p.em + u32(m[p.cr + b * p.Fc + j]) * p.d + e] + m[p.cb + j * p.d + e]; }`,
);
/** ViT patches: out [B,G*G,P*P] from img [B,S,S], G = S/P; n = B*S*S. */
export const PATCHIFY = ew(
  'patchify',
  'o img S P n',
  `let G = p.S / p.P; let PP = p.P * p.P;
    let x = i % p.P; let y = (i / p.P) % p.P; let g = i / PP; let gx = g % G; let gy = (g / G) % G; let b = g / (G * G);
    m[p.o + i] = m[p.img + b * p.S * p.S + (gy * p.P + y) * p.S + gx * p.P + x];`,
);
/** dst[i] = sum over b < count of src0[b*stride + i], b in order. */
export const SUM_BUFFERS = ew(
  'sum_buffers',
  'dst src0 stride count n',
  'var s = 0.0; for (var b = 0u; b < p.count; b++) { s += m[p.src0 + b * p.stride + i]; } m[p.dst + i] = s;',
);
/** AdamW (decoupled weight decay), bias corrections bc1 = 1-b1^t, bc2 = 1-b2^t computed on the host. */
export const ADAMW = ew(
  'adamw',
  'pp g mm vv n lr:f b1:f b2:f eps:f wd:f bc1:f bc2:f',
  `let gi = m[p.g + i];
    let mi = p.b1 * m[p.mm + i] + (1.0 - p.b1) * gi;
    let vi = p.b2 * m[p.vv + i] + (1.0 - p.b2) * gi * gi;
    m[p.mm + i] = mi; m[p.vv + i] = vi;
    let w = m[p.pp + i];
    m[p.pp + i] = w - p.lr * (mi / p.bc1 / (sqrt(vi / p.bc2) + p.eps) + p.wd * w);`,
);

/** dbias [C] += column sums of dout [N,C]. */
export const BIAS_GRAD = cols('bias_grad', 'db dout N C', `var s = 0.0;
  for (var n = 0u; n < p.N; n++) { s += m[p.dout + n * p.C + c]; }
  m[p.db + c] = m[p.db + c] + s;`);
/** dscale, dshift [C] += per sample b in order, its sums over j < T of dout row (doutRows[b] + j) (times inp). */
export const AFFINE_SCATTER_BWD_W = cols('affine_scatter_bwd_w', 'dsc dsh dout drow inp B T C', `var k = m[p.dsc + c]; var h = m[p.dsh + c];
  for (var b = 0u; b < p.B; b++) {
    let r0 = select(b * p.T, u32(m[p.drow + b]), p.drow != 0u);
    var s1 = 0.0; var s2 = 0.0;
    for (var j = 0u; j < p.T; j++) { let g = m[p.dout + (r0 + j) * p.C + c]; s1 += g * m[p.inp + (b * p.T + j) * p.C + c]; s2 += g; }
    k += s1; h += s2;
  }
  m[p.dsc + c] = k;
  m[p.dsh + c] = h;`);
/** dst [C] += src row srcRows[i] for i = 0..N-1, one add per row in order. */
export const ACC_ROWS = cols('acc_rows', 'dst src sr N C', `var a = m[p.dst + c];
  for (var i = 0u; i < p.N; i++) { a += m[p.src + ${ROW('p.sr', 'i')} * p.C + c]; }
  m[p.dst + c] = a;`);
/** Feature tokens backward, numeric part: columns (f, e) of [Fn,d], samples in order, one add each. C = Fn*d. */
export const FEATURE_TOKENS_BWD_NUM = cols('feature_tokens_bwd_num', 'dw db dt x B Fn Fc d C', `let f = c / p.d; let e = c % p.d;
  var k = m[p.dw + c]; var h = m[p.db + c];
  for (var b = 0u; b < p.B; b++) { let g = m[p.dt + (b * (p.Fn + p.Fc) + f) * p.d + e]; k += g * m[p.x + b * p.Fn + f]; h += g; }
  m[p.dw + c] = k;
  m[p.db + c] = h;`);
/**
 * Feature tokens backward, categorical part: columns (j, e) of [Fc,d], samples in order; present tokens add
 * their gradient to their embedding row and to catB. Features own disjoint embedding rows, so no two threads
 * write the same element. C = Fc*d.
 */
export const FEATURE_TOKENS_BWD_CAT = cols('feature_tokens_bwd_cat', 'dem dcb dt cr pr B Fn Fc d C', `let j = c / p.d; let e = c % p.d; let Ft = p.Fn + p.Fc;
  var h = m[p.dcb + c];
  for (var b = 0u; b < p.B; b++) {
    if (m[p.pr + b * Ft + p.Fn + j] == 0.0) { continue; }
    let g = m[p.dt + (b * Ft + p.Fn + j) * p.d + e];
    let r = p.dem + u32(m[p.cr + b * p.Fc + j]) * p.d + e;
    m[r] = m[r] + g;
    h += g;
  }
  m[p.dcb + c] = h;`);
/** Numeric tokens backward, columns (f, e) of [F,d]: dw += sum_n dout[n,f,e] x[n,f]; db += sum_n dout. C = F*d. */
export const NUMTOK_BWD = cols('numtok_bwd', 'dw db dout x N F C', `let f = c / (p.C / p.F);
  var s1 = 0.0; var s2 = 0.0;
  for (var n = 0u; n < p.N; n++) { let g = m[p.dout + n * p.C + c]; s1 += g * m[p.x + n * p.F + f]; s2 += g; }
  m[p.dw + c] = m[p.dw + c] + s1;
  m[p.db + c] = m[p.db + c] + s2;`);
