/**
 * Node-only file helpers that every layer may use (model checkpoints, run files, prediction outputs, the
 * image cache). Nothing under src/ that the edge bundle reaches imports this folder, so the browser build
 * needs no stand-in for node:fs.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

/**
 * Write `bytes` to `path` atomically: a temporary file beside it, fsync, rename. A reader sees the old file
 * or the new one, never half of one. On any failure (ENOSPC, EACCES, ...) the temporary file is removed
 * and the error names `path`.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  let fd = -1;
  try {
    fd = openSync(tmp, 'w');
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* never created or already gone */ }
    if (e instanceof Error && !e.message.includes(path)) e.message = `writing ${path}: ${e.message}`;
    throw e;
  }
}
