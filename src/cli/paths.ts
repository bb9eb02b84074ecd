/**
 * Paths given as flags, checked before any work: a missing file or folder is one line naming the flag
 * (`--model runs/x/model.safetensors: no such file`), not a raw ENOENT with a stack from deep in a reader.
 */
import { statSync } from 'node:fs';
import { UsageError } from '../options/schema.ts';

/** What a data set folder holds (requirePath's hint for --data). */
export const DATA_FOLDER_HINT = 'a data set folder holds mimic-cxr-jpg/ and mimic-iv/';

/** Require `path` (given as `flag`) to be an existing file or folder; returns its size in bytes. `hint` says
 * what the folder should hold (shown when the path is a file). */
export function requirePath(flag: string, path: string, want: 'file' | 'folder', hint?: string): number {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${path}: ${code === 'ENOENT' || code === 'ENOTDIR' ? `no such ${want}` : `cannot read (${code ?? (e as Error).message})`}`);
  }
  if (want === 'file' && !st.isFile()) throw new UsageError(`${flag} ${path}: not a file${st.isDirectory() ? ' (a folder)' : ''}`);
  if (want === 'folder' && !st.isDirectory()) throw new UsageError(`${flag} ${path}: not a folder${hint ? ` (${hint})` : ''}`);
  return st.size;
}
