import { closeSync, fsyncSync, openSync, renameSync, writeSync, appendFileSync } from 'node:fs';

/**
 * Write a file atomically: a temporary file in the same folder, flushed, then renamed over the target, so a
 * crash or Ctrl-C leaves either the old file or the new one, never half of one.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Append one JSON line (log.jsonl). */
export function appendJsonLine(path: string, obj: unknown): void {
  appendFileSync(path, JSON.stringify(obj) + '\n');
}
