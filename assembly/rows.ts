import { ld } from './ptr';
import { f32_acc, f32_add, f32_numtok_bwd, f32_numtok_fwd } from './elementwise';

// Row gathers and scatters: the model's per-sample row moves (the CLS token into every sequence, the CLS
// rows out of the fusion output and their gradients back, the categorical embedding lookups) as one call
// per batch. Row indices live in the
// arena as floats holding exact integers (the arena is float; rows stay far below 2^24); an index pointer
// of 0 means the identity, row i.

/**
 * Indexed row copy: dst row dstRows[i] = src row srcRows[i], C floats each, for i < N (dstRows 0: row i; srcRows
 * 0: row i). A gather (dstRows 0), a scatter (srcRows 0) or a broadcast (srcRows all 0) in one kernel. Each row
 * is one bulk-memory copy: exact, so any order gives the same bits. Destination rows must not overlap source
 * rows. Matches ReferenceBackend.copyRows.
 */
export function f32_copy_rows(dst: usize, dstRows: usize, src: usize, srcRows: usize, N: i32, C: i32): void {
  const rb = (<usize>C) << 2;
  for (let i = 0; i < N; i++) {
    const d = dstRows ? <i32>ld(dstRows, i) : i, s = srcRows ? <i32>ld(srcRows, i) : i;
    memory.copy(dst + (<usize>d) * rb, src + (<usize>s) * rb, rb);
  }
}

/**
 * Gathered row sum into one row: dst [C] += src row srcRows[i] for i = 0..N-1, one add per row in that order
 * (not a column sum added once): the bits of N `f32_acc` calls, which is what a per-sample gradient
 * accumulation (the CLS token's) gave. f32x4 over C, C&3 tail scalar. Matches ReferenceBackend.accumulateRows.
 */
export function f32_acc_rows(dst: usize, src: usize, srcRows: usize, N: i32, C: i32): void {
  const rb = (<usize>C) << 2;
  for (let i = 0; i < N; i++) {
    const s = src + (<usize>(srcRows ? <i32>ld(srcRows, i) : i)) * rb;
    let c = 0;
    for (; c + 4 <= C; c += 4) v128.store(dst + ((<usize>c) << 2), f32x4.add(v128.load(dst + ((<usize>c) << 2)), v128.load(s + ((<usize>c) << 2))));
    for (; c < C; c++) store<f32>(dst + ((<usize>c) << 2), load<f32>(dst + ((<usize>c) << 2)) + load<f32>(s + ((<usize>c) << 2)));
  }
}

/**
 * FT-Transformer feature tokens of a batch in one call (Gorishniy et al. 2021): tok [B, Fn+Fc, d], per sample b
 *   numeric f < Fn:      tok[b,f]    = x[b,f] * numW[f] + numB[f]                (f32_numtok_fwd, one madd per lane)
 *   categorical j < Fc:  tok[b,Fn+j] = embed[catRows[b,j]] + catB[j]             (f32_add)
 * catRows [B,Fc] are embedding-table rows (the feature's offset + its code) as floats. Every element is the
 * op of the per-sample form, so the bits are those of B per-sample calls. Matches
 * ReferenceBackend.featureTokensForward.
 */
export function f32_feature_tokens_fwd(tok: usize, x: usize, catRows: usize, numW: usize, numB: usize, embed: usize, catB: usize, B: i32, Fn: i32, Fc: i32, d: i32): void {
  const Ft = Fn + Fc, rb = (<usize>d) << 2;
  for (let b = 0; b < B; b++) {
    const t = tok + (<usize>(b * Ft)) * rb;
    if (Fn > 0) f32_numtok_fwd(t, x + ((<usize>(b * Fn)) << 2), numW, numB, 1, Fn, d);
    for (let j = 0; j < Fc; j++) {
      f32_add(t + (<usize>(Fn + j)) * rb, embed + (<usize>(<i32>ld(catRows, b * Fc + j))) * rb, catB + (<usize>j) * rb, d);
    }
  }
}

/**
 * Backward of f32_feature_tokens_fwd, accumulating, per sample b in order: the numeric tokens' dnumW, dnumB
 * [Fn,d] += (f32_numtok_bwd over that one sample), then for each categorical j whose token is present
 * (present [B, Fn+Fc], the token mask: absent codes are skipped) dembed row catRows[b,j] += dtok[b,Fn+j] and
 * dcatB[j] += dtok[b,Fn+j] (f32_acc). The order, and so the bits, of the per-sample loop it replaces.
 * Matches ReferenceBackend.featureTokensBackward.
 */
export function f32_feature_tokens_bwd(dnumW: usize, dnumB: usize, dembed: usize, dcatB: usize, dtok: usize, x: usize, catRows: usize, present: usize, B: i32, Fn: i32, Fc: i32, d: i32): void {
  const Ft = Fn + Fc, rb = (<usize>d) << 2;
  for (let b = 0; b < B; b++) {
    const t = dtok + (<usize>(b * Ft)) * rb;
    if (Fn > 0) f32_numtok_bwd(dnumW, dnumB, t, x + ((<usize>(b * Fn)) << 2), 1, Fn, d);
    for (let j = 0; j < Fc; j++) {
      if (ld(present, b * Ft + Fn + j) == 0) continue;
      const g = t + (<usize>(Fn + j)) * rb;
      f32_acc(dembed + (<usize>(<i32>ld(catRows, b * Fc + j))) * rb, g, d);
      f32_acc(dcatB + (<usize>j) * rb, g, d);
    }
  }
}
