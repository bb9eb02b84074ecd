/**
 * The image cache file: written chunk by chunk (each chunk checksummed, so an interrupted build resumes at
 * the first chunk not done), verified chunk by chunk when opened, and read either whole into memory or row by
 * row with positional reads (the file-backed pixel store, src/data/pixel-store.ts), so no store size is
 * ever held twice and none is bounded by a typed array's 2^32 bytes or by RAM.
 *
 * Layout (little-endian), `images-S{S}-{decoder}-{key}.rfcache` (`.partial` while building):
 *   0  8 bytes  magic "RFIMGC\0\0"
 *   8  u32      version (CACHE_VERSION = 2)
 *  12  u32      S
 *  16  u32      count (slots: one per study, in the reader's study order)
 *  20  u32      key (imageKey: the image list with each file's size and modification time, S, decoder)
 *  24  u32      decoder id (1 jpeg-js, 2 sharp)
 *  28  u32      chunkRows (slots per chunk; the last chunk may be shorter)
 *  32  u32      chunks
 *  36  u32      checksum32 of bytes 0..35
 *  40..63       zero
 *  64  chunks x (u32 done = 1, u32 checksum of the chunk's status bytes and pixels), padded to 8
 *  ..  count bytes of status (IMG_NONE, IMG_OK, IMG_MISSING_FILE, IMG_CORRUPT), padded to 8
 *  ..  count * S * S bytes of pixels, row-major, 0 for slots without an image
 */
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { releasePidLock, takePidLock } from '../node/files.ts';
import { checksum32 } from './checksum.ts';
import { setPixelFileReader } from './pixel-store.ts';
import type { PixelFile } from './pixel-store.ts';

export const CACHE_MAGIC = 'RFIMGC\0\0';
export const CACHE_VERSION = 2;
const HEADER = 64;

/** What identifies a cache. */
export interface CacheHeader {
  S: number;
  count: number;
  key: number;
  decoderId: number;
  chunkRows: number;
}

/** Byte offsets of a cache's parts. */
export interface CacheLayout {
  chunks: number;
  tableAt: number;
  statusAt: number;
  pixelsAt: number;
  size: number;
}

const pad8 = (n: number): number => Math.ceil(n / 8) * 8;

export function cacheLayout(h: CacheHeader): CacheLayout {
  const chunks = Math.ceil(h.count / h.chunkRows);
  const tableAt = HEADER, statusAt = tableAt + pad8(8 * chunks), pixelsAt = statusAt + pad8(h.count);
  return { chunks, tableAt, statusAt, pixelsAt, size: pixelsAt + h.count * h.S * h.S };
}

function headerBytes(h: CacheHeader): Buffer {
  const b = Buffer.alloc(HEADER);
  b.write(CACHE_MAGIC, 0, 'latin1');
  [CACHE_VERSION, h.S, h.count, h.key, h.decoderId, h.chunkRows, cacheLayout(h).chunks].forEach((v, i) => b.writeUInt32LE(v >>> 0, 8 + 4 * i));
  b.writeUInt32LE(checksum32(b.subarray(0, 36)), 36);
  return b;
}

/** Why a header does not match the expected one ('' when it does). */
function headerMismatch(b: Buffer, want: CacheHeader): string {
  if (b.toString('latin1', 0, 8) !== CACHE_MAGIC) return 'not a cache file (bad magic)';
  const version = b.readUInt32LE(8);
  if (version !== CACHE_VERSION) return `cache version ${version}, expected ${CACHE_VERSION}`;
  if (b.readUInt32LE(36) !== checksum32(b.subarray(0, 36))) return 'cache header checksum mismatch (corrupted)';
  if (b.readUInt32LE(24) !== want.decoderId) return 'cache made by another decoder';
  if (b.readUInt32LE(12) !== want.S || b.readUInt32LE(16) !== want.count || b.readUInt32LE(20) !== want.key) return 'cache is for another image list or size';
  if (b.readUInt32LE(28) !== want.chunkRows) return 'cache has another chunk size';
  return '';
}

/** Checksum of one chunk: its status bytes and its pixels. */
export function chunkChecksum(status: Uint8Array, pixels: Uint8Array): number {
  return (Math.imul(checksum32(status), 0x9e3779b1) ^ checksum32(pixels)) >>> 0;
}

function readFully(fd: number, dst: Uint8Array, pos: number): boolean {
  let off = 0;
  while (off < dst.length) {
    const n = readSync(fd, dst, off, Math.min(dst.length - off, 1 << 30), pos + off);
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

function writeFully(fd: number, src: Uint8Array, pos: number): void {
  let off = 0;
  while (off < src.length) off += writeSync(fd, src, off, Math.min(src.length - off, 1 << 30), pos + off);
}

/** Chunk c's slot range. */
function chunkRange(h: CacheHeader, c: number): [number, number] {
  return [c * h.chunkRows, Math.min(h.count, (c + 1) * h.chunkRows)];
}

/**
 * Check which chunks of an open cache file are done and intact (status and pixels re-read and checksummed,
 * one chunk in memory at a time). With `status`, the done chunks' status bytes are copied there; with
 * `pixels` (count * S * S), their pixels too.
 */
function verifyChunks(fd: number, h: CacheHeader, status?: Uint8Array, pixels?: Uint8Array): boolean[] {
  const L = cacheLayout(h), SS = h.S * h.S;
  const table = Buffer.alloc(8 * L.chunks);
  const done = new Array<boolean>(L.chunks).fill(false);
  if (!readFully(fd, table, L.tableAt)) return done;
  let scratch: Uint8Array | undefined;
  for (let c = 0; c < L.chunks; c++) {
    if (table.readUInt32LE(8 * c) !== 1) continue;
    const [a, b] = chunkRange(h, c);
    const st = new Uint8Array(b - a);
    const px = pixels ? pixels.subarray(a * SS, b * SS) : (scratch = scratch && scratch.length >= (b - a) * SS ? scratch : new Uint8Array((b - a) * SS)).subarray(0, (b - a) * SS);
    if (!readFully(fd, st, L.statusAt + a) || !readFully(fd, px, L.pixelsAt + a * SS)) continue;
    if (chunkChecksum(st, px) !== table.readUInt32LE(8 * c + 4)) continue;
    done[c] = true;
    status?.set(st, a);
  }
  return done;
}

/**
 * Open a finished cache: header checked, every chunk verified. Returns the status bytes (and the pixels in
 * `pixels` when given), or a reason string when the file is absent, of another list, or damaged.
 */
export function readCacheFile(file: string, want: CacheHeader, pixels?: Uint8Array): { status: Uint8Array; pixelsAt: number } | string {
  if (!existsSync(file)) return 'no cache';
  const fd = openSync(file, 'r');
  try {
    const L = cacheLayout(want);
    const head = Buffer.alloc(HEADER);
    if (!readFully(fd, head, 0)) return 'cache header truncated';
    const why = headerMismatch(head, want);
    if (why) return why;
    const size = fstatSync(fd).size;
    if (size !== L.size) return `cache size ${size}, expected ${L.size} (truncated?)`;
    const status = new Uint8Array(want.count);
    const done = verifyChunks(fd, want, status, pixels);
    const bad = done.indexOf(false);
    if (bad >= 0) return `cache chunk ${bad} of ${L.chunks} fails its checksum (corrupted)`;
    return { status, pixelsAt: L.pixelsAt };
  } finally {
    closeSync(fd);
  }
}

/**
 * One builder per partial file: a lock file holding the builder's pid, taken with O_EXCL. A lock whose process
 * is gone (killed) is taken over; a live one is an error naming both files (two runs decoding the same list
 * into one partial file would overwrite each other's chunks).
 */
function takeLock(lock: string): void {
  takePidLock(
    lock,
    (pid) => `image cache ${lock.slice(0, -'.partial.lock'.length)} is being built by process ${pid} (lock ${lock}); wait for it or remove the lock if that process is not this program`,
    (e) => new CacheWriteError(lock, e),
  );
}

/** A write error of the cache file, naming it. */
export class CacheWriteError extends Error {
  constructor(readonly file: string, cause: Error) {
    super(`cannot write image cache ${file}: ${cause.message}`);
  }
}

/**
 * A cache under construction at `${file}.partial`: resumed when a partial of the same header exists (its
 * intact chunks kept), else started anew. Chunks are written with positional writes, synced, then marked
 * done in the chunk table; `finish` renames the partial to the cache file.
 */
export class CacheBuilder {
  readonly partial: string;
  readonly done: boolean[];
  private readonly fd: number;
  private readonly L: CacheLayout;

  constructor(readonly file: string, readonly h: CacheHeader) {
    this.partial = `${file}.partial`;
    this.L = cacheLayout(h);
    takeLock(`${this.partial}.lock`);
    try {
      [this.fd, this.done] = this.open();
    } catch (e) {
      releasePidLock(`${this.partial}.lock`);
      throw e instanceof CacheWriteError ? e : new CacheWriteError(this.partial, e as Error);
    }
  }

  /** Open the partial file: resume it when its header matches (intact chunks kept), else start it anew. */
  private open(): [number, boolean[]] {
    const h = this.h;
    let fd: number;
    let done: boolean[] | undefined;
    if (existsSync(this.partial)) {
      fd = openSync(this.partial, 'r+');
      const head = Buffer.alloc(HEADER);
      if (readFully(fd, head, 0) && !headerMismatch(head, h) && fstatSync(fd).size === this.L.size) done = verifyChunks(fd, h);
    } else fd = openSync(this.partial, 'w+');
    if (!done) {
      try {
        ftruncateSync(fd, 0);
        ftruncateSync(fd, this.L.size);
        writeFully(fd, headerBytes(h), 0);
      } catch (e) {
        closeSync(fd);
        try {
          unlinkSync(this.partial);
        } catch {
          // not created
        }
        throw e;
      }
    }
    return [fd, done ?? new Array<boolean>(this.L.chunks).fill(false)];
  }

  /** Run a write; on failure the partial file is closed and removed and the error names it. */
  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.abort(true);
      throw new CacheWriteError(this.partial, e as Error);
    }
  }

  /** Write chunk c (its status bytes and pixels), sync it, then mark it done. */
  writeChunk(c: number, status: Uint8Array, pixels: Uint8Array): void {
    const [a, b] = chunkRange(this.h, c), SS = this.h.S * this.h.S;
    if (status.length !== b - a || pixels.length !== (b - a) * SS) throw new Error(`writeChunk: chunk ${c} has ${b - a} rows`);
    this.guard(() => {
      writeFully(this.fd, status, this.L.statusAt + a);
      writeFully(this.fd, pixels, this.L.pixelsAt + a * SS);
      fdatasyncSync(this.fd);
      const entry = Buffer.alloc(8);
      entry.writeUInt32LE(1, 0);
      entry.writeUInt32LE(chunkChecksum(status, pixels), 4);
      writeFully(this.fd, entry, this.L.tableAt + 8 * c);
    });
    this.done[c] = true;
  }

  /** Sync, close and rename the finished partial to the cache file. */
  finish(): void {
    this.guard(() => {
      fdatasyncSync(this.fd);
      closeSync(this.fd);
      renameSync(this.partial, this.file);
    });
    releasePidLock(`${this.partial}.lock`);
  }

  /** Close; with `remove`, delete the partial file (a write failure: nothing is left behind). */
  abort(remove: boolean): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    releasePidLock(`${this.partial}.lock`);
    if (remove) {
      try {
        unlinkSync(this.partial);
      } catch {
        // already gone
      }
    }
  }

  chunkRange(c: number): [number, number] {
    return chunkRange(this.h, c);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The file-backed pixel store's row reader: one descriptor per cache file and thread, kept open (the file is
// replaced only by rename, so an open descriptor keeps reading the bytes it was opened on).

const openFiles = new Map<string, number>();

function readFileRows(f: PixelFile, rows: ArrayLike<number>, dst: Uint8Array): void {
  let fd = openFiles.get(f.file);
  if (fd === undefined) {
    fd = openSync(f.file, 'r');
    openFiles.set(f.file, fd);
  }
  const SS = f.S * f.S;
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r];
    const slot = i >= 0 && i < f.slot.length ? f.slot[i] : -1;
    const row = dst.subarray(r * SS, (r + 1) * SS);
    if (slot < 0) row.fill(0);
    else if (!readFully(fd, row, f.offset + slot * SS)) throw new Error(`image cache ${f.file} is shorter than expected (row ${slot})`);
  }
}

setPixelFileReader(readFileRows);
