/**
 * One decode task: read JPEGs (regular files under a size limit only), decode to grayscale, resize to S x S,
 * write into a shared pixel buffer at each image's row. Runs inline (threads 1) or in the Piscina worker
 * (workers/decode.ts); same code, same bytes either way.
 */
import { decodeToGray, MAX_IMAGE_FILE_BYTES, readImageFile } from './decoders.ts';
import type { DecoderName } from './decoders.ts';
import type { DecodeLimits } from './jpeg.ts';

/** Per-image outcome codes, stored in the cache. */
export const IMG_OK = 1, IMG_MISSING_FILE = 2, IMG_CORRUPT = 3, IMG_NONE = 0;

export interface DecodeTask {
  /** Absolute paths. */
  paths: string[];
  /** Row of each path in the output (pixels at row * S * S). */
  slots: number[];
  S: number;
  /** Shared output buffer of at least (max row + 1) * S * S bytes. */
  out: SharedArrayBuffer;
  limits: DecodeLimits;
  decoder: DecoderName;
  /** Largest file read (default MAX_IMAGE_FILE_BYTES). */
  maxFileBytes?: number;
}

export interface DecodeResult {
  /** IMG_OK, IMG_MISSING_FILE or IMG_CORRUPT per path. */
  status: number[];
  /** Error text per path ('' when OK). */
  messages: string[];
}

export async function runDecodeTask(t: DecodeTask): Promise<DecodeResult> {
  const out = new Uint8Array(t.out);
  const status: number[] = [], messages: string[] = [];
  const SS = t.S * t.S;
  for (let i = 0; i < t.paths.length; i++) {
    const at = t.slots[i] * SS;
    let bytes: Uint8Array;
    try {
      bytes = readImageFile(t.paths[i], t.maxFileBytes ?? MAX_IMAGE_FILE_BYTES);
    } catch (e) {
      out.fill(0, at, at + SS);
      // as before: a file that cannot be read (absent, not a regular file, too large) counts as a missing file
      status.push(IMG_MISSING_FILE);
      messages.push((e as Error).message);
      continue;
    }
    try {
      await decodeToGray(bytes, t.S, t.decoder, t.limits, out, at);
      status.push(IMG_OK);
      messages.push('');
    } catch (e) {
      out.fill(0, at, at + SS);
      status.push(IMG_CORRUPT);
      messages.push(`unreadable JPEG: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return { status, messages };
}
