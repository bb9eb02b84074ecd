/**
 * The kernel interface that every backend implements: the WebAssembly engine (Float32, SIMD), the
 * plain-TypeScript reference (Float64) and, later, WebGPU.
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

/** Options of `gemm`: C (+)= op(A)·op(B) (+ bias). */
export interface GemmOptions {
  /** A is stored [K, M] (row-major) and used transposed. Default false: A is [M, K]. */
  transA?: boolean;
  /** B is stored [N, K] and used transposed (a PyTorch Linear weight [out, in]). Default false: B is [K, N]. */
  transB?: boolean;
  /** C += result instead of C = result. */
  accumulate?: boolean;
  /** Leading dimensions (row strides, in elements) of A, B, C as stored. Defaults: the dense row length. */
  lda?: number;
  ldb?: number;
  ldc?: number;
}

export interface Backend {
  /** 'wasm-relaxed-simd', 'wasm-simd' or 'reference'. */
  readonly name: string;
  /** Arithmetic of the arena: 'f32' (wasm) or 'f64' (reference). */
  readonly precision: 'f32' | 'f64';

  // ---- arena -------------------------------------------------------------------------------------------
  /** Reserve room for `n` more elements at once (one grow instead of many). Invalidates earlier views. */
  reserve(n: number): void;
  /** Bump-allocate `n` elements, 4-element (16-byte) aligned, uninitialised. May grow (invalidating views). */
  alloc(n: number): Ptr;
  /** The current allocation mark; `release(mark)` frees everything allocated after it. */
  mark(): number;
  release(mark: number): void;
  /** A live view of `n` elements at `p`. Re-take views after any alloc/reserve. */
  view(p: Ptr, n: number): FloatArray;
  /** Copy `src` into the arena at `p`. */
  write(p: Ptr, src: ArrayLike<number>): void;
  /** A Float64 copy of `n` elements at `p`. */
  read(p: Ptr, n: number): Float64Array;
  /**
   * Only on backends whose memory cannot be read synchronously (WebGPU, where `view`, `read`, `sumSquares`
   * and `bceLogits` throw): the `n` elements at `p` once every kernel enqueued so far has run.
   */
  readAsync?(p: Ptr, n: number): Promise<Float32Array>;
  /** Only with `readAsync`: as `sumSquares`, read back asynchronously. */
  sumSquaresAsync?(x: Ptr, n: number): Promise<number>;

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
  /** Row softmax: out [N,C] = softmax(inp [N,C]) along C. */
  softmaxForward(out: Ptr, inp: Ptr, N: number, C: number): void;
  /** dinp [N,C] += softmax backward given dout and the forward output. */
  softmaxBackward(dinp: Ptr, dout: Ptr, out: Ptr, N: number, C: number): void;

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
  /** Sum of squares of n elements (accumulated in f64). */
  sumSquares(x: Ptr, n: number): number;
  /** dst = sum over i < count of the buffer at src0 + i*stride, added in order i = 0, 1, ... (deterministic). */
  sumBuffers(dst: Ptr, src0: Ptr, stride: number, count: number, n: number): void;
  /** Rows of x [N,C] whose mask [N] is 0 are set to exactly 0 (so NaN/garbage in them cannot leak). */
  maskRows(x: Ptr, mask: Ptr, N: number, C: number): void;

  // ---- model-specific layers ---------------------------------------------------------------------------
  /** Modality token: out [N,C] = inp * scale[C] + shift[C]. */
  affineForward(out: Ptr, inp: Ptr, scale: Ptr, shift: Ptr, N: number, C: number): void;
  /** dinp += dout*scale; dscale += sum_rows dout*inp; dshift += sum_rows dout. */
  affineBackward(dinp: Ptr, dscale: Ptr, dshift: Ptr, dout: Ptr, inp: Ptr, scale: Ptr, N: number, C: number): void;
  /** Numeric feature tokens (FT-Transformer): out [N,F,d] = x[N,F] * weight[F,d] + bias[F,d]. */
  numTokensForward(out: Ptr, x: Ptr, weight: Ptr, bias: Ptr, N: number, F: number, d: number): void;
  /** dweight [F,d] += sum_n dout[n,f,:]*x[n,f]; dbias [F,d] += sum_n dout[n,f,:]. */
  numTokensBackward(dweight: Ptr, dbias: Ptr, dout: Ptr, x: Ptr, N: number, F: number, d: number): void;
  /** ViT patches: out [B, (S/P)^2, P*P], patches row-major over the image, each patch flattened row-major. */
  patchify(out: Ptr, img: Ptr, B: number, S: number, P: number): void;

  // ---- loss and optimizer ------------------------------------------------------------------------------
  /**
   * Binary cross-entropy with logits over n entries, weighted (weights 0/1 mark observed labels).
   * Returns sum_i w_i * bce(x_i, t_i); writes (overwrites) dlogits_i = gradScale * w_i * (sigmoid(x_i) - t_i).
   */
  bceLogits(dlogits: Ptr, logits: Ptr, targets: Ptr, weights: Ptr, n: number, gradScale: number): number;
  /** Only with `readAsync`: as `bceLogits`, the loss written to arena[out] instead of returned. */
  bceLogitsTo?(out: Ptr, dlogits: Ptr, logits: Ptr, targets: Ptr, weights: Ptr, n: number, gradScale: number): void;
  /**
   * AdamW (decoupled weight decay, Loshchilov & Hutter 2019), step t >= 1:
   * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd * p).
   */
  adamw(p: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, wd: number, t: number): void;
}
