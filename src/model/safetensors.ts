/**
 * safetensors (https://github.com/huggingface/safetensors), the checkpoint format of PyTorch and Hugging
 * Face: an 8-byte little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets},
 * "__metadata__": {string: string}}`, then the raw row-major data. Only F32 is read and written here.
 *
 * The reader treats the file as hostile: every length and offset is checked before use, the header is
 * parsed with JSON.parse only (nothing is ever evaluated), and each failure says what is wrong.
 */

/** Headers beyond this are rejected before anything is parsed (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafeTensor {
  dtype: 'F32';
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  /** The `__metadata__` entries (string -> string); empty if absent. */
  metadata: Record<string, string>;
  /** Tensors by name (a null-prototype object: a tensor named `__proto__` is just a name). */
  tensors: Record<string, SafeTensor>;
  /** Tensor names in header order. */
  names: string[];
}

/** The dtypes of the format, so an unsupported one and a made-up one get different messages. */
const KNOWN_DTYPES = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(msg: string): never {
  throw new Error(`safetensors: ${msg}`);
}

/**
 * Serialize tensors (in the given order, as F32) and string metadata. The header is padded with spaces to
 * a multiple of 8 bytes, as the reference writer does, so the data starts aligned.
 */
export function writeSafetensors(tensors: Record<string, { shape: number[]; data: ArrayLike<number> }>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') fail(`metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  let pos = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') fail(`'__metadata__' cannot be a tensor name`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) fail(`tensor '${name}': shape [${t.shape}] holds ${n} values, data has ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [pos, pos + 4 * n] };
    pos += 4 * n;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + pos);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, t] of entries) {
    const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    if (LITTLE_ENDIAN) out.set(new Uint8Array(f.buffer, f.byteOffset, f.byteLength), at);
    else for (let i = 0; i < f.length; i++) dv.setFloat32(at + 4 * i, f[i], true);
    at += f.byteLength;
  }
  return out;
}

/** Parse and validate a safetensors file held in memory. Throws `safetensors: ...` on anything malformed. */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length (truncated?)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES / 1e6} MB limit`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the file (${bytes.length} bytes; truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n, dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = Object.create(null);
  const tensors: Record<string, SafeTensor> = Object.create(null);
  const spans: { name: string; begin: number; end: number }[] = [];
  const names: string[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ entry '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail(`tensor '${name}': entry is not an object`);
    const { dtype, shape, data_offsets: off } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') fail(`tensor '${name}': missing dtype`);
    if (!KNOWN_DTYPES.includes(dtype)) fail(`tensor '${name}': unknown dtype '${dtype}'`);
    if (dtype !== 'F32') fail(`tensor '${name}': dtype ${dtype} is not supported (only F32)`);
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}': data_offsets ${JSON.stringify(off)} is not a pair of non-negative integers`);
    }
    const [begin, end] = off as [number, number];
    if (begin > end || end > dataLen) fail(`tensor '${name}': data_offsets [${begin}, ${end}] are out of range of the ${dataLen}-byte data (truncated file?)`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== numel * 4) fail(`tensor '${name}': data_offsets span ${end - begin} bytes but shape [${shape}] of F32 needs ${numel * 4}`);
    spans.push({ name, begin, end });
    names.push(name);
    tensors[name] = { dtype: 'F32', shape: shape as number[], data: new Float32Array(0) };
  }
  // The data must be covered exactly once: no overlaps, no holes (as the reference reader requires).
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < sorted.length; i++) {
    const s = sorted[i];
    if (i > 0 && s.begin < sorted[i - 1].end) fail(`tensors '${sorted[i - 1].name}' and '${s.name}' overlap (data_offsets [${sorted[i - 1].begin}, ${sorted[i - 1].end}] and [${s.begin}, ${s.end}])`);
    if (s.begin > covered) fail(`data bytes ${covered}..${s.begin} belong to no tensor`);
    covered = Math.max(covered, s.end);
  }
  if (covered !== dataLen) fail(`data bytes ${covered}..${dataLen} belong to no tensor`);
  for (const s of spans) {
    const t = tensors[s.name];
    const count = (s.end - s.begin) / 4;
    if (LITTLE_ENDIAN) {
      const start = bytes.byteOffset + dataStart + s.begin;
      t.data = new Float32Array(bytes.buffer.slice(start, start + count * 4));
    } else {
      t.data = new Float32Array(count);
      for (let i = 0; i < count; i++) t.data[i] = dv.getFloat32(dataStart + s.begin + 4 * i, true);
    }
  }
  return { metadata, tensors, names };
}

