/**
 * Prepared images: decoded once (sharp by default, jpeg-js on request or where sharp cannot load; on a
 * Piscina pool, or inline with threads 1), resized to S x S, and kept in a chunked, checksummed, resumable
 * cache file (src/data/image-store.ts) that later runs read instead of the JPEGs. Up to `memoryLimit` bytes
 * of pixels the store is read into a SharedArrayBuffer as before; past it, the cache file itself is the store
 * (rows read per batch with positional reads; src/data/pixel-store.ts).
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { fnv1a } from './checksum.ts';
import { IMG_CORRUPT, IMG_MISSING_FILE, IMG_NONE, IMG_OK, runDecodeTask } from './decode-task.ts';
import type { DecodeResult, DecodeTask } from './decode-task.ts';
import { DECODER_ID, resolveDecoder } from './decoders.ts';
import type { DecoderName } from './decoders.ts';
import { CACHE_VERSION, CacheBuilder, CacheWriteError, cacheLayout, readCacheFile } from './image-store.ts';
import type { CacheHeader } from './image-store.ts';
import { DEFAULT_DECODE_LIMITS } from './jpeg.ts';
import type { DecodeLimits } from './jpeg.ts';
import { readPixelRows } from './pixel-store.ts';
import type { PixelFile } from './pixel-store.ts';

export { checksum32 } from './checksum.ts';
export { CACHE_MAGIC, CACHE_VERSION } from './image-store.ts';

/** Pixels kept in memory (a SharedArrayBuffer) up to this many bytes; larger stores are file-backed. */
export const DEFAULT_MEMORY_LIMIT = 2 ** 31;
/** RF_IMAGE_MEMORY_LIMIT (bytes; 0 makes every store file-backed): the operator's cap on in-memory pixels. */
function envMemoryLimit(): number | undefined {
  const v = process.env.RF_IMAGE_MEMORY_LIMIT;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!(Number.isFinite(n) && n >= 0)) throw new Error(`RF_IMAGE_MEMORY_LIMIT: a number of bytes >= 0, got '${v}'`);
  return n;
}
/** Bytes of pixels per cache chunk (the unit of resume, and all a build holds in memory). */
export const DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024;

/** The decoded images of a study list: status per slot and pixels, in memory or file-backed. */
export interface ImageSet {
  S: number;
  count: number;
  status: Uint8Array;
  /** [count*S*S] on a SharedArrayBuffer; empty when file-backed (then `pixelFile`). */
  pixels: Uint8Array;
  /** The file-backed store (identity slot map), when the pixels are over `memoryLimit`. */
  pixelFile?: PixelFile;
  /** Error text per slot for missing or unreadable files (generic for slots decoded by an earlier run). */
  messages: string[];
  cacheFile: string;
  hit: boolean;
  rebuiltReason?: string;
  decoder: DecoderName;
}

export interface ImageOptions {
  S: number;
  /** Folder of the cache file; when absent, `dataDir` if writable, else a per-user cache folder (logged). */
  cacheDir?: string;
  /** The data set folder (the default cache folder). */
  dataDir?: string;
  threads?: number;
  limits?: DecodeLimits;
  /** 'sharp' (default) or 'jpeg-js'. */
  decoder?: DecoderName;
  /** Pixels kept in memory up to this many bytes (default DEFAULT_MEMORY_LIMIT); past it, file-backed. */
  memoryLimit?: number;
  /** Bytes of pixels per cache chunk (default DEFAULT_CHUNK_BYTES; at least one image). */
  chunkBytes?: number;
  /** Notices and build progress lines (default: stderr). Progress is logged every 5 s of a build. */
  log?: (line: string) => void;
  onProgress?: (done: number, total: number, phase: string) => void;
  /** Test hook: the build stops with an error after this many chunks (as an interruption would). */
  stopAfterChunks?: number;
  /** Test hook: writing chunk number k (0-based, counted in this run) fails as a full disk does. */
  failWriteAtChunk?: number;
}

/**
 * The cache key: S, the decoder, each relative path with its size and modification time in ns (-1 when
 * absent), so rewriting an image with other bytes of the same size is noticed.
 */
export function imageKey(root: string, rel: string[], S: number, decoder: DecoderName = 'sharp'): number {
  let h = fnv1a(`S=${S};v=${CACHE_VERSION};d=${decoder};n=${rel.length};`);
  for (const r of rel) {
    let sig = '-1';
    if (r) {
      try {
        const st = statSync(join(root, r), { bigint: true });
        sig = `${st.size}@${st.mtimeNs}`;
      } catch {
        sig = '-1';
      }
    }
    h = fnv1a(`${r}:${sig};`, h);
  }
  return h;
}

/** The per-user cache folder used when the data set folder is read-only. */
export function fallbackCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg || (existsSync(homedir()) ? join(homedir(), '.cache') : tmpdir());
  return join(base, 'resilient-fusion');
}

function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    // access() says yes to root on a read-only mount; a real create says the truth.
    const probe = join(dir, `.rf-write-probe-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    rmSync(probe, { force: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Read a finished cache file (any decoder and chunk size, as its header says) into memory: the status and
 * pixels, or the reason it cannot be used. Kept for tools and tests; loadImages reads through image-store.
 */
export function readImageCache(file: string, S: number, count: number, key: number): ImageSet | string {
  if (!existsSync(file)) return 'no cache';
  let head: Buffer;
  try {
    const fd = openSync(file, 'r');
    head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    closeSync(fd);
  } catch (e) {
    return `cannot read cache: ${(e as Error).message}`;
  }
  const decoderId = head.readUInt32LE(24), chunkRows = head.readUInt32LE(28);
  const decoder = (Object.keys(DECODER_ID) as DecoderName[]).find((d) => DECODER_ID[d] === decoderId) ?? 'jpeg-js';
  return openImageSet(file, { S, count, key, decoderId, chunkRows: Math.max(1, chunkRows) }, decoder, Infinity);
}

/** Open a finished cache as an ImageSet: in memory up to memoryLimit bytes of pixels, else file-backed. */
function openImageSet(file: string, h: CacheHeader, decoder: DecoderName, memoryLimit: number): ImageSet | string {
  const bytes = h.count * h.S * h.S;
  const inMemory = bytes <= memoryLimit;
  const pixels = inMemory ? new Uint8Array(new SharedArrayBuffer(bytes)) : new Uint8Array(0);
  const r = readCacheFile(file, h, inMemory ? pixels : undefined);
  if (typeof r === 'string') return r;
  const messages = Array.from(r.status, (s) => (s === IMG_MISSING_FILE ? 'image file missing or unreadable' : s === IMG_CORRUPT ? 'unreadable JPEG (cached)' : ''));
  const slot = new Int32Array(new SharedArrayBuffer(4 * h.count));
  for (let i = 0; i < h.count; i++) slot[i] = i;
  const set: ImageSet = { S: h.S, count: h.count, status: r.status, pixels, messages, cacheFile: file, hit: true, decoder };
  if (!inMemory) set.pixelFile = { file, offset: r.pixelsAt, S: h.S, slot };
  return set;
}

/** Images per chunk for S and a chunk size in bytes. */
function chunkRowsFor(S: number, chunkBytes: number, count: number): number {
  return Math.max(1, Math.min(Math.max(1, count), Math.floor(chunkBytes / (S * S))));
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  return h ? `${h}h${String(m % 60).padStart(2, '0')}m` : m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** A decoding pool (or inline decoding) over the chunks of a build. */
class Decoder {
  private pool?: Piscina;
  constructor(private readonly threads: number) {}
  async run(tasks: DecodeTask[], each: (t: DecodeTask, r: DecodeResult) => void): Promise<void> {
    if (this.threads <= 1 || tasks.length <= 1) {
      for (const t of tasks) each(t, await runDecodeTask(t));
      return;
    }
    this.pool ??= new Piscina({
      filename: new URL('../../workers/decode.mjs', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      concurrentTasksPerWorker: 1,
    });
    await Promise.all(tasks.map((t) => this.pool!.run(t).then((r: DecodeResult) => each(t, r))));
  }
  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}

/**
 * Decoder threads for `asked` (default: all cores): at most one per core, since more only share cores and each
 * holds a decoder's memory (`--threads 99999` once started 828 threads and 4.6 GB before any output).
 */
export function decoderThreads(asked: number | undefined, cores: number): number {
  return Math.max(1, Math.min(asked ?? cores, cores));
}

/**
 * Build (or resume) the cache file: each chunk not yet done is decoded into one chunk-sized shared buffer,
 * written, synced and marked done; then the partial file is renamed. Only one chunk is ever in memory.
 * Returns the messages of the slots decoded in this run.
 */
async function buildCache(root: string, rel: string[], file: string, h: CacheHeader, decoder: DecoderName, opts: ImageOptions): Promise<string[]> {
  const S = h.S, SS = S * S;
  const messages = new Array<string>(rel.length).fill('');
  const limits = opts.limits ?? DEFAULT_DECODE_LIMITS;
  const threads = decoderThreads(opts.threads, availableParallelism());
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const b = new CacheBuilder(file, h);
  const pool = new Decoder(threads);
  const total = rel.filter((r) => r).length;
  let done = 0, decodedNow = 0, written = 0;
  for (let c = 0; c < b.done.length; c++) if (b.done[c]) { const [a, e] = b.chunkRange(c); for (let i = a; i < e; i++) if (rel[i]) done++; }
  const resumed = b.done.filter(Boolean).length;
  if (resumed) log(`images: resuming ${b.partial}: ${resumed}/${b.done.length} chunks already built`);
  const t0 = performance.now();
  let lastLog = t0;
  const out = new SharedArrayBuffer(h.chunkRows * SS);
  try {
    for (let c = 0; c < b.done.length; c++) {
      if (b.done[c]) continue;
      if (opts.stopAfterChunks !== undefined && written >= opts.stopAfterChunks) throw new Error(`image cache build stopped after ${written} chunks (test hook)`);
      const [a, e] = b.chunkRange(c);
      const status = new Uint8Array(e - a).fill(IMG_NONE);
      const px = new Uint8Array(out, 0, (e - a) * SS);
      px.fill(0);
      const todo: number[] = [];
      for (let i = a; i < e; i++) if (rel[i]) todo.push(i);
      const per = Math.max(1, Math.min(16, Math.ceil(todo.length / (threads * 4))));
      const tasks: DecodeTask[] = [];
      for (let k = 0; k < todo.length; k += per) {
        const slots = todo.slice(k, k + per);
        tasks.push({ paths: slots.map((i) => join(root, rel[i])), slots: slots.map((i) => i - a), S, out, limits, decoder });
      }
      await pool.run(tasks, (t, r) => {
        t.slots.forEach((row, k) => {
          status[row] = r.status[k];
          messages[a + row] = r.messages[k];
        });
        done += t.slots.length;
        decodedNow += t.slots.length;
        opts.onProgress?.(done, total, 'decode');
      });
      if (opts.failWriteAtChunk === written) {
        b.abort(true);
        throw new CacheWriteError(b.partial, Object.assign(new Error('ENOSPC: no space left on device, write (test hook)'), { code: 'ENOSPC' }));
      }
      b.writeChunk(c, status, px);
      written++;
      const now = performance.now();
      if (now - lastLog > 5000) {
        lastLog = now;
        const rate = decodedNow / ((now - t0) / 1000);
        log(`images: ${done}/${total} decoded into ${b.partial} (${rate.toFixed(1)} images/s, ETA ${fmtDuration((total - done) / rate)})`);
      }
    }
    b.finish();
  } catch (e) {
    if (e instanceof CacheWriteError) throw e;
    b.abort(false);
    throw new Error(`${(e as Error).message}; the partial image cache ${b.partial} is kept and the next run resumes from it`);
  } finally {
    await pool.close();
  }
  const secs = (performance.now() - t0) / 1000;
  if (secs > 5) log(`images: built ${file}: ${decodedNow} images in ${fmtDuration(secs)} (${(decodedNow / secs).toFixed(1)} images/s)`);
  return messages;
}

/** The cache folder candidates: the explicit one, else the data set folder then the per-user fallback. */
function cacheDirs(opts: ImageOptions): string[] {
  if (opts.cacheDir) return [opts.cacheDir];
  return [opts.dataDir ?? '.', fallbackCacheDir()];
}

/**
 * The images of a study list at size S: from the cache when it matches, else decoded (resuming an
 * interrupted build) and cached. `rel` holds each slot's image path relative to `root` ('' for none).
 */
export async function loadImages(root: string, rel: string[], opts: ImageOptions): Promise<ImageSet> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { decoder, notice } = resolveDecoder(opts.decoder);
  if (notice) log(notice);
  const S = opts.S, count = rel.length;
  opts.onProgress?.(0, count, 'image key');
  const key = imageKey(root, rel, S, decoder);
  opts.onProgress?.(0, count, 'image cache');
  const h: CacheHeader = { S, count, key, decoderId: DECODER_ID[decoder], chunkRows: chunkRowsFor(S, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, count) };
  const name = `images-S${S}-${decoder}-${key.toString(16).padStart(8, '0')}.rfcache`;
  const memoryLimit = opts.memoryLimit ?? envMemoryLimit() ?? DEFAULT_MEMORY_LIMIT;
  const dirs = cacheDirs(opts);
  let reason = 'no cache';
  for (const d of dirs) {
    const got = openImageSet(join(d, name), h, decoder, memoryLimit);
    if (typeof got !== 'string') return got;
    if (d === dirs[0]) reason = got;
  }
  let dir = dirs[0];
  if (!opts.cacheDir && !writable(dir)) {
    dir = dirs[1];
    mkdirSync(dir, { recursive: true });
    log(`images: ${dirs[0]} is not writable; the image cache goes to ${dir}`);
  } else mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  const messages = await buildCache(root, rel, file, h, decoder, opts);
  const set = openImageSet(file, h, decoder, memoryLimit);
  if (typeof set === 'string') throw new Error(`image cache ${file} unreadable right after building it: ${set}`);
  set.messages = set.messages.map((m, i) => messages[i] || m);
  return { ...set, hit: false, rebuiltReason: reason === 'no cache' ? undefined : reason };
}

/**
 * The pixel store of the kept samples (keep: increasing slot indices) and the training split's pixel
 * statistics. In memory: the rows compacted in place, as before. File-backed: a slot map instead (no pixel
 * moves), statistics read one row at a time. Same sums in the same order, so the same mean and std.
 */
export function keepPixels(images: ImageSet, keep: number[], split: Uint8Array): { pixels: Uint8Array; pixelFile?: PixelFile; hasImage: Uint8Array; pixelMean: number; pixelStd: number } {
  const S = images.S, SS = S * S, n = keep.length;
  const hasImage = new Uint8Array(new SharedArrayBuffer(n));
  const pixAll = images.pixels;
  const file = images.pixelFile;
  const slot = file ? new Int32Array(new SharedArrayBuffer(4 * n)).fill(-1) : undefined;
  const pixelFile: PixelFile | undefined = file && slot ? { ...file, slot } : undefined;
  const row = new Uint8Array(SS);
  let pc = 0, p1 = 0, p2 = 0;
  keep.forEach((i, s) => {
    if (images.status[i] !== IMG_OK) {
      if (!file) pixAll.fill(0, s * SS, (s + 1) * SS);
      return;
    }
    hasImage[s] = 1;
    let src: Uint8Array;
    if (file) {
      slot![s] = file.slot[i];
      if (split[s] !== 0) return;
      readPixelRowsOf(pixelFile!, s, row);
      src = row;
    } else {
      if (i !== s) pixAll.copyWithin(s * SS, i * SS, (i + 1) * SS);
      if (split[s] !== 0) return;
      src = pixAll.subarray(s * SS, (s + 1) * SS);
    }
    let a = 0, b = 0;
    for (let k = 0; k < SS; k++) {
      const v = src[k];
      a += v;
      b += v * v;
    }
    pc += SS;
    p1 += a;
    p2 += b;
  });
  const pixels = file ? pixAll : new Uint8Array(pixAll.buffer, pixAll.byteOffset, n * SS);
  const pixelMean = pc ? p1 / pc / 255 : 0.5;
  const pixelVar = pc ? p2 / pc / (255 * 255) - pixelMean * pixelMean : 0;
  const pixelStd = pixelVar > 1e-12 ? Math.sqrt(pixelVar) : 1;
  return { pixels, pixelFile, hasImage, pixelMean, pixelStd };
}

function readPixelRowsOf(f: PixelFile, s: number, dst: Uint8Array): void {
  readPixelRows({ S: f.S, pixels: new Uint8Array(0), pixelFile: f }, [s], dst);
}
/** Bytes of a cache file for a list of `count` slots at S (header, chunk table, status, pixels). */
export function cacheFileBytes(S: number, count: number, chunkBytes = DEFAULT_CHUNK_BYTES): number {
  return cacheLayout({ S, count, key: 0, decoderId: 1, chunkRows: chunkRowsFor(S, chunkBytes, count) }).size;
}

export { IMG_CORRUPT, IMG_MISSING_FILE, IMG_NONE, IMG_OK };
