/**
 * Prepared images: decoded once (on a Piscina pool, or inline with threads 1), resized to S x S, and kept in
 * a versioned binary cache that later runs read instead of the JPEGs.
 *
 * Cache file layout (little-endian), `images-S{S}-{key}.rfcache`:
 *   0  8 bytes  magic "RFIMGC\0\0"
 *   8  u32      version (CACHE_VERSION)
 *  12  u32      S
 *  16  u32      count (slots: one per study, in the reader's study order)
 *  20  u32      key: hash of the image list (relative paths and file sizes) and S
 *  24  u32      checksum of everything after the header (checksum32)
 *  28..63       zero
 *  64  count bytes of status (IMG_NONE, IMG_OK, IMG_MISSING_FILE, IMG_CORRUPT), padded to a multiple of 8
 *  ..  count * S * S bytes of pixels, row-major, 0 for slots without an image
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Piscina } from 'piscina';
import { fnv1a } from './rng.ts';
import { IMG_CORRUPT, IMG_MISSING_FILE, IMG_NONE, IMG_OK, runDecodeTask } from './decode-task.ts';
import type { DecodeResult, DecodeTask } from './decode-task.ts';
import { DEFAULT_DECODE_LIMITS } from './jpeg.ts';
import type { DecodeLimits } from './jpeg.ts';

export const CACHE_MAGIC = 'RFIMGC\0\0';
export const CACHE_VERSION = 1;
const HEADER = 64;

/** A fast 32-bit checksum (word-wise multiply-rotate, FNV-style tail) of a byte range. */
export function checksum32(b: Uint8Array): number {
  let h = 0x811c9dc5;
  const nw = b.length >>> 2;
  if ((b.byteOffset & 3) === 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset, nw);
    for (let i = 0; i < nw; i++) {
      h = Math.imul(h ^ w[i], 0x01000193);
      h = (h << 13) | (h >>> 19);
    }
  } else {
    for (let i = 0; i < nw; i++) {
      const x = b[4 * i] | (b[4 * i + 1] << 8) | (b[4 * i + 2] << 16) | (b[4 * i + 3] << 24);
      h = Math.imul(h ^ x, 0x01000193);
      h = (h << 13) | (h >>> 19);
    }
  }
  for (let i = nw * 4; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

/** The decoded images of a study list: status per slot and pixels [count * S * S] on a SharedArrayBuffer. */
export interface ImageSet {
  S: number;
  count: number;
  status: Uint8Array;
  pixels: Uint8Array;
  /** Error text per slot for missing or unreadable files (empty on a cache hit except the generic reason). */
  messages: string[];
  cacheFile: string;
  hit: boolean;
  rebuiltReason?: string;
}

export interface ImageOptions {
  S: number;
  /** Folder of the cache file. */
  cacheDir: string;
  threads?: number;
  limits?: DecodeLimits;
  onProgress?: (done: number, total: number, phase: string) => void;
}

/** The cache key: S, each relative path and its size (-1 when absent). */
export function imageKey(root: string, rel: string[], S: number): number {
  let h = fnv1a(`S=${S};v=${CACHE_VERSION};n=${rel.length};`);
  for (const r of rel) {
    let size = -1;
    if (r) {
      try {
        size = statSync(join(root, r)).size;
      } catch {
        size = -1;
      }
    }
    h = fnv1a(`${r}:${size};`, h);
  }
  return h;
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/** Read a cache file into shared memory; returns a reason string when it is absent or does not match. */
export function readImageCache(file: string, S: number, count: number, key: number): ImageSet | string {
  if (!existsSync(file)) return 'no cache';
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(HEADER);
    if (readSync(fd, head, 0, HEADER, 0) !== HEADER) return 'cache header truncated';
    if (head.toString('latin1', 0, 8) !== CACHE_MAGIC) return 'not a cache file (bad magic)';
    const version = head.readUInt32LE(8);
    if (version !== CACHE_VERSION) return `cache version ${version}, expected ${CACHE_VERSION}`;
    if (head.readUInt32LE(12) !== S || head.readUInt32LE(16) !== count || head.readUInt32LE(20) !== key) return 'cache is for another image list or size';
    const body = pad8(count) + count * S * S;
    if (size !== HEADER + body) return `cache size ${size}, expected ${HEADER + body} (truncated?)`;
    const sab = new SharedArrayBuffer(body);
    const all = new Uint8Array(sab);
    let off = 0;
    while (off < body) {
      const n = readSync(fd, all, off, Math.min(body - off, 1 << 30), HEADER + off);
      if (n <= 0) return 'cache truncated';
      off += n;
    }
    if (checksum32(all) !== head.readUInt32LE(24)) return 'cache checksum mismatch (corrupted)';
    const status = all.subarray(0, count);
    const messages = Array.from(status, (s) => (s === IMG_MISSING_FILE ? 'image file missing' : s === IMG_CORRUPT ? 'unreadable JPEG (cached)' : ''));
    return { S, count, status, pixels: new Uint8Array(sab, pad8(count), count * S * S), messages, cacheFile: file, hit: true };
  } finally {
    closeSync(fd);
  }
}

/** Write a cache atomically (temporary file, then rename). */
export function writeImageCache(file: string, set: { S: number; count: number; status: Uint8Array; pixels: Uint8Array }, key: number): void {
  mkdirSync(dirname(file), { recursive: true });
  const body = new Uint8Array(pad8(set.count) + set.pixels.length);
  body.set(set.status, 0);
  body.set(set.pixels, pad8(set.count));
  const head = Buffer.alloc(HEADER);
  head.write(CACHE_MAGIC, 0, 'latin1');
  head.writeUInt32LE(CACHE_VERSION, 8);
  head.writeUInt32LE(set.S, 12);
  head.writeUInt32LE(set.count, 16);
  head.writeUInt32LE(key, 20);
  head.writeUInt32LE(checksum32(body), 24);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, head);
    let off = 0;
    while (off < body.length) off += writeSync(fd, body, off, Math.min(body.length - off, 1 << 30));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Decode the listed images (rel[i] '' = no image for slot i) into shared memory, on `threads` threads. */
export async function decodeImages(root: string, rel: string[], opts: ImageOptions): Promise<Pick<ImageSet, 'status' | 'pixels' | 'messages'>> {
  const { S } = opts;
  const count = rel.length;
  const sab = new SharedArrayBuffer(count * S * S);
  const status = new Uint8Array(count).fill(IMG_NONE);
  const messages = new Array<string>(count).fill('');
  const todo: number[] = [];
  for (let i = 0; i < count; i++) if (rel[i]) todo.push(i);
  const limits = opts.limits ?? DEFAULT_DECODE_LIMITS;
  const threads = Math.max(1, opts.threads ?? availableParallelism());
  const chunk = Math.max(1, Math.min(16, Math.ceil(todo.length / (threads * 4))));
  const tasks: DecodeTask[] = [];
  for (let a = 0; a < todo.length; a += chunk) {
    const slots = todo.slice(a, a + chunk);
    tasks.push({ paths: slots.map((i) => join(root, rel[i])), slots, S, out: sab, limits });
  }
  let done = 0;
  const finish = (t: DecodeTask, r: DecodeResult) => {
    t.slots.forEach((slot, k) => {
      status[slot] = r.status[k];
      messages[slot] = r.messages[k];
    });
    done += t.slots.length;
    opts.onProgress?.(done, todo.length, 'decode');
  };
  if (threads <= 1 || tasks.length <= 1) {
    for (const t of tasks) finish(t, runDecodeTask(t));
  } else {
    const pool = new Piscina({
      filename: new URL('../../workers/decode.mjs', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: 1,
    });
    try {
      await Promise.all(tasks.map((t) => pool.run(t).then((r: DecodeResult) => finish(t, r))));
    } finally {
      await pool.destroy();
    }
  }
  return { status, pixels: new Uint8Array(sab), messages };
}

/**
 * The images of a study list at size S: from the cache when it matches, else decoded and cached.
 * `rel` holds each slot's image path relative to `root` ('' for none).
 */
export async function loadImages(root: string, rel: string[], opts: ImageOptions): Promise<ImageSet> {
  const key = imageKey(root, rel, opts.S);
  const file = join(opts.cacheDir, `images-S${opts.S}-${key.toString(16).padStart(8, '0')}.rfcache`);
  const cached = readImageCache(file, opts.S, rel.length, key);
  if (typeof cached !== 'string') return cached;
  const d = await decodeImages(root, rel, opts);
  writeImageCache(file, { S: opts.S, count: rel.length, status: d.status, pixels: d.pixels }, key);
  return { S: opts.S, count: rel.length, ...d, cacheFile: file, hit: false, rebuiltReason: cached === 'no cache' ? undefined : cached };
}

export { IMG_CORRUPT, IMG_MISSING_FILE, IMG_NONE, IMG_OK };
