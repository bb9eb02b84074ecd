/**
 * The kernel interface that every backend implements: the WebAssembly engine (Float32, SIMD), the
 * plain-TypeScript reference (Float64) and WebGPU (Float32 on a GPU).
 *
 * One contract: every call ENQUEUES work (a synchronous backend simply runs it at once) and results come
 * back through the asynchronous `read` / `readScalar`, which wait for everything enqueued before them.
 * Kernels whose result is a scalar (sumSquaresTo, bceLogitsTo) write it into a scalar slot of the arena
 * (SCALAR_FLOATS elements) instead of returning it, so a whole training step can stay on a device.
 * `SyncBackend` (WebAssembly, reference) adds synchronous reads; the synchronous model API is typed on it.
 *
 * Memory model: a backend owns one arena of floats. A `Ptr` is an element offset into it (not bytes), so the
 * same layout serves a Float32 arena and a Float64 one. TypeScript owns the layout (see `alloc`); kernels
 * only read and write the ranges they are given and never allocate. Pointer 0 is never a valid allocation
 * and means "none" where an argument is optional (a bias).
 *
 * Argument order follows llm.c: outputs first, then saved activations, inputs, weights, dimensions.
 * Backward kernels ACCUMULATE (`+=`) into every gradient output, so the trainer zeroes gradients once per
 * step; `d*` inputs are read-only.
 */
export type Ptr = number;
export type FloatArray = Float32Array | Float64Array;

/**
 * Elements of a scalar slot (sumSquaresTo, bceLogitsTo): room for one float64, so the WebAssembly backend
 * keeps the f64 it accumulates (bit-exact gradient norms and losses) even in its Float32 arena. Read a slot
 * with `readScalar` / `readScalarSync` only: its raw elements are not floats of the arena's precision.
 */
export const SCALAR_FLOATS = 2;

/**
 * A fused epilogue of `gemm`, applied to each final C element (after the product, accumulation and bias),
 * in the GELU form given ('tanh' = geluForward, 'erf' = geluErfForward):
 * - `gelu`: out = GELU(C); C keeps the pre-activation (an MLP's first layer: both are saved for backward).
 * - `geluGrad`: C = GELU'(pre)·C, pre the forward's pre-activation (the gradient through the GELU, in place:
 *   the same values as geluBackward into a zeroed buffer).
 * `out` / `pre` are laid out like C (row stride ldc) and must not overlap C.
 */
export type GemmEpilogue =
  | { op: 'gelu'; form: 'tanh' | 'erf'; out: Ptr }
  | { op: 'geluGrad'; form: 'tanh' | 'erf'; pre: Ptr };

/** Options of `gemm`: C (+)= op(A)·op(B) (+ bias). */
export interface GemmOptions {
  /** A is stored [K, M] (row-major) and used transposed. Default false: A is [M, K]. */
  transA?: boolean;
  /** B is stored [N, K] and used transposed (a PyTorch Linear weight [out, in]). Default false: B is [K, N]. */
  transB?: boolean;
  /** C += result instead of C = result. */
  accumulate?: boolean;
  /**
   * With `accumulate`: C = R + result, R at `residual` laid out like C (row stride ldc), read instead of C's
   * old value (a residual add without copying R into C first; the same values as copy + accumulate). R may be C.
   */
  residual?: Ptr;
  /** A fused epilogue (GELU, or the gradient through it) on the final C. */
  epilogue?: GemmEpilogue;
  /** Leading dimensions (row strides, in elements) of A, B, C as stored. Defaults: the dense row length. */
  lda?: number;
  ldb?: number;
  ldc?: number;
}

export interface Backend {
  /** 'wasm-relaxed-simd', 'wasm-simd', 'reference' or 'webgpu'. */
  readonly name: string;
  /** Arithmetic of the arena: 'f32' (wasm, webgpu) or 'f64' (reference). */
  readonly precision: 'f32' | 'f64';
  /** True on a `SyncBackend` (its memory can be read at once); false on WebGPU. */
  readonly synchronous: boolean;

  // ---- arena -------------------------------------------------------------------------------------------
  /** Reserve room for `n` more elements at once (one grow instead of many). Invalidates earlier views. */
  reserve(n: number): void;
  /** Bump-allocate `n` elements, 4-element (16-byte) aligned, uninitialised. May grow (invalidating views). */
  alloc(n: number): Ptr;
  /** The current allocation mark; `release(mark)` frees everything allocated after it. */
  mark(): number;
  release(mark: number): void;
  /** Copy `src` into the arena at `p`, after every kernel enqueued before this call. */
  write(p: Ptr, src: ArrayLike<number>): void;
  /** A copy of the `n` elements at `p` (the arena's precision) once every kernel enqueued so far has run. */
  read(p: Ptr, n: number): Promise<FloatArray>;
  /** The scalar a scalar kernel wrote into the slot at `p` (see SCALAR_FLOATS). */
  readScalar(p: Ptr): Promise<number>;

  // ---- GEMM --------------------------------------------------------------------------------------------
  /** C[M,N] (+)= op(A)[M,K] · op(B)[K,N] (+ bias[N] on every row). `bias` 0 = none. */
  gemm(c: Ptr, a: Ptr, b: Ptr, bias: Ptr, M: number, N: number, K: number, o?: GemmOptions): void;

  // ---- attention ---------------------------------------------------------------------------------------
  /**
   * Masked multi-head self-attention over packed qkv.
   * out [B,T,d]; att [B,H,T,T] softmax probabilities (saved for backward); qkv [B,T,3d] (q | k | v, head h
   * uses columns h*hd..(h+1)*hd of each third, hd = d/H); mask [B,T] 1 = present, 0 = masked.
   * A masked key gets zero weight; a masked query's output row and att row are zero. Scale 1/sqrt(hd).
   */
  attentionForward(out: Ptr, att: Ptr, qkv: Ptr, mask: Ptr, B: number, T: number, d: number, H: number): void;
  /** dqkv [B,T,3d] += gradient of the forward above, given dout [B,T,d] and the saved att. */
  attentionBackward(dqkv: Ptr, dout: Ptr, qkv: Ptr, att: Ptr, mask: Ptr, B: number, T: number, d: number, H: number): void;

  // ---- normalization and activations -----------------------------------------------------------------
  /** LayerNorm over rows: out [N,C], mean/rstd [N] saved; eps 1e-5, biased variance. */
  layernormForward(out: Ptr, mean: Ptr, rstd: Ptr, inp: Ptr, weight: Ptr, bias: Ptr, N: number, C: number): void;
  /** dinp [N,C] +=, dweight [C] +=, dbias [C] +=. */
  layernormBackward(dinp: Ptr, dweight: Ptr, dbias: Ptr, dout: Ptr, inp: Ptr, weight: Ptr, mean: Ptr, rstd: Ptr, N: number, C: number): void;
  /** out = GELU(inp), tanh approximation, n elements. */
  geluForward(out: Ptr, inp: Ptr, n: number): void;
  /** dinp += GELU'(inp) * dout. */
  geluBackward(dinp: Ptr, inp: Ptr, dout: Ptr, n: number): void;
  /** out = GELU(inp), exact form x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's default), n elements. */
  geluErfForward(out: Ptr, inp: Ptr, n: number): void;
  /** dinp += GELU'(inp) * dout for the exact form: Phi(x) + x phi(x). */
  geluErfBackward(dinp: Ptr, inp: Ptr, dout: Ptr, n: number): void;

  // ---- elementwise and reductions ----------------------------------------------------------------------
  /** out = a + b (n elements; out may alias a or b). */
  add(out: Ptr, a: Ptr, b: Ptr, n: number): void;
  /** dst += src. */
  accumulate(dst: Ptr, src: Ptr, n: number): void;
  /** x *= s. */
  scale(x: Ptr, n: number, s: number): void;
  /** x = v. */
  fill(x: Ptr, n: number, v: number): void;
  /** dst = src (ranges must not overlap). */
  copy(dst: Ptr, src: Ptr, n: number): void;
  /** out [N,C] += bias [C] on every row. */
  biasAdd(out: Ptr, bias: Ptr, N: number, C: number): void;
  /** dbias [C] += column sums of dout [N,C]. */
  biasGrad(dbias: Ptr, dout: Ptr, N: number, C: number): void;
  /** Scalar slot `out` = sum of squares of n elements of x (accumulated in f64 on the CPU backends). */
  sumSquaresTo(out: Ptr, x: Ptr, n: number): void;
  /** dst = sum over i < count of the buffer at src0 + i*stride, added in order i = 0, 1, ... (deterministic). */
  sumBuffers(dst: Ptr, src0: Ptr, stride: number, count: number, n: number): void;
  /** Rows of x [N,C] whose mask [N] is 0 are set to exactly 0 (so NaN/garbage in them cannot leak). */
  maskRows(x: Ptr, mask: Ptr, N: number, C: number): void;
  /**
   * Indexed row copy, for i < N: row dstRows[i] of dst [*,C] = row srcRows[i] of src [*,C]. Row index buffers
   * hold exact integers as floats; an index pointer 0 is the identity (row i). A gather (dstRows 0), scatter
   * (srcRows 0) or broadcast (srcRows all 0) in one call. Destination and source rows must not overlap.
   */
  copyRows(dst: Ptr, dstRows: Ptr, src: Ptr, srcRows: Ptr, N: number, C: number): void;
  /** dst [C] += row srcRows[i] of src [*,C] for i = 0..N-1, one add per row in order (N `accumulate` calls). */
  accumulateRows(dst: Ptr, src: Ptr, srcRows: Ptr, N: number, C: number): void;

  // ---- model-specific layers ---------------------------------------------------------------------------
  /**
   * Modality tokens into their sequences, one call per batch: for sample i < B and token j < T, row
   * outRows[i] + j of out [*,C] = row i*T + j of inp [B*T,C] * scale[C] + shift[C]. outRows [B] is a row index
   * buffer (0 = the identity: row i*T).
   */
  affineScatterForward(out: Ptr, outRows: Ptr, inp: Ptr, scale: Ptr, shift: Ptr, B: number, T: number, C: number): void;
  /**
   * Backward of affineScatterForward: dinp [B*T,C] += dout*scale; dscale [C] += sum dout*inp; dshift [C] +=
   * sum dout, dout read at rows doutRows[i] + j. Each sample's column sums are added once, in sample order.
   */
  affineScatterBackward(dinp: Ptr, dscale: Ptr, dshift: Ptr, dout: Ptr, doutRows: Ptr, inp: Ptr, scale: Ptr, B: number, T: number, C: number): void;
  /** Numeric feature tokens (FT-Transformer): out [N,F,d] = x[N,F] * weight[F,d] + bias[F,d]. */
  numTokensForward(out: Ptr, x: Ptr, weight: Ptr, bias: Ptr, N: number, F: number, d: number): void;
  /** dweight [F,d] += sum_n dout[n,f,:]*x[n,f]; dbias [F,d] += sum_n dout[n,f,:]. */
  numTokensBackward(dweight: Ptr, dbias: Ptr, dout: Ptr, x: Ptr, N: number, F: number, d: number): void;
  /**
   * A batch's FT-Transformer tokens, tok [B,Fn+Fc,d]: numeric tok[b,f] = x[b,f]*numW[f] + numB[f] (numW, numB
   * [Fn,d]); categorical tok[b,Fn+j] = embed[catRows[b,j]] + catB[j] (catRows [B,Fc]: embedding rows as floats).
   */
  featureTokensForward(tok: Ptr, x: Ptr, catRows: Ptr, numW: Ptr, numB: Ptr, embed: Ptr, catB: Ptr, B: number, Fn: number, Fc: number, d: number): void;
  /**
   * Backward, per sample in order: dnumW, dnumB += the sample's numeric-token gradients; for each categorical
   * token present (present [B,Fn+Fc]) dembed[catRows[b,j]] += dtok[b,Fn+j] and dcatB[j] += dtok[b,Fn+j].
   */
  featureTokensBackward(dnumW: Ptr, dnumB: Ptr, dembed: Ptr, dcatB: Ptr, dtok: Ptr, x: Ptr, catRows: Ptr, present: Ptr, B: number, Fn: number, Fc: number, d: number): void;
  /** ViT patches: out [B, (S/P)^2, P*P], patches row-major over the image, each patch flattened row-major. */
  patchify(out: Ptr, img: Ptr, B: number, S: number, P: number): void;

  // ---- loss and optimizer ------------------------------------------------------------------------------
  /**
   * Binary cross-entropy with logits over n entries, weighted (weights 0/1 mark observed labels).
   * Scalar slot `out` = sum_i w_i * bce(x_i, t_i); writes (overwrites) dlogits_i = gradScale * w_i *
   * (sigmoid(x_i) - t_i).
   */
  bceLogitsTo(out: Ptr, dlogits: Ptr, logits: Ptr, targets: Ptr, weights: Ptr, n: number, gradScale: number): void;
  /**
   * AdamW (decoupled weight decay, Loshchilov & Hutter 2019), step t >= 1:
   * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd * p).
   */
  adamw(p: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, wd: number, t: number): void;
}

/**
 * A backend whose memory the host reads at once (WebAssembly, the float64 reference): every kernel has run
 * when its call returns. The synchronous model API (forward, lossAndGrad, parameters, ...) needs one.
 */
export interface SyncBackend extends Backend {
  readonly synchronous: true;
  /** A live view of `n` elements at `p`. Re-take views after any alloc/reserve. */
  view(p: Ptr, n: number): FloatArray;
  /** A Float64 copy of `n` elements at `p`. */
  readSync(p: Ptr, n: number): Float64Array;
  /** As `readScalar`, at once. */
  readScalarSync(p: Ptr): number;
}
