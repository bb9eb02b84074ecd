/**
 * Image file reading and the two decoders under Node: sharp (libvips, the default: JPEG shrink-on-load makes
 * a 2544x3056 chest film about 30x faster to bring to 224) and jpeg-js (portable, the edge bundle's decoder,
 * and the fallback where sharp cannot load). Both give one channel resized to S x S over the whole image
 * (aspect not kept) with a triangle filter; docs/data.md bounds how far their pixels differ.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { decodeGray, resizeGray } from './jpeg.ts';
import type { DecodeLimits } from './jpeg.ts';

/** The decoders: 'sharp' (libvips) or 'jpeg-js' (pure JavaScript). */
export type DecoderName = 'sharp' | 'jpeg-js';
export const DECODER_NAMES: readonly DecoderName[] = ['sharp', 'jpeg-js'];
/** The decoder id stored in a cache header (0 is never written). */
export const DECODER_ID: Record<DecoderName, number> = { 'jpeg-js': 1, sharp: 2 };

/**
 * Largest image file read (bytes). MIMIC-CXR-JPG files are 1.5-3 MB, the largest few near 8 MB; anything far
 * past that is not a chest film, and a bounded read never follows a symlink to /dev/zero into the gigabytes.
 */
export const MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

/** An image file that cannot be used; `missing` is true when it does not exist. */
export class ImageFileError extends Error {
  constructor(message: string, readonly missing: boolean) {
    super(message);
  }
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Read an image file: open without blocking (a FIFO with no writer would hang a plain open), fstat the open
 * descriptor (so a symlink swapped after a check cannot change what is read), require a regular file of at
 * most maxBytes, then read exactly its size. Throws ImageFileError with the reason.
 */
export function readImageFile(path: string, maxBytes = MAX_IMAGE_FILE_BYTES): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ImageFileError('image file missing', true);
    throw new ImageFileError(`cannot read: ${(e as Error).message}`, false);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ImageFileError(`not a regular file (${kindOf(st)})`, false);
    if (st.size > maxBytes) throw new ImageFileError(`file of ${st.size} bytes is over the ${maxBytes}-byte image limit`, false);
    const buf = new Uint8Array(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) break; // shrank while reading: decode what is there (a truncated JPEG is then rejected)
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } catch (e) {
    if (e instanceof ImageFileError) throw e;
    throw new ImageFileError(`cannot read: ${(e as Error).message}`, false);
  } finally {
    closeSync(fd);
  }
}

/** The sharp module's callable, typed as far as used here. */
type SharpFn = ((input: Uint8Array, opts: Record<string, unknown>) => SharpPipeline) & { concurrency(n?: number): number };
interface SharpPipeline {
  greyscale(): SharpPipeline;
  resize(w: number, h: number, o: Record<string, unknown>): SharpPipeline;
  raw(): SharpPipeline;
  toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}

let sharpState: { fn: SharpFn | null; error: string } | undefined;

/** sharp, loaded once per thread; null (with the reason) where its native binary cannot load. */
export function loadSharp(): { fn: SharpFn | null; error: string } {
  if (!sharpState) {
    try {
      const fn = createRequire(import.meta.url)('sharp') as SharpFn;
      // The caller parallelizes over images (one decode pool thread per core): one libvips thread each.
      fn.concurrency(1);
      sharpState = { fn, error: '' };
    } catch (e) {
      sharpState = { fn: null, error: (e as Error).message.split('\n')[0] };
    }
  }
  return sharpState;
}

/**
 * The decoder to use for a request: sharp unless asked for jpeg-js; jpeg-js with a one-line notice where
 * sharp cannot load.
 */
export function resolveDecoder(requested: DecoderName | undefined): { decoder: DecoderName; notice?: string } {
  const want = requested ?? 'sharp';
  if (!DECODER_NAMES.includes(want)) throw new Error(`decoder: ${DECODER_NAMES.join(' or ')}, got '${want}'`);
  if (want === 'jpeg-js') return { decoder: 'jpeg-js' };
  const s = loadSharp();
  if (s.fn) return { decoder: 'sharp' };
  return { decoder: 'jpeg-js', notice: `images: sharp cannot load here (${s.error}); decoding with jpeg-js (slower, same geometry)` };
}

/**
 * Decode JPEG bytes to S x S gray bytes at out[offset..]. jpeg-js: decodeGray + resizeGray (src/data/jpeg.ts).
 * sharp: libvips with JPEG shrink-on-load, one channel, fit 'fill' (the whole image, aspect not kept) and a
 * linear (triangle) kernel; `failOn: 'warning'` so that a truncated file with an end marker appended is
 * rejected instead of decoded into grey (docs/data.md has the measurements); the resolution limit is
 * libvips's limitInputPixels.
 */
export async function decodeToGray(bytes: Uint8Array, S: number, decoder: DecoderName, limits: DecodeLimits, out: Uint8Array, offset: number): Promise<void> {
  if (decoder === 'jpeg-js') {
    const img = decodeGray(bytes, limits);
    resizeGray(img.data, img.width, img.height, S, out, offset);
    return;
  }
  const sharp = loadSharp().fn;
  if (!sharp) throw new Error(`sharp cannot load: ${loadSharp().error}`);
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error('not a JPEG (no start-of-image marker)');
  const { data, info } = await sharp(bytes, { failOn: 'warning', limitInputPixels: Math.floor(limits.maxResolutionInMP * 1e6) })
    .greyscale()
    .resize(S, S, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== S || info.height !== S || info.channels !== 1) throw new Error(`decoder gave ${info.width}x${info.height}x${info.channels}, expected ${S}x${S}x1`);
  out.set(data, offset);
}
