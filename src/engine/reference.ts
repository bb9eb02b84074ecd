import { Arena } from './arena.ts';
import type { GemmEpilogue, GemmOptions, Ptr, SyncBackend } from './types.ts';

/**
 * erfc(z) for z >= 0 in float64, as the ground truth for the exact GELU: the series erf(z) = 2/sqrt(pi)
 * exp(-z^2) sum_n 2^n z^(2n+1) / (1*3*...*(2n+1)) (Abramowitz & Stegun 7.1.6, every term positive) for
 * z < 2.5, and the continued fraction erfc(z) = exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
 * (A&S 7.1.14, 300 terms, evaluated bottom-up) beyond. Relative error < 1e-12 (the series loses ~1e-16
 * absolute to 1 - erf just below 2.5) and < 1e-13 beyond (test/engine/gelu-erf.test.ts checks
 * tabulated values); erfc(0) = 1, erfc(inf) = 0, NaN in gives NaN.
 */
export function erfc64(z: number): number {
  if (!(z >= 2.5)) {
    let term = z, sum = z;
    for (let n = 0; n < 400 && term > 1e-17 * sum; n++) { term *= (2 * z * z) / (2 * n + 3); sum += term; }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * sum;
  }
  if (z === Infinity) return 0;
  let f = z;
  for (let k = 300; k >= 1; k--) f = z + k / 2 / f;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/** The standard normal CDF Phi(x) = 0.5 erfc(-x / sqrt 2), the tail taken directly for x < 0 (no cancellation). */
export function normalCdf64(x: number): number {
  const tail = 0.5 * erfc64(Math.abs(x) / Math.SQRT2);
  return x >= 0 ? 1 - tail : tail;
}

/** GELU'(x), tanh form, in float64 (geluBackward and the gemm epilogue). */
function geluTanhGrad64(x: number): number {
  const k = Math.sqrt(2 / Math.PI), th = Math.tanh(k * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k * (1 + 3 * 0.044715 * x * x);
}

/** GELU'(x), exact form, in float64: Phi(x) + x phi(x) (geluErfBackward and the gemm epilogue). */
function geluErfGrad64(x: number): number {
  return normalCdf64(x) + x * (1 / Math.sqrt(2 * Math.PI)) * Math.exp(-0.5 * x * x);
}

/**
 * The reference backend: every kernel of `Backend` written as the plainest loop, computing in float64 over
 * a Float64Array arena. It is the oracle the WebAssembly kernels are tested against and the backend
 * finite-difference gradient checks run through. Not fast, by design.
 */
export class ReferenceBackend implements SyncBackend {
  readonly name = 'reference';
  readonly precision = 'f64' as const;
  readonly synchronous = true as const;
  m: Float64Array;
  private arena: Arena;

  constructor(initialElements = 1 << 16) {
    this.m = new Float64Array(Math.max(initialElements, 1024));
    this.arena = new Arena(16, (end) => this.ensure(end));
  }
  private ensure(end: number): void {
    if (end <= this.m.length) return;
    let len = this.m.length;
    while (len < end) len *= 2;
    const next = new Float64Array(len);
    next.set(this.m);
    this.m = next;
  }
  reserve(n: number): void { this.arena.reserve(n); }
  alloc(n: number): Ptr { return this.arena.alloc(n); }
  mark(): number { return this.arena.mark(); }
  release(mark: number): void { this.arena.release(mark); }
  view(p: Ptr, n: number): Float64Array { return this.m.subarray(p, p + n); }
  write(p: Ptr, src: ArrayLike<number>): void { this.m.set(src, p); }
  readSync(p: Ptr, n: number): Float64Array { return this.m.slice(p, p + n); }
  readScalarSync(p: Ptr): number { return this.m[p]; }
  async read(p: Ptr, n: number): Promise<Float64Array> { return this.readSync(p, n); }
  async readScalar(p: Ptr): Promise<number> { return this.m[p]; }

  gemm(c: Ptr, a: Ptr, b: Ptr, bias: Ptr, M: number, N: number, K: number, o: GemmOptions = {}): void {
    const m = this.m;
    const tA = !!o.transA, tB = !!o.transB;
    const lda = o.lda ?? (tA ? M : K), ldb = o.ldb ?? (tB ? K : N), ldc = o.ldc ?? N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = tA ? m[a + k * lda + i] : m[a + i * lda + k];
          const bv = tB ? m[b + j * ldb + k] : m[b + k * ldb + j];
          s += av * bv;
        }
        if (bias) s += m[bias + j];
        const ci = c + i * ldc + j;
        m[ci] = o.accumulate ? m[o.residual ? o.residual + i * ldc + j : ci] + s : s;
      }
    }
    if (o.epilogue) this.gemmEpilogue(c, M, N, ldc, o.epilogue);
  }

  /** GemmOptions.epilogue over C [M,N] (row stride ldc), through the elementwise GELU kernels row by row. */
  private gemmEpilogue(c: Ptr, M: number, N: number, ldc: number, e: GemmEpilogue): void {
    const m = this.m;
    for (let i = 0; i < M; i++) {
      const row = c + i * ldc;
      if (e.op === 'gelu') {
        if (e.form === 'erf') this.geluErfForward(e.out + i * ldc, row, N);
        else this.geluForward(e.out + i * ldc, row, N);
        continue;
      }
      const grad = e.form === 'erf' ? geluErfGrad64 : geluTanhGrad64;
      for (let j = 0; j < N; j++) m[row + j] = grad(m[e.pre + i * ldc + j]) * m[row + j];
    }
  }

  attentionForward(out: Ptr, att: Ptr, qkv: Ptr, mask: Ptr, B: number, T: number, d: number, H: number): void {
    const m = this.m, hd = d / H, scale = 1 / Math.sqrt(hd), C3 = 3 * d;
    const s = new Float64Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const arow = att + ((b * H + h) * T + i) * T;
          const orow = out + (b * T + i) * d + h * hd;
          for (let j = 0; j < T; j++) m[arow + j] = 0;
          for (let e = 0; e < hd; e++) m[orow + e] = 0;
          if (m[mask + b * T + i] === 0) continue;
          const q = qkv + (b * T + i) * C3 + h * hd;
          let mx = -Infinity;
          for (let j = 0; j < T; j++) {
            if (m[mask + b * T + j] === 0) continue;
            const k = qkv + (b * T + j) * C3 + d + h * hd;
            let dot = 0;
            for (let e = 0; e < hd; e++) dot += m[q + e] * m[k + e];
            s[j] = dot * scale;
            if (s[j] > mx) mx = s[j];
          }
          let sum = 0;
          for (let j = 0; j < T; j++) {
            if (m[mask + b * T + j] === 0) continue;
            const p = Math.exp(s[j] - mx);
            m[arow + j] = p;
            sum += p;
          }
          for (let j = 0; j < T; j++) {
            if (m[mask + b * T + j] === 0) continue;
            const p = (m[arow + j] /= sum);
            const v = qkv + (b * T + j) * C3 + 2 * d + h * hd;
            for (let e = 0; e < hd; e++) m[orow + e] += p * m[v + e];
          }
        }
      }
    }
  }

  attentionBackward(dqkv: Ptr, dout: Ptr, qkv: Ptr, att: Ptr, mask: Ptr, B: number, T: number, d: number, H: number): void {
    const m = this.m, hd = d / H, scale = 1 / Math.sqrt(hd), C3 = 3 * d;
    const dp = new Float64Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          if (m[mask + b * T + i] === 0) continue; // out row is the constant 0
          const arow = att + ((b * H + h) * T + i) * T;
          const go = dout + (b * T + i) * d + h * hd;
          // out_i = sum_j p_ij v_j  ->  dv_j += p_ij dout_i, dp_ij = dout_i . v_j
          let dot = 0;
          for (let j = 0; j < T; j++) {
            const p = m[arow + j];
            if (m[mask + b * T + j] === 0) { dp[j] = 0; continue; }
            const v = qkv + (b * T + j) * C3 + 2 * d + h * hd;
            const dv = dqkv + (b * T + j) * C3 + 2 * d + h * hd;
            let t = 0;
            for (let e = 0; e < hd; e++) { m[dv + e] += p * m[go + e]; t += m[go + e] * m[v + e]; }
            dp[j] = t;
            dot += p * t;
          }
          // p = softmax(s) -> ds_ij = p_ij (dp_ij - sum_k p_ik dp_ik); s_ij = scale q_i . k_j
          const q = qkv + (b * T + i) * C3 + h * hd;
          const dq = dqkv + (b * T + i) * C3 + h * hd;
          for (let j = 0; j < T; j++) {
            if (m[mask + b * T + j] === 0) continue;
            const ds = m[arow + j] * (dp[j] - dot) * scale;
            const k = qkv + (b * T + j) * C3 + d + h * hd;
            const dk = dqkv + (b * T + j) * C3 + d + h * hd;
            for (let e = 0; e < hd; e++) { m[dq + e] += ds * m[k + e]; m[dk + e] += ds * m[q + e]; }
          }
        }
      }
    }
  }

  layernormForward(out: Ptr, mean: Ptr, rstd: Ptr, inp: Ptr, weight: Ptr, bias: Ptr, N: number, C: number): void {
    const m = this.m;
    for (let n = 0; n < N; n++) {
      const x = inp + n * C;
      let mu = 0;
      for (let c = 0; c < C; c++) mu += m[x + c];
      mu /= C;
      let v = 0;
      for (let c = 0; c < C; c++) { const t = m[x + c] - mu; v += t * t; }
      v /= C;
      const r = 1 / Math.sqrt(v + 1e-5);
      for (let c = 0; c < C; c++) m[out + n * C + c] = (m[x + c] - mu) * r * m[weight + c] + m[bias + c];
      m[mean + n] = mu;
      m[rstd + n] = r;
    }
  }

  layernormBackward(dinp: Ptr, dweight: Ptr, dbias: Ptr, dout: Ptr, inp: Ptr, weight: Ptr, mean: Ptr, rstd: Ptr, N: number, C: number): void {
    const m = this.m;
    for (let n = 0; n < N; n++) {
      const x = inp + n * C, g = dout + n * C, mu = m[mean + n], r = m[rstd + n];
      let dnMean = 0, dnXhat = 0;
      for (let c = 0; c < C; c++) {
        const xhat = (m[x + c] - mu) * r, dn = m[weight + c] * m[g + c];
        dnMean += dn;
        dnXhat += dn * xhat;
      }
      dnMean /= C;
      dnXhat /= C;
      for (let c = 0; c < C; c++) {
        const xhat = (m[x + c] - mu) * r, dn = m[weight + c] * m[g + c];
        m[dbias + c] += m[g + c];
        m[dweight + c] += m[g + c] * xhat;
        m[dinp + n * C + c] += (dn - dnMean - xhat * dnXhat) * r;
      }
    }
  }

  geluForward(out: Ptr, inp: Ptr, n: number): void {
    const m = this.m, k = Math.sqrt(2 / Math.PI);
    for (let i = 0; i < n; i++) {
      const x = m[inp + i];
      m[out + i] = 0.5 * x * (1 + Math.tanh(k * (x + 0.044715 * x * x * x)));
    }
  }

  geluBackward(dinp: Ptr, inp: Ptr, dout: Ptr, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) m[dinp + i] += geluTanhGrad64(m[inp + i]) * m[dout + i];
  }

  geluErfForward(out: Ptr, inp: Ptr, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) { const x = m[inp + i]; m[out + i] = x * normalCdf64(x); }
  }

  geluErfBackward(dinp: Ptr, inp: Ptr, dout: Ptr, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) m[dinp + i] += geluErfGrad64(m[inp + i]) * m[dout + i];
  }

  add(out: Ptr, a: Ptr, b: Ptr, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) m[out + i] = m[a + i] + m[b + i];
  }
  accumulate(dst: Ptr, src: Ptr, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) m[dst + i] += m[src + i];
  }
  scale(x: Ptr, n: number, s: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) m[x + i] *= s;
  }
  fill(x: Ptr, n: number, v: number): void { this.m.fill(v, x, x + n); }
  copy(dst: Ptr, src: Ptr, n: number): void { this.m.copyWithin(dst, src, src + n); }
  biasAdd(out: Ptr, bias: Ptr, N: number, C: number): void {
    const m = this.m;
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) m[out + n * C + c] += m[bias + c];
  }
  biasGrad(dbias: Ptr, dout: Ptr, N: number, C: number): void {
    const m = this.m;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += m[dout + n * C + c];
      m[dbias + c] += s;
    }
  }
  sumSquaresTo(out: Ptr, x: Ptr, n: number): void {
    const m = this.m;
    let s = 0;
    for (let i = 0; i < n; i++) s += m[x + i] * m[x + i];
    m[out] = s;
  }
  sumBuffers(dst: Ptr, src0: Ptr, stride: number, count: number, n: number): void {
    const m = this.m;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let b = 0; b < count; b++) s += m[src0 + b * stride + i];
      m[dst + i] = s;
    }
  }
  maskRows(x: Ptr, mask: Ptr, N: number, C: number): void {
    const m = this.m;
    for (let n = 0; n < N; n++) if (m[mask + n] === 0) m.fill(0, x + n * C, x + (n + 1) * C);
  }

  /** Row index i of an index buffer (0: the identity). */
  private row(rows: Ptr, i: number): number { return rows ? this.m[rows + i] : i; }
  copyRows(dst: Ptr, dstRows: Ptr, src: Ptr, srcRows: Ptr, N: number, C: number): void {
    const m = this.m;
    for (let i = 0; i < N; i++) {
      const d = dst + this.row(dstRows, i) * C, s = src + this.row(srcRows, i) * C;
      for (let c = 0; c < C; c++) m[d + c] = m[s + c];
    }
  }
  accumulateRows(dst: Ptr, src: Ptr, srcRows: Ptr, N: number, C: number): void {
    const m = this.m;
    for (let i = 0; i < N; i++) {
      const s = src + this.row(srcRows, i) * C;
      for (let c = 0; c < C; c++) m[dst + c] += m[s + c];
    }
  }
  affineScatterForward(out: Ptr, outRows: Ptr, inp: Ptr, scale: Ptr, shift: Ptr, B: number, T: number, C: number): void {
    const m = this.m;
    for (let i = 0; i < B; i++) {
      const r0 = outRows ? m[outRows + i] : i * T;
      for (let j = 0; j < T; j++) {
        const o = out + (r0 + j) * C, x = inp + (i * T + j) * C;
        for (let c = 0; c < C; c++) m[o + c] = m[x + c] * m[scale + c] + m[shift + c];
      }
    }
  }
  affineScatterBackward(dinp: Ptr, dscale: Ptr, dshift: Ptr, dout: Ptr, doutRows: Ptr, inp: Ptr, scale: Ptr, B: number, T: number, C: number): void {
    const m = this.m;
    for (let i = 0; i < B; i++) {
      const r0 = doutRows ? m[doutRows + i] : i * T;
      for (let j = 0; j < T; j++) {
        const g0 = dout + (r0 + j) * C, x = inp + (i * T + j) * C, d = dinp + (i * T + j) * C;
        for (let c = 0; c < C; c++) {
          const g = m[g0 + c];
          m[d + c] += g * m[scale + c];
          m[dscale + c] += g * m[x + c];
          m[dshift + c] += g;
        }
      }
    }
  }
  numTokensForward(out: Ptr, x: Ptr, weight: Ptr, bias: Ptr, N: number, F: number, d: number): void {
    const m = this.m;
    for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) {
      const xv = m[x + n * F + f], o = out + (n * F + f) * d;
      for (let e = 0; e < d; e++) m[o + e] = xv * m[weight + f * d + e] + m[bias + f * d + e];
    }
  }
  numTokensBackward(dweight: Ptr, dbias: Ptr, dout: Ptr, x: Ptr, N: number, F: number, d: number): void {
    const m = this.m;
    for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) {
      const xv = m[x + n * F + f], g = dout + (n * F + f) * d;
      for (let e = 0; e < d; e++) { m[dweight + f * d + e] += m[g + e] * xv; m[dbias + f * d + e] += m[g + e]; }
    }
  }
  featureTokensForward(tok: Ptr, x: Ptr, catRows: Ptr, numW: Ptr, numB: Ptr, embed: Ptr, catB: Ptr, B: number, Fn: number, Fc: number, d: number): void {
    const Ft = Fn + Fc;
    for (let b = 0; b < B; b++) {
      const t = tok + b * Ft * d;
      this.numTokensForward(t, x + b * Fn, numW, numB, 1, Fn, d);
      for (let j = 0; j < Fc; j++) this.add(t + (Fn + j) * d, embed + this.m[catRows + b * Fc + j] * d, catB + j * d, d);
    }
  }
  featureTokensBackward(dnumW: Ptr, dnumB: Ptr, dembed: Ptr, dcatB: Ptr, dtok: Ptr, x: Ptr, catRows: Ptr, present: Ptr, B: number, Fn: number, Fc: number, d: number): void {
    const Ft = Fn + Fc;
    for (let b = 0; b < B; b++) {
      const t = dtok + b * Ft * d;
      this.numTokensBackward(dnumW, dnumB, t, x + b * Fn, 1, Fn, d);
      for (let j = 0; j < Fc; j++) {
        if (this.m[present + b * Ft + Fn + j] === 0) continue;
        this.accumulate(dembed + this.m[catRows + b * Fc + j] * d, t + (Fn + j) * d, d);
        this.accumulate(dcatB + j * d, t + (Fn + j) * d, d);
      }
    }
  }
  patchify(out: Ptr, img: Ptr, B: number, S: number, P: number): void {
    const m = this.m, G = S / P, PP = P * P;
    for (let b = 0; b < B; b++) for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) {
      const o = out + ((b * G + gy) * G + gx) * PP;
      for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) m[o + y * P + x] = m[img + b * S * S + (gy * P + y) * S + gx * P + x];
    }
  }

  bceLogitsTo(out: Ptr, dlogits: Ptr, logits: Ptr, targets: Ptr, weights: Ptr, n: number, gradScale: number): void {
    const m = this.m;
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const x = m[logits + i], t = m[targets + i], w = m[weights + i];
      if (w !== 0) loss += w * (Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x))));
      m[dlogits + i] = w === 0 ? 0 : gradScale * w * (1 / (1 + Math.exp(-x)) - t);
    }
    m[out] = loss;
  }

  adamw(p: Ptr, g: Ptr, mom: Ptr, vel: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, wd: number, t: number): void {
    const m = this.m, bc1 = 1 - Math.pow(beta1, t), bc2 = 1 - Math.pow(beta2, t);
    for (let i = 0; i < n; i++) {
      const gi = m[g + i];
      const mi = (m[mom + i] = beta1 * m[mom + i] + (1 - beta1) * gi);
      const vi = (m[vel + i] = beta2 * m[vel + i] + (1 - beta2) * gi * gi);
      m[p + i] -= lr * (mi / bc1 / (Math.sqrt(vi / bc2) + eps) + wd * m[p + i]);
    }
  }
}
