/**
 * One decode task: read JPEGs, decode to grayscale, resize to S x S, write into a shared pixel buffer at
 * each image's slot. Runs inline (threads 1) or in the Piscina worker (workers/decode.ts); same code, same
 * bytes either way.
 */
import { readFileSync } from 'node:fs';
import { decodeGray, resizeGray } from './jpeg.ts';
import type { DecodeLimits } from './jpeg.ts';

/** Per-image outcome codes, stored in the cache. */
export const IMG_OK = 1, IMG_MISSING_FILE = 2, IMG_CORRUPT = 3, IMG_NONE = 0;

export interface DecodeTask {
  /** Absolute paths. */
  paths: string[];
  /** Slot of each path in the output (pixels at slot * S * S). */
  slots: number[];
  S: number;
  /** Shared output buffer of count * S * S bytes. */
  out: SharedArrayBuffer;
  limits: DecodeLimits;
}

export interface DecodeResult {
  /** IMG_OK, IMG_MISSING_FILE or IMG_CORRUPT per path. */
  status: number[];
  /** Error text per path ('' when OK). */
  messages: string[];
}

export function runDecodeTask(t: DecodeTask): DecodeResult {
  const out = new Uint8Array(t.out);
  const status: number[] = [], messages: string[] = [];
  const SS = t.S * t.S;
  for (let i = 0; i < t.paths.length; i++) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(t.paths[i]);
    } catch (e) {
      status.push(IMG_MISSING_FILE);
      messages.push((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'image file missing' : `cannot read: ${(e as Error).message}`);
      continue;
    }
    try {
      const img = decodeGray(bytes, t.limits);
      resizeGray(img.data, img.width, img.height, t.S, out, t.slots[i] * SS);
      status.push(IMG_OK);
      messages.push('');
    } catch (e) {
      out.fill(0, t.slots[i] * SS, (t.slots[i] + 1) * SS);
      status.push(IMG_CORRUPT);
      messages.push(`unreadable JPEG: ${(e as Error).message}`);
    }
  }
  return { status, messages };
}
