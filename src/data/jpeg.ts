/**
 * Images: a small baseline grayscale JPEG encoder (the synthetic generator's writer; jpeg-js only writes
 * three-component files, three times the work, and real MIMIC-CXR-JPG files are single-component),
 * decoding through jpeg-js under its resolution and memory limits, and an anti-aliased resize to S x S.
 */
import jpeg from 'jpeg-js';

// ---------------------------------------------------------------------------------------------------------
// Encoder: ITU T.81 baseline, one component, the example tables of Annex K.

/** Zig-zag position k -> natural (row-major) index in the 8x8 block. */
const ZIGZAG = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63,
]);
/** Annex K.1 luminance quantization table (natural order). */
const STD_LUM_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
  87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
  72, 92, 95, 98, 112, 100, 103, 99,
];
/** Annex K.3 Huffman tables: code counts per length 1..16 and symbols. */
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
// prettier-ignore
const AC_VALS = [
  0x01,0x02,0x03,0x00,0x04,0x11,0x05,0x12,0x21,0x31,0x41,0x06,0x13,0x51,0x61,0x07,0x22,0x71,0x14,0x32,0x81,0x91,0xa1,0x08,
  0x23,0x42,0xb1,0xc1,0x15,0x52,0xd1,0xf0,0x24,0x33,0x62,0x72,0x82,0x09,0x0a,0x16,0x17,0x18,0x19,0x1a,0x25,0x26,0x27,0x28,
  0x29,0x2a,0x34,0x35,0x36,0x37,0x38,0x39,0x3a,0x43,0x44,0x45,0x46,0x47,0x48,0x49,0x4a,0x53,0x54,0x55,0x56,0x57,0x58,0x59,
  0x5a,0x63,0x64,0x65,0x66,0x67,0x68,0x69,0x6a,0x73,0x74,0x75,0x76,0x77,0x78,0x79,0x7a,0x83,0x84,0x85,0x86,0x87,0x88,0x89,
  0x8a,0x92,0x93,0x94,0x95,0x96,0x97,0x98,0x99,0x9a,0xa2,0xa3,0xa4,0xa5,0xa6,0xa7,0xa8,0xa9,0xaa,0xb2,0xb3,0xb4,0xb5,0xb6,
  0xb7,0xb8,0xb9,0xba,0xc2,0xc3,0xc4,0xc5,0xc6,0xc7,0xc8,0xc9,0xca,0xd2,0xd3,0xd4,0xd5,0xd6,0xd7,0xd8,0xd9,0xda,0xe1,0xe2,
  0xe3,0xe4,0xe5,0xe6,0xe7,0xe8,0xe9,0xea,0xf1,0xf2,0xf3,0xf4,0xf5,0xf6,0xf7,0xf8,0xf9,0xfa,
];

/** Canonical Huffman codes (Annex C): code[symbol], size[symbol]. */
function huffman(bits: number[], vals: number[]): { code: Uint16Array; size: Uint8Array } {
  const code = new Uint16Array(256), size = new Uint8Array(256);
  let c = 0, k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < bits[len - 1]; i++) {
      code[vals[k]] = c++;
      size[vals[k]] = len;
      k++;
    }
    c <<= 1;
  }
  return { code, size };
}
const DC_HUFF = huffman(DC_BITS, DC_VALS);
const AC_HUFF = huffman(AC_BITS, AC_VALS);
/** DCT-II basis: COS[x*8+u] = c(u)/2 * cos((2x+1)u pi/16). */
const COS = new Float64Array(64);
for (let x = 0; x < 8; x++) for (let u = 0; u < 8; u++) COS[x * 8 + u] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);

class BitWriter {
  buf = new Uint8Array(1 << 16);
  n = 0;
  private acc = 0;
  private bits = 0;
  byte(b: number): void {
    if (this.n === this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.n++] = b;
  }
  bytes(a: ArrayLike<number>): void {
    for (let i = 0; i < a.length; i++) this.byte(a[i]);
  }
  u16(v: number): void {
    this.byte(v >> 8);
    this.byte(v & 255);
  }
  /** Entropy-coded bits, MSB first, with 0xFF byte stuffing. */
  put(code: number, len: number): void {
    this.acc = (this.acc << len) | (code & ((1 << len) - 1));
    this.bits += len;
    while (this.bits >= 8) {
      const b = (this.acc >> (this.bits - 8)) & 255;
      this.byte(b);
      if (b === 255) this.byte(0);
      this.bits -= 8;
    }
    this.acc &= (1 << this.bits) - 1;
  }
  flush(): void {
    if (this.bits > 0) this.put((1 << (8 - this.bits)) - 1, 8 - this.bits); // pad with ones
  }
}

/** Bits needed for |v| and the JPEG amplitude code of v. */
function category(v: number): number {
  let a = v < 0 ? -v : v, n = 0;
  while (a) {
    n++;
    a >>= 1;
  }
  return n;
}

/**
 * Encode a grayscale image (8-bit, row-major, width x height) as a baseline single-component JPEG.
 * quality 1..100 scales the Annex K table as libjpeg does. Deterministic: same pixels, same bytes.
 */
export function encodeGrayJpeg(pixels: Uint8Array, width: number, height: number, quality = 90): Uint8Array {
  const q = Math.max(1, Math.min(100, quality));
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  const qt = new Int32Array(64);
  for (let i = 0; i < 64; i++) qt[i] = Math.max(1, Math.min(255, Math.floor((STD_LUM_Q[i] * scale + 50) / 100)));
  const w = new BitWriter();
  w.bytes([0xff, 0xd8]); // SOI
  w.bytes([0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]); // APP0 JFIF
  w.bytes([0xff, 0xdb, 0, 67, 0]); // DQT, 8-bit, table 0
  for (let k = 0; k < 64; k++) w.byte(qt[ZIGZAG[k]]);
  w.bytes([0xff, 0xc0, 0, 11, 8]); // SOF0
  w.u16(height);
  w.u16(width);
  w.bytes([1, 1, 0x11, 0]);
  for (const [cls, bits, vals] of [[0, DC_BITS, DC_VALS], [0x10, AC_BITS, AC_VALS]] as const) {
    w.bytes([0xff, 0xc4]);
    w.u16(3 + 16 + vals.length);
    w.byte(cls);
    w.bytes(bits);
    w.bytes(vals);
  }
  w.bytes([0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0]); // SOS
  const blk = new Float64Array(64), tmp = new Float64Array(64);
  const coef = new Int32Array(64);
  let prevDc = 0;
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let y = 0; y < 8; y++) {
        const sy = Math.min(by + y, height - 1) * width;
        for (let x = 0; x < 8; x++) blk[y * 8 + x] = pixels[sy + Math.min(bx + x, width - 1)] - 128;
      }
      // separable 2-D DCT: rows then columns
      for (let y = 0; y < 8; y++) {
        for (let u = 0; u < 8; u++) {
          let s = 0;
          for (let x = 0; x < 8; x++) s += blk[y * 8 + x] * COS[x * 8 + u];
          tmp[y * 8 + u] = s;
        }
      }
      for (let u = 0; u < 8; u++) {
        for (let v = 0; v < 8; v++) {
          let s = 0;
          for (let y = 0; y < 8; y++) s += tmp[y * 8 + u] * COS[y * 8 + v];
          const i = v * 8 + u;
          coef[i] = Math.round(s / qt[i]);
        }
      }
      // DC difference
      const dc = coef[0];
      let d = dc - prevDc;
      prevDc = dc;
      let cat = category(d);
      w.put(DC_HUFF.code[cat], DC_HUFF.size[cat]);
      if (cat) w.put(d < 0 ? d - 1 : d, cat);
      // AC run-lengths in zig-zag order
      let run = 0;
      for (let k = 1; k < 64; k++) {
        const a = coef[ZIGZAG[k]];
        if (a === 0) {
          run++;
          continue;
        }
        while (run > 15) {
          w.put(AC_HUFF.code[0xf0], AC_HUFF.size[0xf0]);
          run -= 16;
        }
        cat = category(a);
        const sym = (run << 4) | cat;
        w.put(AC_HUFF.code[sym], AC_HUFF.size[sym]);
        w.put(a < 0 ? a - 1 : a, cat);
        run = 0;
      }
      if (run > 0) w.put(AC_HUFF.code[0], AC_HUFF.size[0]); // EOB
    }
  }
  w.flush();
  w.bytes([0xff, 0xd9]); // EOI
  return w.buf.slice(0, w.n);
}

// ---------------------------------------------------------------------------------------------------------
// Decoding and resizing.

/** Limits passed to jpeg-js: an image over them is an error, never an out-of-memory. */
export interface DecodeLimits {
  maxResolutionInMP: number;
  maxMemoryUsageInMB: number;
}
export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxResolutionInMP: 50, maxMemoryUsageInMB: 512 };

/**
 * Decode a JPEG to one 8-bit channel (luma for three-component files). A file without its end-of-image
 * marker is truncated and rejected, since jpeg-js's tolerant mode would fill the missing rows silently.
 */
export function decodeGray(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): { width: number; height: number; data: Uint8Array } {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('not a JPEG (no start-of-image marker)');
  let eoi = false;
  for (let i = bytes.length - 2; i >= Math.max(2, bytes.length - 1024); i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) {
      eoi = true;
      break;
    }
  }
  if (!eoi) throw new Error('truncated JPEG (no end-of-image marker)');
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, ...limits });
  const n = img.width * img.height;
  if (!(n > 0)) throw new Error('empty JPEG');
  return { width: img.width, height: img.height, data: grayFromColor(img.data, n, 3) };
}

/**
 * n pixels of 3 (RGB) or 4 (RGBA, alpha ignored) interleaved channels to one 8-bit channel: gray pixels
 * stay as they are, others get BT.601 luma. decodeGray uses it, and so does inference on decoded pixels.
 */
export function grayFromColor(d: ArrayLike<number>, n: number, channels: 3 | 4): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += channels) {
    const r = d[j], g = d[j + 1], b = d[j + 2];
    out[i] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return out;
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  K: number;
}

/**
 * Resampling taps of a triangle (bilinear) filter whose support grows with the reduction factor, so each
 * output pixel averages every input pixel under it (anti-aliased, as PIL's ImageResampling does).
 */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const fs = Math.max(1, scale);
  const support = fs;
  const K = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize), weights = new Float32Array(outSize * K);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let tot = 0;
    for (let k = lo; k < hi; k++) {
      const t = Math.abs((k + 0.5 - center) / fs);
      const wk = t < 1 ? 1 - t : 0;
      weights[i * K + (k - lo)] = wk;
      tot += wk;
    }
    for (let k = 0; k < hi - lo; k++) weights[i * K + k] /= tot || 1;
    start[i] = lo;
    count[i] = hi - lo;
  }
  return { start, count, weights, K };
}

/**
 * Resize a grayscale image to S x S (the whole image, aspect not kept, as torchvision's Resize((S,S)))
 * with a separable anti-aliased triangle filter; writes S*S bytes to out at offset.
 */
export function resizeGray(src: Uint8Array, width: number, height: number, S: number, out: Uint8Array, offset = 0): void {
  const tx = taps(width, S), ty = taps(height, S);
  const mid = new Float32Array(height * S);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let i = 0; i < S; i++) {
      let s = 0;
      const st = tx.start[i], c = tx.count[i], wo = i * tx.K;
      for (let k = 0; k < c; k++) s += src[row + st + k] * tx.weights[wo + k];
      mid[y * S + i] = s;
    }
  }
  for (let j = 0; j < S; j++) {
    const st = ty.start[j], c = ty.count[j], wo = j * ty.K;
    for (let i = 0; i < S; i++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += mid[(st + k) * S + i] * ty.weights[wo + k];
      out[offset + j * S + i] = s <= 0 ? 0 : s >= 255 ? 255 : Math.round(s);
    }
  }
}
