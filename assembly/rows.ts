import { ld } from './ptr';

// Row gathers and scatters: the model's per-sample row moves (the CLS token into every sequence, the CLS
// rows out of the fusion output and their gradients back) as one call per batch. Row indices live in the
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
