/**
 * The pixel store as the batch gatherer sees it, without Node.js (the edge bundle builds batches too): either
 * the pixels in memory (`PreparedDataset.pixels`, n x S x S bytes on a SharedArrayBuffer) or, for stores too
 * large for one typed array or for RAM, a file-backed store (`PreparedDataset.pixelFile`: the image cache
 * file itself, read a batch's rows at a time with positional reads; src/data/image-store.ts). A PixelFile is
 * plain data, so it travels to worker threads with the rest of the data set.
 */

/** A file-backed pixel store: sample i's S*S bytes at offset + slot[i] * S * S of file (slot -1: no image). */
export interface PixelFile {
  file: string;
  offset: number;
  S: number;
  /** [n] cache row of each sample, -1 where the sample has no image (on a SharedArrayBuffer). */
  slot: Int32Array;
}

/** Reads rows of a PixelFile; set by src/data/image-store.ts, which every Node.js entry point loads. */
type FileRowReader = (f: PixelFile, rows: ArrayLike<number>, dst: Uint8Array) => void;
let fileRowReader: FileRowReader | undefined;

/** Install the PixelFile row reader (src/data/image-store.ts does, on import). */
export function setPixelFileReader(r: FileRowReader): void {
  fileRowReader = r;
}

/** What readPixelRows needs of a data set. */
export interface PixelSource {
  S: number;
  pixels: Uint8Array;
  pixelFile?: PixelFile;
}

/**
 * The S*S gray bytes of samples rows[0..B) into dst[r * S * S] (zeros for a sample without an image in a
 * file-backed store; an in-memory store holds zeros there already).
 */
export function readPixelRows(ds: PixelSource, rows: ArrayLike<number>, dst: Uint8Array): void {
  const SS = ds.S * ds.S;
  if (ds.pixelFile) {
    if (!fileRowReader) throw new Error('readPixelRows: a file-backed pixel store needs Node.js (src/data/image-store.ts)');
    fileRowReader(ds.pixelFile, rows, dst);
    return;
  }
  for (let r = 0; r < rows.length; r++) dst.set(ds.pixels.subarray(rows[r] * SS, (rows[r] + 1) * SS), r * SS);
}
