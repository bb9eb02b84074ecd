/** Every WGSL kernel of the WebGPU backend, by pipeline name. */
export { wgsl, paramKinds, WG } from './common.ts';
export type { KernelSource } from './common.ts';
import type { KernelSource } from './common.ts';
import { GEMM } from './gemm.ts';
import { ATTENTION_FWD, ATTENTION_BWD_Q, ATTENTION_BWD_KV } from './attention.ts';
import { LAYERNORM_FWD, LAYERNORM_BWD_X, LAYERNORM_BWD_W } from './norm.ts';
import { GELU_FWD, GELU_BWD, GELU_ERF_FWD, GELU_ERF_BWD } from './activation.ts';
import * as E from './elementwise.ts';
import { SUMSQ_PARTIAL, SUMSQ_FINAL, BCE_LOGITS } from './reduce.ts';
export { ATT_MAX_T, ATT_MAX_HD } from './attention.ts';

export const KERNELS: readonly KernelSource[] = [
  GEMM, ATTENTION_FWD, ATTENTION_BWD_Q, ATTENTION_BWD_KV, LAYERNORM_FWD, LAYERNORM_BWD_X, LAYERNORM_BWD_W,
  GELU_FWD, GELU_BWD, GELU_ERF_FWD, GELU_ERF_BWD, E.ADD, E.ACCUMULATE, E.SCALE, E.FILL, E.COPY, E.BIAS_ADD,
  E.MASK_ROWS, E.AFFINE_SCATTER_FWD, E.AFFINE_SCATTER_BWD_X, E.COPY_ROWS, E.NUMTOK_FWD, E.FEATURE_TOKENS_FWD, E.PATCHIFY, E.SUM_BUFFERS, E.ADAMW, E.BIAS_GRAD,
  E.AFFINE_SCATTER_BWD_W, E.ACC_ROWS, E.NUMTOK_BWD, E.FEATURE_TOKENS_BWD_NUM, E.FEATURE_TOKENS_BWD_CAT, SUMSQ_PARTIAL, SUMSQ_FINAL, BCE_LOGITS,
];
