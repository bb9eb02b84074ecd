/**
 * The WebAssembly backend without any Node.js API, so the same class runs in Node, a browser, a Web Worker
 * or an edge runtime: give it a compiled module of one of the two builds. src/engine/wasm.ts adds the
 * Node loader (files, the relaxed-SIMD flag, build selection).
 */
import { Arena } from './arena.ts';
import type { GemmOptions, Ptr, SyncBackend } from './types.ts';

/** The exports of build/engine.*.wasm: byte pointers (i32) and i32 dimensions, see assembly/. */
export interface WasmExports {
  f32_peak_madd(iters: number): number;
  f32_peak_mul_add(iters: number): number;
  f32_peak_madd_rt(iters: number): number;
  f32_peak_mul_add_rt(iters: number): number;
  f32_gemm(c: number, a: number, b: number, bias: number, M: number, N: number, K: number, lda: number, ldb: number, ldc: number, flags: number, ws: number, res: number, ep: number, aux: number): void;
  f32_attention_fwd(out: number, att: number, qkv: number, mask: number, B: number, T: number, d: number, H: number, ws: number): void;
  f32_attention_bwd(dqkv: number, dout: number, qkv: number, att: number, mask: number, B: number, T: number, d: number, H: number, ws: number): void;
  f32_layernorm_fwd(out: number, mean: number, rstd: number, inp: number, w: number, b: number, N: number, C: number): void;
  f32_layernorm_bwd(dinp: number, dw: number, db: number, dout: number, inp: number, w: number, mean: number, rstd: number, N: number, C: number): void;
  f32_gelu_fwd(out: number, inp: number, n: number): void;
  f32_gelu_bwd(dinp: number, inp: number, dout: number, n: number): void;
  f32_gelu_erf_fwd(out: number, inp: number, n: number): void;
  f32_gelu_erf_bwd(dinp: number, inp: number, dout: number, n: number): void;
  f32_add(out: number, a: number, b: number, n: number): void;
  f32_acc(dst: number, src: number, n: number): void;
  f32_scale(x: number, n: number, s: number): void;
  f32_fill(x: number, n: number, v: number): void;
  f32_copy(dst: number, src: number, n: number): void;
  f32_bias_add(out: number, bias: number, N: number, C: number): void;
  f32_bias_grad(dbias: number, dout: number, N: number, C: number): void;
  f32_sumsq(out: number, x: number, n: number): void;
  f32_sum_buffers(dst: number, src0: number, stride: number, count: number, n: number): void;
  f32_mask_rows(x: number, mask: number, N: number, C: number): void;
  f32_copy_rows(dst: number, dstRows: number, src: number, srcRows: number, N: number, C: number): void;
  f32_acc_rows(dst: number, src: number, srcRows: number, N: number, C: number): void;
  f32_affine_scatter_fwd(out: number, outRows: number, inp: number, scale: number, shift: number, B: number, T: number, C: number): void;
  f32_affine_scatter_bwd(dinp: number, dscale: number, dshift: number, dout: number, doutRows: number, inp: number, scale: number, B: number, T: number, C: number): void;
  f32_numtok_fwd(out: number, x: number, w: number, b: number, N: number, F: number, d: number): void;
  f32_numtok_bwd(dw: number, db: number, dout: number, x: number, N: number, F: number, d: number): void;
  f32_feature_tokens_fwd(tok: number, x: number, catRows: number, numW: number, numB: number, embed: number, catB: number, B: number, Fn: number, Fc: number, d: number): void;
  f32_feature_tokens_bwd(dnumW: number, dnumB: number, dembed: number, dcatB: number, dtok: number, x: number, catRows: number, present: number, B: number, Fn: number, Fc: number, d: number): void;
  f32_patchify(out: number, img: number, B: number, S: number, P: number): void;
  f32_bce_logits(out: number, dlogits: number, logits: number, targets: number, weights: number, n: number, gradScale: number): void;
  f32_adamw(p: number, g: number, m: number, v: number, n: number, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number): void;
}

/** 'relaxed': relaxed SIMD with fused multiply-add; 'simd': plain 128-bit SIMD. */
export type WasmBuild = 'relaxed' | 'simd';

/** Floats of scratch every kernel may use through its `ws` argument (packing panels, attention rows). */
export const WORKSPACE_FLOATS = 1 << 21;
const PAGE = 65536;
/** First arena byte: the module's own static data (the stub runtime has next to none) lives below. */
const ARENA_BASE_BYTES = PAGE;

/**
 * The WebAssembly backend: one linear memory holds the whole arena (Float32). Wrappers turn element
 * offsets into byte pointers, check shapes cheaply and short-circuit empty work.
 */
export class WasmCoreBackend implements SyncBackend {
  readonly name: string;
  readonly precision = 'f32' as const;
  readonly synchronous = true as const;
  readonly memory: WebAssembly.Memory;
  readonly x: WasmExports;
  private arena: Arena;
  private f32: Float32Array;
  /** Byte pointer of the kernels' scratch region. */
  private ws: number;

  constructor(module: WebAssembly.Module, readonly build: WasmBuild, initialBytes = 16 << 20) {
    this.name = build === 'relaxed' ? 'wasm-relaxed-simd' : 'wasm-simd';
    const pages = Math.ceil(initialBytes / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
    const inst = new WebAssembly.Instance(module, {
      env: {
        memory: this.memory,
        abort: (_m: number, _f: number, line: number, col: number) => {
          throw new Error(`wasm abort at ${line}:${col}`);
        },
      },
    });
    this.x = inst.exports as unknown as WasmExports;
    this.f32 = new Float32Array(this.memory.buffer);
    this.arena = new Arena(ARENA_BASE_BYTES / 4, (end) => this.ensure(end));
    this.ws = this.arena.alloc(WORKSPACE_FLOATS) * 4;
  }

  private ensure(endElement: number): void {
    const need = endElement * 4;
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      // Grow at least geometrically so a sequence of small allocs does not grow page by page.
      const pages = Math.max(Math.ceil((need - have) / PAGE), Math.ceil(have / PAGE / 2));
      this.memory.grow(Math.min(pages, 65536 - have / PAGE));
      if (this.memory.buffer.byteLength < need) throw new Error(`wasm arena: cannot grow to ${need} bytes`);
    }
    if (this.f32.buffer !== this.memory.buffer) this.f32 = new Float32Array(this.memory.buffer);
  }
  private get heap(): Float32Array {
    if (this.f32.buffer !== this.memory.buffer) this.f32 = new Float32Array(this.memory.buffer);
    return this.f32;
  }

  reserve(n: number): void { this.arena.reserve(n); }
  alloc(n: number): Ptr { return this.arena.alloc(n); }
  mark(): number { return this.arena.mark(); }
  release(mark: number): void { this.arena.release(mark); }
  view(p: Ptr, n: number): Float32Array { return this.heap.subarray(p, p + n); }
  write(p: Ptr, src: ArrayLike<number>): void { this.heap.set(src, p); }
  readSync(p: Ptr, n: number): Float64Array { return Float64Array.from(this.heap.subarray(p, p + n)); }
  /** A scalar slot holds the f64 the kernel accumulated (see SCALAR_FLOATS). */
  readScalarSync(p: Ptr): number { return new Float64Array(this.memory.buffer, p * 4, 1)[0]; }
  async read(p: Ptr, n: number): Promise<Float32Array> { return this.heap.slice(p, p + n); }
  async readScalar(p: Ptr): Promise<number> { return this.readScalarSync(p); }

  gemm(c: Ptr, a: Ptr, b: Ptr, bias: Ptr, M: number, N: number, K: number, o: GemmOptions = {}): void {
    if (M === 0 || N === 0) return;
    const tA = !!o.transA, tB = !!o.transB;
    const lda = o.lda ?? (tA ? M : K), ldb = o.ldb ?? (tB ? K : N), ldc = o.ldc ?? N;
    const flags = (tA ? 1 : 0) | (tB ? 2 : 0) | (o.accumulate ? 4 : 0);
    const res = o.accumulate && o.residual ? o.residual * 4 : 0;
    const e = o.epilogue;
    // epilogue codes of assembly/gemm.ts: 1 gelu, 2 gelu erf, 3 gelu grad, 4 gelu erf grad
    const ep = !e ? 0 : (e.op === 'gelu' ? 1 : 3) + (e.form === 'erf' ? 1 : 0);
    const aux = !e ? 0 : (e.op === 'gelu' ? e.out : e.pre) * 4;
    this.x.f32_gemm(c * 4, a * 4, b * 4, bias * 4, M, N, K, lda, ldb, ldc, flags, this.ws, res, ep, aux);
  }
  attentionForward(out: Ptr, att: Ptr, qkv: Ptr, mask: Ptr, B: number, T: number, d: number, H: number): void {
    if (d % H !== 0) throw new Error(`attention: d=${d} is not a multiple of heads=${H}`);
    if (B === 0 || T === 0) return;
    this.x.f32_attention_fwd(out * 4, att * 4, qkv * 4, mask * 4, B, T, d, H, this.ws);
  }
  attentionBackward(dqkv: Ptr, dout: Ptr, qkv: Ptr, att: Ptr, mask: Ptr, B: number, T: number, d: number, H: number): void {
    if (d % H !== 0) throw new Error(`attention: d=${d} is not a multiple of heads=${H}`);
    if (B === 0 || T === 0) return;
    this.x.f32_attention_bwd(dqkv * 4, dout * 4, qkv * 4, att * 4, mask * 4, B, T, d, H, this.ws);
  }
  layernormForward(out: Ptr, mean: Ptr, rstd: Ptr, inp: Ptr, weight: Ptr, bias: Ptr, N: number, C: number): void {
    this.x.f32_layernorm_fwd(out * 4, mean * 4, rstd * 4, inp * 4, weight * 4, bias * 4, N, C);
  }
  layernormBackward(dinp: Ptr, dweight: Ptr, dbias: Ptr, dout: Ptr, inp: Ptr, weight: Ptr, mean: Ptr, rstd: Ptr, N: number, C: number): void {
    this.x.f32_layernorm_bwd(dinp * 4, dweight * 4, dbias * 4, dout * 4, inp * 4, weight * 4, mean * 4, rstd * 4, N, C);
  }
  geluForward(out: Ptr, inp: Ptr, n: number): void { this.x.f32_gelu_fwd(out * 4, inp * 4, n); }
  geluBackward(dinp: Ptr, inp: Ptr, dout: Ptr, n: number): void { this.x.f32_gelu_bwd(dinp * 4, inp * 4, dout * 4, n); }
  geluErfForward(out: Ptr, inp: Ptr, n: number): void { this.x.f32_gelu_erf_fwd(out * 4, inp * 4, n); }
  geluErfBackward(dinp: Ptr, inp: Ptr, dout: Ptr, n: number): void { this.x.f32_gelu_erf_bwd(dinp * 4, inp * 4, dout * 4, n); }
  add(out: Ptr, a: Ptr, b: Ptr, n: number): void { this.x.f32_add(out * 4, a * 4, b * 4, n); }
  accumulate(dst: Ptr, src: Ptr, n: number): void { this.x.f32_acc(dst * 4, src * 4, n); }
  scale(x: Ptr, n: number, s: number): void { this.x.f32_scale(x * 4, n, s); }
  fill(x: Ptr, n: number, v: number): void { this.x.f32_fill(x * 4, n, v); }
  copy(dst: Ptr, src: Ptr, n: number): void { this.x.f32_copy(dst * 4, src * 4, n); }
  biasAdd(out: Ptr, bias: Ptr, N: number, C: number): void { this.x.f32_bias_add(out * 4, bias * 4, N, C); }
  biasGrad(dbias: Ptr, dout: Ptr, N: number, C: number): void { this.x.f32_bias_grad(dbias * 4, dout * 4, N, C); }
  sumSquaresTo(out: Ptr, x: Ptr, n: number): void { this.x.f32_sumsq(out * 4, x * 4, n); }
  sumBuffers(dst: Ptr, src0: Ptr, stride: number, count: number, n: number): void {
    this.x.f32_sum_buffers(dst * 4, src0 * 4, stride, count, n);
  }
  maskRows(x: Ptr, mask: Ptr, N: number, C: number): void { this.x.f32_mask_rows(x * 4, mask * 4, N, C); }
  copyRows(dst: Ptr, dstRows: Ptr, src: Ptr, srcRows: Ptr, N: number, C: number): void {
    this.x.f32_copy_rows(dst * 4, dstRows * 4, src * 4, srcRows * 4, N, C);
  }
  accumulateRows(dst: Ptr, src: Ptr, srcRows: Ptr, N: number, C: number): void {
    this.x.f32_acc_rows(dst * 4, src * 4, srcRows * 4, N, C);
  }
  affineScatterForward(out: Ptr, outRows: Ptr, inp: Ptr, scale: Ptr, shift: Ptr, B: number, T: number, C: number): void {
    this.x.f32_affine_scatter_fwd(out * 4, outRows * 4, inp * 4, scale * 4, shift * 4, B, T, C);
  }
  affineScatterBackward(dinp: Ptr, dscale: Ptr, dshift: Ptr, dout: Ptr, doutRows: Ptr, inp: Ptr, scale: Ptr, B: number, T: number, C: number): void {
    this.x.f32_affine_scatter_bwd(dinp * 4, dscale * 4, dshift * 4, dout * 4, doutRows * 4, inp * 4, scale * 4, B, T, C);
  }
  numTokensForward(out: Ptr, x: Ptr, weight: Ptr, bias: Ptr, N: number, F: number, d: number): void {
    this.x.f32_numtok_fwd(out * 4, x * 4, weight * 4, bias * 4, N, F, d);
  }
  numTokensBackward(dweight: Ptr, dbias: Ptr, dout: Ptr, x: Ptr, N: number, F: number, d: number): void {
    this.x.f32_numtok_bwd(dweight * 4, dbias * 4, dout * 4, x * 4, N, F, d);
  }
  featureTokensForward(tok: Ptr, x: Ptr, catRows: Ptr, numW: Ptr, numB: Ptr, embed: Ptr, catB: Ptr, B: number, Fn: number, Fc: number, d: number): void {
    this.x.f32_feature_tokens_fwd(tok * 4, x * 4, catRows * 4, numW * 4, numB * 4, embed * 4, catB * 4, B, Fn, Fc, d);
  }
  featureTokensBackward(dnumW: Ptr, dnumB: Ptr, dembed: Ptr, dcatB: Ptr, dtok: Ptr, x: Ptr, catRows: Ptr, present: Ptr, B: number, Fn: number, Fc: number, d: number): void {
    this.x.f32_feature_tokens_bwd(dnumW * 4, dnumB * 4, dembed * 4, dcatB * 4, dtok * 4, x * 4, catRows * 4, present * 4, B, Fn, Fc, d);
  }
  patchify(out: Ptr, img: Ptr, B: number, S: number, P: number): void {
    if (S % P !== 0) throw new Error(`patchify: image size ${S} is not a multiple of patch ${P}`);
    this.x.f32_patchify(out * 4, img * 4, B, S, P);
  }
  bceLogitsTo(out: Ptr, dlogits: Ptr, logits: Ptr, targets: Ptr, weights: Ptr, n: number, gradScale: number): void {
    this.x.f32_bce_logits(out * 4, dlogits * 4, logits * 4, targets * 4, weights * 4, n, gradScale);
  }
  adamw(p: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, wd: number, t: number): void {
    this.x.f32_adamw(p * 4, g * 4, m * 4, v * 4, n, lr, beta1, beta2, eps, wd, 1 - Math.pow(beta1, t), 1 - Math.pow(beta2, t));
  }
}
