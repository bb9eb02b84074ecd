/**
 * Node-only file helpers that every layer may use (model checkpoints, run files, prediction outputs, the
 * image cache). Nothing under src/ that the edge bundle reaches imports this folder, so the browser build
 * needs no stand-in for node:fs.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';

let writeFence: ((path: string) => void) | undefined;

/**
 * A check run before every run-file write of this thread (writeFileAtomic's rename, appendJsonLine): it
 * throws to stop the write. A queue job's training thread sets one that throws once the worker can no longer
 * be sure it holds the job's lock, so a worker that lost its job never writes into the folder its new owner
 * is using (docs/queue.md). Undefined: no check. Module state is per thread.
 */
export function setWriteFence(fence: ((path: string) => void) | undefined): void {
  writeFence = fence;
}

/** Run the write fence, if any, for a write of `path` (throws to stop it). */
export function checkWriteFence(path: string): void {
  writeFence?.(path);
}

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
    checkWriteFence(path);
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* never created or already gone */ }
    if (e instanceof Error && !e.message.includes(path)) e.message = `writing ${path}: ${e.message}`;
    throw e;
  }
}

/**
 * An exclusive lock file holding this process's pid, taken with O_EXCL (one writer per image cache, per run
 * folder). A lock whose process is gone (killed) is taken over; a live one throws busy(pid). Errors other
 * than an existing lock go through `wrap` (default: the error itself).
 */
export function takePidLock(lock: string, busy: (pid: number) => string, wrap: (e: Error) => Error = (e) => e): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw wrap(e as Error);
    }
    let pid = NaN;
    try {
      pid = Number(readFileSync(lock, 'utf8').trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    let alive = false;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) throw new Error(busy(pid));
    try { unlinkSync(lock); } catch { /* already gone */ }
  }
  throw new Error(`cannot take the lock ${lock}`);
}

/**
 * Remove a lock taken with takePidLock (nothing if it is gone, or if it now holds another process's pid: a
 * queue worker that took the folder over from this one owns it now).
 */
export function releasePidLock(lock: string): void {
  try {
    if (readFileSync(lock, 'utf8').trim() !== String(process.pid)) return;
    unlinkSync(lock);
  } catch {
    // already gone
  }
}
