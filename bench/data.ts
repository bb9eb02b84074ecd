/**
 * Data benchmark: JPEG decode + anti-aliased resize (images/s, one thread inline and the worker pool) on
 * synthetic 256-pixel radiographs, synthetic image rendering + encoding, and image-cache read speed (MB/s).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { decodeImages, generateSynthetic, readImageCache, writeImageCache } from '../src/data/index.ts';
import { runDecodeTask } from '../src/data/decode-task.ts';
import { DEFAULT_DECODE_LIMITS } from '../src/data/jpeg.ts';
import { measure, summarize } from './util.ts';
import type { BenchMain } from './util.ts';

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
    for (const S of [64, 224]) {
      const sab = new SharedArrayBuffer(rel.length * S * S);
      const task = { paths: rel.map((r) => join(cxr, r)), slots: rel.map((_, i) => i), S, out: sab, limits: DEFAULT_DECODE_LIMITS };
      const t = measure(() => runDecodeTask(task), { minRuns: 3, minSeconds: args.quick ? 0.5 : 2, warmup: 1 });
      emit({ bench: 'data decode', build: '1 thread', shape: `256px -> ${S}`, medianMs: (t.median * 1000) / rel.length, spreadPct: t.spreadPct, imagesPerS: rel.length / t.median });
    }
    const threads = availableParallelism();
    if (threads > 1) {
      // Enough images (about 2500) that the pool's start-up (workers loading tsx and the decoder, part of
      // every decodeImages call) does not dominate the figure.
      const many = Array.from({ length: args.quick ? 8 : 20 }, () => rel).flat();
      const times: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t1 = performance.now();
        await decodeImages(cxr, many, { S: 64, cacheDir: dir, threads });
        times.push((performance.now() - t1) / 1000);
      }
      const t = summarize(times.slice(1));
      emit({ bench: 'data decode', build: `${threads} threads`, shape: '256px -> 64 (pool)', medianMs: (t.median * 1000) / many.length, spreadPct: t.spreadPct, imagesPerS: many.length / t.median, perThread: many.length / t.median / threads });
    }
    const count = args.quick ? 1000 : 4000, S = 64;
    const pixels = new Uint8Array(count * S * S);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
    const status = new Uint8Array(count).fill(1);
    const file = join(dir, 'bench.rfcache');
    writeImageCache(file, { S, count, status, pixels }, 42);
    const bytes = statSync(file).size;
    const t = measure(() => {
      const r = readImageCache(file, S, count, 42);
      if (typeof r === 'string') throw new Error(r);
    }, { minRuns: 5, minSeconds: args.quick ? 0.3 : 1 });
    emit({ bench: 'data cache read', shape: `${count} x ${S}x${S} (${(bytes / 1e6).toFixed(1)} MB)`, medianMs: t.median * 1000, spreadPct: t.spreadPct, mbPerS: bytes / 1e6 / t.median });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
