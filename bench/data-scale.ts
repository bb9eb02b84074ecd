/**
 * `npm run bench -- data-scale [--scale 1] [--image-size 224] [--decoder sharp|jpeg-js] [--dir D] [--keep]`:
 * writes a MIMIC-size world (bench/data-scale-world.ts; --scale 0.001 for a smoke run), then loads it twice
 * at S (cold: every image decoded and the cache built; warm: from the cache) and reports the wall time of
 * each phase (each CSV, the image pass, the joins/split/normalization after it) and the peak RSS. The goal
 * at full scale: the whole load at S = 224 under 4 GB RSS (the pixels are then file-backed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../src/data/index.ts';
import type { DecoderName } from '../src/data/index.ts';
import { writeWorld } from './data-scale-world.ts';
import type { BenchMain } from './util.ts';

/** Peak resident set size of this process (workers included) so far, in MB. */
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;

export const main: BenchMain = async (args, emit) => {
  const scale = args.quick && args.scale === 1 ? 0.001 : args.scale;
  const S = args.imageSize;
  const decoder: DecoderName = args.decoder;
  if (!(scale > 0 && scale <= 1)) throw new Error(`--scale: a number in (0, 1], got ${scale}`);
  const dir = args.dir || mkdtempSync(join(tmpdir(), 'rf-data-scale-'));
  const keep = args.keep || !!args.dir;
  try {
    const w = writeWorld(join(dir, 'world'), scale, (s) => process.stderr.write(`${s}\n`));
    emit({ bench: 'data-scale world', shape: `${w.images} images, ${w.studies} studies, ${w.patients} patients, ${w.stays} stays, ${w.labevents} labevents`, medianMs: w.seconds * 1000, spreadPct: 0 });
    for (const pass of ['cold', 'warm']) {
      const phases: { phase: string; start: number }[] = [];
      const t0 = performance.now();
      const ds = await loadDataset(w.dir, {
        imageSize: S,
        decoder,
        cacheDir: join(dir, 'cache'),
        onProgress: (_d, _t, phase) => {
          if (phases.at(-1)?.phase !== phase) phases.push({ phase, start: performance.now() });
        },
      });
      const end = performance.now();
      // image passes: 'image key' (a stat of every file), 'image cache' (reading or verifying it), 'decode'
      phases.push({ phase: 'end', start: end });
      for (let k = 0; k + 1 < phases.length; k++) {
        const p = phases[k], next = phases[k + 1];
        const label = next.phase === 'end' ? `${p.phase} + rest (joins, split, normalization)` : p.phase;
        emit({ bench: `data-scale ${pass}`, shape: label, medianMs: next.start - p.start, spreadPct: 0 });
      }
      emit({
        bench: `data-scale ${pass}`, shape: `total (S=${S}, ${decoder}, ${ds.n} samples, ${ds.pixelFile ? 'file-backed' : 'in-memory'} pixels)`,
        medianMs: end - t0, spreadPct: 0, peakRssMb: Math.round(peakRssMb()),
      });
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
};
