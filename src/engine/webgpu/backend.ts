/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend: the kernel interface of ../types.ts as WGSL compute pipelines over ONE GPUBuffer
 * arena of f32, laid out by the same bump allocator as the other backends (a `Ptr` is an element offset).
 *
 * Calls only ENQUEUE work: every kernel becomes a dispatch in one open compute pass of one command
 * encoder, its arguments a 64-byte block in a uniform ring bound at a dynamic offset, until `flush()`
 * (or a `write`, or `read`) submits them. So a whole training step stays on the device with no round
 * trip per kernel. Consecutive dispatches see each other's writes (WebGPU orders storage accesses between
 * dispatches), and `write()` flushes first so a queued kernel never sees data written after it.
 *
 * Results come back only through the asynchronous `read` / `readScalar` (a GPU has no synchronous read), so
 * this is a `Backend` and not a `SyncBackend`: the synchronous model API does not typecheck on it. Scalar
 * kernels write f32 into the first element of their slot.
 *
 * Determinism: no float atomics; every reduction (tree in workgroup memory, or a thread summing in index
 * order) has a fixed order, so the same inputs give the same bits.
 */
import { Arena } from '../arena.ts';
import type { Backend, GemmOptions, Ptr } from '../types.ts';
import { KERNELS, ATT_MAX_HD, ATT_MAX_T, paramKinds, wgsl, WG } from './kernels/index.ts';

// Numeric flags so this file works where the GPUBufferUsage globals are not installed (Node + dawn).
const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 };
const STAGE_COMPUTE = 0x4;
const MAP_READ = 0x1;
/** Uniform-ring slots per submit; a full ring flushes. */
const RING_SLOTS = 4096;
const PARAM_BYTES = 64;
const MAX_GROUPS = 65535;
/** Elements below the arena base: 0 means "none" (the base matches the reference backend's). */
const ARENA_BASE = 16;

export interface WebGPUBackendOptions {
  /** Initial arena size in elements (grows geometrically, copying on the device). */
  initialElements?: number;
  /** A label for `name` and logs: the adapter's description. */
  adapterInfo?: string;
}

interface Pipe {
  pipeline: GPUComputePipeline;
  kinds: boolean[];
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly precision = 'f32' as const;
  readonly synchronous = false as const;
  /** A one-line description of the adapter (vendor, architecture, device). */
  readonly adapterInfo: string;
  private readonly arena: Arena;
  private buf!: GPUBuffer;
  private bufElems = 0;
  private scratch!: GPUBuffer;
  private scratchElems = 0;
  private readonly uniform: GPUBuffer;
  private readonly align: number;
  private readonly ring: ArrayBuffer;
  private readonly ringU32: Uint32Array;
  private readonly ringF32: Float32Array;
  private ringUsed = 0;
  private bindGroup: GPUBindGroup | null = null;
  private enc: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private retired: GPUBuffer[] = [];
  private error: string | null = null;
  private readonly maxElems: number;

  /** Compile every pipeline (surfacing WGSL errors as a rejection) and allocate the arena. */
  static async create(device: GPUDevice, opts: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
    const layout = device.createBindGroupLayout({
      entries: [
        { binding: 0, visibility: STAGE_COMPUTE, buffer: { type: 'storage' } },
        { binding: 1, visibility: STAGE_COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
        { binding: 2, visibility: STAGE_COMPUTE, buffer: { type: 'storage' } },
      ],
    });
    const pl = device.createPipelineLayout({ bindGroupLayouts: [layout] });
    const pipes = new Map<string, Pipe>();
    // Synchronous creation inside an error scope: Dawn's software adapter has crashed on
    // createComputePipelineAsync, and the scope still turns a WGSL error into a rejection with its message.
    for (const k of KERNELS) {
      const kinds = paramKinds(k);
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ label: k.name, code: wgsl(k) });
      for (const [name, constants] of Object.entries(k.variants ?? { [k.name]: {} })) {
        pipes.set(name, { pipeline: device.createComputePipeline({ label: name, layout: pl, compute: { module, entryPoint: 'main', constants } }), kinds });
      }
      const err = await device.popErrorScope();
      if (err) {
        const info = await module.getCompilationInfo().catch(() => null);
        const msgs = info ? info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('\n') : '';
        throw new Error(`webgpu: kernel ${k.name} failed to compile: ${err.message}\n${msgs}`);
      }
    }
    return new WebGPUBackend(device, layout, pipes, opts);
  }

  private constructor(
    readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly pipes: Map<string, Pipe>,
    opts: WebGPUBackendOptions,
  ) {
    this.adapterInfo = opts.adapterInfo ?? 'unknown adapter';
    const lim = device.limits;
    this.align = Math.max(PARAM_BYTES, lim.minUniformBufferOffsetAlignment);
    this.maxElems = Math.floor(Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize) / 4);
    this.ring = new ArrayBuffer(RING_SLOTS * this.align);
    this.ringU32 = new Uint32Array(this.ring);
    this.ringF32 = new Float32Array(this.ring);
    this.uniform = device.createBuffer({ label: 'rf-params', size: this.ring.byteLength, usage: USAGE.UNIFORM | USAGE.COPY_DST });
    const onError = (ev: Event) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.error ??= err?.message ?? String(err);
    };
    if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError);
    else (device as unknown as { onuncapturederror: unknown }).onuncapturederror = onError;
    this.growScratch(1 << 16);
    this.arena = new Arena(ARENA_BASE, (end) => this.ensure(end));
    this.ensure(Math.max(opts.initialElements ?? 1 << 20, ARENA_BASE));
  }

  // ---- buffers -------------------------------------------------------------------------------------

  private ensure(endElement: number): void {
    if (endElement <= this.bufElems) return;
    if (endElement > this.maxElems) {
      throw new Error(`webgpu arena: ${endElement} elements exceed the device's largest storage binding (${this.maxElems} f32)`);
    }
    const elems = Math.min(this.maxElems, Math.max(endElement, this.bufElems * 2, 1 << 16));
    const next = this.device.createBuffer({ label: 'rf-arena', size: Math.ceil(elems / 64) * 256, usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST });
    if (this.buf) {
      // Copy in queue order: after every kernel already enqueued on the old buffer.
      this.endPass();
      this.encoder().copyBufferToBuffer(this.buf, 0, next, 0, this.bufElems * 4);
      this.retired.push(this.buf);
    }
    this.buf = next;
    this.bufElems = Math.floor(next.size / 4);
    this.bindGroup = null;
  }

  /** Kernel scratch (attention's per-row delta, reduction partials): transient, contents never kept. */
  private growScratch(elems: number): void {
    if (elems <= this.scratchElems) return;
    const n = Math.max(elems, this.scratchElems * 2);
    if (this.scratch) this.retired.push(this.scratch);
    this.scratch = this.device.createBuffer({ label: 'rf-scratch', size: Math.ceil(n / 64) * 256, usage: USAGE.STORAGE });
    this.scratchElems = Math.floor(this.scratch.size / 4);
    this.bindGroup = null;
  }

  private group(): GPUBindGroup {
    return (this.bindGroup ??= this.device.createBindGroup({
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: this.buf } },
        { binding: 1, resource: { buffer: this.uniform, size: PARAM_BYTES } },
        { binding: 2, resource: { buffer: this.scratch } },
      ],
    }));
  }

  private encoder(): GPUCommandEncoder {
    return (this.enc ??= this.device.createCommandEncoder({ label: 'rf-step' }));
  }
  private endPass(): void {
    if (this.pass) { this.pass.end(); this.pass = null; }
  }

  /** Enqueue one dispatch of pipeline `name` with its parameters (in the kernel's declared order). */
  private dispatch(name: string, args: number[], gx: number, gy = 1): void {
    const pipe = this.pipes.get(name);
    if (!pipe) throw new Error(`webgpu: no pipeline ${name}`);
    if (args.length !== pipe.kinds.length) throw new Error(`webgpu: ${name} takes ${pipe.kinds.length} parameters, got ${args.length}`);
    if (gx === 0 || gy === 0) return;
    if (gx > MAX_GROUPS || gy > MAX_GROUPS) throw new Error(`webgpu: ${name} grid ${gx}x${gy} exceeds ${MAX_GROUPS} workgroups per dimension`);
    if (this.ringUsed === RING_SLOTS) this.flush();
    const slot = this.ringUsed++;
    const w = (slot * this.align) / 4;
    for (let i = 0; i < args.length; i++) {
      const v = args[i];
      if (pipe.kinds[i]) this.ringF32[w + i] = v;
      else {
        if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) throw new Error(`webgpu: ${name} argument ${i} = ${v} is not a u32`);
        this.ringU32[w + i] = v;
      }
    }
    const bg = this.group();
    this.pass ??= this.encoder().beginComputePass({ label: 'rf-kernels' });
    this.pass.setPipeline(pipe.pipeline);
    this.pass.setBindGroup(0, bg, [slot * this.align]);
    this.pass.dispatchWorkgroups(gx, gy);
  }

  /** Grid of an elementwise (grid-stride) kernel over n. */
  private static ewGroups(n: number): number {
    return Math.min(Math.ceil(n / WG), MAX_GROUPS);
  }
  /** A 2-D grid of one workgroup per row. */
  private rows(name: string, args: number[], N: number): void {
    if (N === 0) return;
    const gx = Math.min(N, MAX_GROUPS);
    this.dispatch(name, args, gx, Math.ceil(N / gx));
  }

  /** Submit everything enqueued so far (parameters first, then the commands). Returns at once. */
  flush(): void {
    if (!this.enc) return;
    this.endPass();
    if (this.ringUsed > 0) this.device.queue.writeBuffer(this.uniform, 0, this.ring, 0, this.ringUsed * this.align);
    this.device.queue.submit([this.enc.finish()]);
    this.enc = null;
    this.ringUsed = 0;
    // Destroying after submit is safe: a buffer is freed once the work already submitted is done with it.
    for (const b of this.retired) b.destroy();
    this.retired = [];
  }

  /** Flush and wait until the device has finished every submitted kernel; throws a recorded GPU error. */
  async finish(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfError();
  }

  private throwIfError(): void {
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw new Error(`webgpu: device error: ${e}`);
    }
  }

  /** Release the device's buffers (the backend is unusable afterwards). */
  destroy(): void {
    this.flush();
    this.buf.destroy();
    this.scratch.destroy();
    this.uniform.destroy();
  }

  // ---- arena ---------------------------------------------------------------------------------------

  reserve(n: number): void { this.arena.reserve(n); }
  alloc(n: number): Ptr { return this.arena.alloc(n); }
  mark(): number { return this.arena.mark(); }
  release(mark: number): void { this.arena.release(mark); }
  /**
   * Not part of the contract (this is no SyncBackend, so typed code never calls it): JavaScript that reaches
   * the synchronous model API on WebGPU gets this message instead of "view is not a function".
   */
  view(): never {
    throw new Error('webgpu backend: a synchronous read of GPU memory does not exist; use the asynchronous API (`await model.forwardAsync(...)`, `await predictor.predictAsync(...)`, `await backend.read(p, n)`).');
  }
  /** As `view`: the SyncBackend reads exist here only to say what to use instead. */
  readSync(): never { return this.view(); }
  readScalarSync(): never { return this.view(); }
  /** Copy `src` into the arena at `p`, after everything enqueued before this call. */
  write(p: Ptr, src: ArrayLike<number>): void {
    if (src.length === 0) return;
    this.checkRange(p, src.length, 'write');
    this.flush();
    // Dawn's writeBuffer takes no view of a SharedArrayBuffer (the trainer's parameters and gradient slots
    // live in one): copy those, like any non-Float32 source.
    const data = src instanceof Float32Array && !(typeof SharedArrayBuffer !== 'undefined' && src.buffer instanceof SharedArrayBuffer)
      ? src
      : Float32Array.from(src);
    this.device.queue.writeBuffer(this.buf, p * 4, data.buffer, data.byteOffset, data.byteLength);
  }
  /** The `n` floats at `p` once every kernel enqueued so far has run. */
  async read(p: Ptr, n: number): Promise<Float32Array> {
    if (n === 0) return new Float32Array(0);
    this.checkRange(p, n, 'read');
    this.flush();
    const staging = this.device.createBuffer({ size: n * 4, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.buf, p * 4, staging, 0, n * 4);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(MAP_READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    this.throwIfError();
    return out;
  }
  /** The f32 a scalar kernel wrote at `p`. */
  async readScalar(p: Ptr): Promise<number> {
    return (await this.read(p, 1))[0];
  }
  private checkRange(p: Ptr, n: number, what: string): void {
    if (!(Number.isInteger(p) && p >= 0 && p + n <= this.arena.top)) throw new Error(`webgpu ${what}: [${p}, ${p + n}) is outside the allocated arena`);
  }

  // ---- GEMM ----------------------------------------------------------------------------------------

  gemm(c: Ptr, a: Ptr, b: Ptr, bias: Ptr, M: number, N: number, K: number, o: GemmOptions = {}): void {
    if (M === 0 || N === 0) return;
    const tA = !!o.transA, tB = !!o.transB;
    const lda = o.lda ?? (tA ? M : K), ldb = o.ldb ?? (tB ? K : N), ldc = o.ldc ?? N;
    const name = `gemm_${tA ? 't' : 'n'}${tB ? 't' : 'n'}`;
    const e = o.epilogue;
    const ep = !e ? 0 : (e.op === 'gelu' ? 1 : 3) + (e.form === 'erf' ? 1 : 0); // kernels/gemm.ts's epilogue codes
    const aux = !e ? 0 : e.op === 'gelu' ? e.out : e.pre;
    const res = o.accumulate && o.residual ? o.residual : 0;
    this.dispatch(name, [c, a, b, bias, M, N, K, lda, ldb, ldc, o.accumulate ? 1 : 0, res, ep, aux], Math.ceil(N / 64), Math.ceil(M / 64));
  }

  // ---- attention -----------------------------------------------------------------------------------

  private checkAttention(B: number, T: number, d: number, H: number): void {
    if (d % H !== 0) throw new Error(`attention: d=${d} is not a multiple of heads=${H}`);
    if (T > ATT_MAX_T) throw new Error(`webgpu attention: T=${T} exceeds ${ATT_MAX_T}`);
    if (d / H > ATT_MAX_HD) throw new Error(`webgpu attention: head width ${d / H} exceeds ${ATT_MAX_HD}`);
    if (B * H > MAX_GROUPS) throw new Error(`webgpu attention: B*H=${B * H} exceeds ${MAX_GROUPS}`);
  }
  attentionForward(out: Ptr, att: Ptr, qkv: Ptr, mask: Ptr, B: number, T: number, d: number, H: number): void {
    this.checkAttention(B, T, d, H);
    if (B === 0 || T === 0) return;
    this.dispatch('attention_fwd', [out, att, qkv, mask, B, T, d, H], T, B * H);
  }
  attentionBackward(dqkv: Ptr, dout: Ptr, qkv: Ptr, att: Ptr, mask: Ptr, B: number, T: number, d: number, H: number): void {
    this.checkAttention(B, T, d, H);
    if (B === 0 || T === 0) return;
    this.growScratch(B * H * T);
    const args = [dqkv, dout, qkv, att, mask, B, T, d, H];
    this.dispatch('attention_bwd_q', args, T, B * H);
    this.dispatch('attention_bwd_kv', args, T, B * H);
  }

  // ---- normalization and activations ---------------------------------------------------------------

  layernormForward(out: Ptr, mean: Ptr, rstd: Ptr, inp: Ptr, weight: Ptr, bias: Ptr, N: number, C: number): void {
    if (C === 0) return;
    this.rows('layernorm_fwd', [out, mean, rstd, inp, weight, bias, N, C], N);
  }
  layernormBackward(dinp: Ptr, dweight: Ptr, dbias: Ptr, dout: Ptr, inp: Ptr, weight: Ptr, mean: Ptr, rstd: Ptr, N: number, C: number): void {
    if (C === 0 || N === 0) return;
    this.rows('layernorm_bwd_x', [dinp, dout, inp, weight, mean, rstd, N, C], N);
    this.dispatch('layernorm_bwd_w', [dweight, dbias, dout, inp, mean, rstd, N, C], Math.ceil(C / 64));
  }
  geluForward(out: Ptr, inp: Ptr, n: number): void { this.dispatch('gelu_fwd', [out, inp, n], WebGPUBackend.ewGroups(n)); }
  geluBackward(dinp: Ptr, inp: Ptr, dout: Ptr, n: number): void { this.dispatch('gelu_bwd', [dinp, inp, dout, n], WebGPUBackend.ewGroups(n)); }
  geluErfForward(out: Ptr, inp: Ptr, n: number): void { this.dispatch('gelu_erf_fwd', [out, inp, n], WebGPUBackend.ewGroups(n)); }
  geluErfBackward(dinp: Ptr, inp: Ptr, dout: Ptr, n: number): void { this.dispatch('gelu_erf_bwd', [dinp, inp, dout, n], WebGPUBackend.ewGroups(n)); }

  // ---- elementwise and reductions ------------------------------------------------------------------

  add(out: Ptr, a: Ptr, b: Ptr, n: number): void { this.dispatch('add', [out, a, b, n], WebGPUBackend.ewGroups(n)); }
  accumulate(dst: Ptr, src: Ptr, n: number): void { this.dispatch('accumulate', [dst, src, n], WebGPUBackend.ewGroups(n)); }
  scale(x: Ptr, n: number, s: number): void { this.dispatch('scale', [x, n, s], WebGPUBackend.ewGroups(n)); }
  fill(x: Ptr, n: number, v: number): void { this.dispatch('fill', [x, n, v], WebGPUBackend.ewGroups(n)); }
  copy(dst: Ptr, src: Ptr, n: number): void { this.dispatch('copy', [dst, src, n], WebGPUBackend.ewGroups(n)); }
  biasAdd(out: Ptr, bias: Ptr, N: number, C: number): void {
    this.dispatch('bias_add', [out, bias, C, N * C], WebGPUBackend.ewGroups(N * C));
  }
  biasGrad(dbias: Ptr, dout: Ptr, N: number, C: number): void {
    this.dispatch('bias_grad', [dbias, dout, N, C], Math.ceil(C / 64));
  }
  /** arena[out] = sum of squares of x[0..n) (two fixed-order stages through scratch). */
  sumSquaresTo(out: Ptr, x: Ptr, n: number): void {
    const G = Math.max(1, Math.min(1024, Math.ceil(n / (WG * 16))));
    const L = Math.ceil(n / G);
    this.growScratch(G);
    this.dispatch('sumsq_partial', [x, n, L], G);
    this.dispatch('sumsq_final', [out, G], 1);
  }
  sumBuffers(dst: Ptr, src0: Ptr, stride: number, count: number, n: number): void {
    this.dispatch('sum_buffers', [dst, src0, stride, count, n], WebGPUBackend.ewGroups(n));
  }
  maskRows(x: Ptr, mask: Ptr, N: number, C: number): void {
    if (C === 0) return;
    this.dispatch('mask_rows', [x, mask, C, N * C], WebGPUBackend.ewGroups(N * C));
  }

  // ---- model-specific layers -----------------------------------------------------------------------

  copyRows(dst: Ptr, dstRows: Ptr, src: Ptr, srcRows: Ptr, N: number, C: number): void {
    if (C === 0) return;
    this.dispatch('copy_rows', [dst, dstRows, src, srcRows, C, N * C], WebGPUBackend.ewGroups(N * C));
  }
  accumulateRows(dst: Ptr, src: Ptr, srcRows: Ptr, N: number, C: number): void {
    if (C === 0 || N === 0) return;
    this.dispatch('acc_rows', [dst, src, srcRows, N, C], Math.ceil(C / 64));
  }
  affineScatterForward(out: Ptr, outRows: Ptr, inp: Ptr, scale: Ptr, shift: Ptr, B: number, T: number, C: number): void {
    if (C === 0 || T === 0) return;
    this.dispatch('affine_scatter_fwd', [out, outRows, inp, scale, shift, T, C, B * T * C], WebGPUBackend.ewGroups(B * T * C));
  }
  affineScatterBackward(dinp: Ptr, dscale: Ptr, dshift: Ptr, dout: Ptr, doutRows: Ptr, inp: Ptr, scale: Ptr, B: number, T: number, C: number): void {
    if (C === 0 || T === 0 || B === 0) return;
    this.dispatch('affine_scatter_bwd_x', [dinp, dout, doutRows, scale, T, C, B * T * C], WebGPUBackend.ewGroups(B * T * C));
    this.dispatch('affine_scatter_bwd_w', [dscale, dshift, dout, doutRows, inp, B, T, C], Math.ceil(C / 64));
  }
  numTokensForward(out: Ptr, x: Ptr, weight: Ptr, bias: Ptr, N: number, F: number, d: number): void {
    if (F === 0 || d === 0) return;
    this.dispatch('numtok_fwd', [out, x, weight, bias, F, d, N * F * d], WebGPUBackend.ewGroups(N * F * d));
  }
  numTokensBackward(dweight: Ptr, dbias: Ptr, dout: Ptr, x: Ptr, N: number, F: number, d: number): void {
    if (F === 0 || d === 0) return;
    this.dispatch('numtok_bwd', [dweight, dbias, dout, x, N, F, F * d], Math.ceil((F * d) / 64));
  }
  featureTokensForward(tok: Ptr, x: Ptr, catRows: Ptr, numW: Ptr, numB: Ptr, embed: Ptr, catB: Ptr, B: number, Fn: number, Fc: number, d: number): void {
    const n = B * (Fn + Fc) * d;
    this.dispatch('feature_tokens_fwd', [tok, x, catRows, numW, numB, embed, catB, Fn, Fc, d, n], WebGPUBackend.ewGroups(n));
  }
  featureTokensBackward(dnumW: Ptr, dnumB: Ptr, dembed: Ptr, dcatB: Ptr, dtok: Ptr, x: Ptr, catRows: Ptr, present: Ptr, B: number, Fn: number, Fc: number, d: number): void {
    if (B === 0 || d === 0) return;
    if (Fn > 0) this.dispatch('feature_tokens_bwd_num', [dnumW, dnumB, dtok, x, B, Fn, Fc, d, Fn * d], Math.ceil((Fn * d) / 64));
    if (Fc > 0) this.dispatch('feature_tokens_bwd_cat', [dembed, dcatB, dtok, catRows, present, B, Fn, Fc, d, Fc * d], Math.ceil((Fc * d) / 64));
  }
  patchify(out: Ptr, img: Ptr, B: number, S: number, P: number): void {
    if (S % P !== 0) throw new Error(`patchify: image size ${S} is not a multiple of patch ${P}`);
    this.dispatch('patchify', [out, img, S, P, B * S * S], WebGPUBackend.ewGroups(B * S * S));
  }

  // ---- loss and optimizer --------------------------------------------------------------------------

  /** The loss sum goes to the scalar slot `out` (f32, first element). */
  bceLogitsTo(out: Ptr, dlogits: Ptr, logits: Ptr, targets: Ptr, weights: Ptr, n: number, gradScale: number): void {
    this.dispatch('bce_logits', [out, dlogits, logits, targets, weights, n, gradScale], 1);
  }
  adamw(p: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, wd: number, t: number): void {
    const bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
    this.dispatch('adamw', [p, g, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2], WebGPUBackend.ewGroups(n));
  }
}
