/**
 * Data benchmark: JPEG decode + resize to S (images/s, one thread inline for each decoder and the worker
 * pool) on synthetic 256-pixel radiographs; a realistic full-size chest film (2544x3056, quality 95, about
 * 2 MB) to 224 with jpeg-js and sharp in the same run (images/s per core and their ratio); synthetic image
 * rendering + encoding; and image-cache read speed (MB/s).
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { encodeGrayJpeg, generateSynthetic, loadImages, readImageCache } from '../src/data/index.ts';
import { runDecodeTask } from '../src/data/decode-task.ts';
import { decodeToGray, loadSharp } from '../src/data/decoders.ts';
import type { DecoderName } from '../src/data/decoders.ts';
import { DEFAULT_DECODE_LIMITS } from '../src/data/jpeg.ts';
import { Rng } from '../src/engine/rng.ts';
import { measure, summarize } from './util.ts';
import type { BenchMain, Timing } from './util.ts';

function jpegs(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.jpg')) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

/** As `measure`, for an async function. */
async function measureAsync(fn: () => Promise<unknown>, minRuns: number, minSeconds: number, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < minSeconds * 1000) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return summarize(times);
}

/**
 * A chest-film-like grayscale image: bright mediastinum and ribs over dark lungs, soft vignetting, plus
 * per-pixel noise (what makes a real 2544x3056 film about 2 MB at quality 95 rather than 200 KB).
 */
export function chestLike(W: number, H: number, seed = 7): Uint8Array {
  const px = new Uint8Array(W * H), rng = new Rng(seed);
  for (let y = 0; y < H; y++) {
    const v = y / H;
    for (let x = 0; x < W; x++) {
      const u = x / W;
      const lung = Math.exp(-(((u - 0.3) / 0.14) ** 2 + ((v - 0.5) / 0.28) ** 2)) + Math.exp(-(((u - 0.7) / 0.14) ** 2 + ((v - 0.5) / 0.28) ** 2));
      const ribs = 0.15 * Math.max(0, Math.sin(v * 60 + Math.abs(u - 0.5) * 8));
      const body = 1 - 0.8 * ((u - 0.5) ** 2 + (v - 0.5) ** 2);
      const s = 200 * body - 120 * lung + 60 * ribs * lung + 5 * (rng.next() - 0.5) * 2;
      px[y * W + x] = s < 0 ? 0 : s > 255 ? 255 : s;
    }
  }
  return px;
}

async function realisticRow(args: { quick: boolean }, emit: Parameters<BenchMain>[1]): Promise<void> {
  const W = 2544, H = 3056, S = 224;
  const jpeg = encodeGrayJpeg(chestLike(W, H), W, H, 95);
  const out = new Uint8Array(S * S);
  const perCore: Partial<Record<DecoderName, number>> = {};
  for (const decoder of ['jpeg-js', 'sharp'] as DecoderName[]) {
    if (decoder === 'sharp' && !loadSharp().fn) continue;
    const t = await measureAsync(() => decodeToGray(jpeg, S, decoder, DEFAULT_DECODE_LIMITS, out, 0), args.quick ? 1 : 5, args.quick ? 0 : 3, 1);
    perCore[decoder] = 1 / t.median;
    emit({ bench: 'data decode chest', build: `${decoder}, 1 thread`, shape: `${W}x${H} q95 (${(jpeg.length / 1e6).toFixed(2)} MB) -> ${S}`, medianMs: t.median * 1000, spreadPct: t.spreadPct, imagesPerS: 1 / t.median });
  }
  if (perCore.sharp && perCore['jpeg-js']) {
    emit({ bench: 'data decode chest', build: 'sharp / jpeg-js', shape: `${W}x${H} -> ${S}`, medianMs: 0, spreadPct: 0, ratio: perCore.sharp / perCore['jpeg-js'] });
  }
}

export const main: BenchMain = async (args, emit) => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-data-'));
  try {
    const patients = args.quick ? 20 : 60;
    const t0 = performance.now();
    const syn = await generateSynthetic({ out: dir, patients, seed: 1, imageSize: 256 });
    const genS = (performance.now() - t0) / 1000;
    emit({ bench: 'data synth', shape: `${syn.images} images 256px`, medianMs: (genS * 1000) / syn.images, spreadPct: 0, imagesPerS: syn.images / genS });
    const cxr = join(dir, 'mimic-cxr-jpg');
    const rel = jpegs(cxr);
    for (const decoder of ['jpeg-js', 'sharp'] as DecoderName[]) {
      if (decoder === 'sharp' && !loadSharp().fn) continue;
      for (const S of [64, 224]) {
        const sab = new SharedArrayBuffer(rel.length * S * S);
        const task = { paths: rel.map((r) => join(cxr, r)), slots: rel.map((_, i) => i), S, out: sab, limits: DEFAULT_DECODE_LIMITS, decoder };
        const t = await measureAsync(() => runDecodeTask(task), 3, args.quick ? 0.5 : 2);
        emit({ bench: 'data decode', build: `${decoder}, 1 thread`, shape: `256px -> ${S}`, medianMs: (t.median * 1000) / rel.length, spreadPct: t.spreadPct, imagesPerS: rel.length / t.median });
      }
    }
    await realisticRow(args, emit);
    const threads = availableParallelism();
    if (threads > 1) {
      // Enough images (about 2500) that the pool's start-up (workers loading tsx and the decoder, part of
      // every build) does not dominate the figure. Each run builds a fresh cache in its own folder.
      const many = Array.from({ length: args.quick ? 8 : 20 }, () => rel).flat();
      const times: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t1 = performance.now();
        await loadImages(cxr, many, { S: 64, cacheDir: join(dir, `pool-${r}`), threads, decoder: 'jpeg-js' });
        times.push((performance.now() - t1) / 1000);
      }
      const t = summarize(times.slice(1));
      emit({ bench: 'data decode', build: `jpeg-js, ${threads} threads`, shape: '256px -> 64 (pool, cache written)', medianMs: (t.median * 1000) / many.length, spreadPct: t.spreadPct, imagesPerS: many.length / t.median, perThread: many.length / t.median / threads });
    }
    // Cache read: a cache of `count` slots (the synthetic images repeated), read whole into memory.
    const count = args.quick ? 1000 : 4000, S = 64;
    const list = Array.from({ length: count }, (_, i) => rel[i % rel.length]);
    const set = await loadImages(cxr, list, { S, cacheDir: join(dir, 'read'), threads, decoder: loadSharp().fn ? 'sharp' : 'jpeg-js' });
    const head = Buffer.alloc(64);
    const fd = openSync(set.cacheFile, 'r');
    readSync(fd, head, 0, 64, 0);
    closeSync(fd);
    const bytes = statSync(set.cacheFile).size;
    const t = measure(() => {
      const r = readImageCache(set.cacheFile, S, count, head.readUInt32LE(20));
      if (typeof r === 'string') throw new Error(r);
    }, { minRuns: 5, minSeconds: args.quick ? 0.3 : 1 });
    emit({ bench: 'data cache read', shape: `${count} x ${S}x${S} (${(bytes / 1e6).toFixed(1)} MB)`, medianMs: t.median * 1000, spreadPct: t.spreadPct, mbPerS: bytes / 1e6 / t.median });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
