/** The image pass of a load: each study's chosen JPEG through the image cache (images.ts), problems listed. */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { DataError } from './csv.ts';
import { IMG_OK, loadImages } from './images.ts';
import type { ImageOptions, ImageSet } from './images.ts';
import type { DecoderName } from './decoders.ts';
import type { DecodeLimits } from './jpeg.ts';
import type { Progress, ProblemLog } from './problems.ts';
import type { StudyRec } from './studies.ts';

/** What the image pass needs from LoadOptions. */
export interface ImagePassOptions {
  imageSize: number;
  cacheDir?: string;
  strict?: boolean;
  threads?: number;
  decodeLimits?: DecodeLimits;
  /** Image decoder: 'sharp' (default under Node) or 'jpeg-js'. */
  decoder?: DecoderName;
  /** Image store settings (src/data/images.ts ImageOptions). */
  images?: Partial<Pick<ImageOptions, 'memoryLimit' | 'chunkBytes' | 'log' | 'stopAfterChunks' | 'failWriteAtChunk'>>;
}

/**
 * Decode (or read from the cache) the chosen image of every study, in sample order; '' paths are studies
 * without a usable view. An unreadable image is a listed problem, or with `strict` an error.
 * Returns the image set and the relative paths (files/pXX/pSUBJECT/sSTUDY/DICOM.jpg under cxrDir).
 */
export async function imagePass(cxrDir: string, root: string, recs: StudyRec[], opts: ImagePassOptions, problems: ProblemLog, progress: Progress): Promise<{ images: ImageSet; rel: string[] }> {
  const S = opts.imageSize;
  const rel = recs.map((r) => (r.dicom ? `files/p${String(r.subject).slice(0, 2)}/p${r.subject}/s${r.study}/${r.dicom}.jpg` : ''));
  const images: ImageSet = await loadImages(cxrDir, rel, {
    ...opts.images,
    S,
    cacheDir: opts.cacheDir ? resolve(opts.cacheDir) : undefined,
    dataDir: root,
    decoder: opts.decoder,
    threads: opts.threads ?? availableParallelism(),
    limits: opts.decodeLimits,
    onProgress: progress,
  });
  for (let i = 0; i < recs.length; i++) {
    if (images.status[i] !== IMG_OK && rel[i]) {
      const msg = `${images.messages[i] || 'unreadable'} (study ${recs[i].study}): the study has no image`;
      if (opts.strict) throw new DataError(join(cxrDir, rel[i]), 0, msg);
      problems.add(join(cxrDir, rel[i]), 0, msg);
    }
  }
  return { images, rel };
}
