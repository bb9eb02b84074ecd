/** The checkout's git commit, for the records a run or an evaluation leaves (job data, model cards). */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let commitCache: string | undefined;
/**
 * This checkout's git commit (`+dirty` when tracked files differ from it); RESILIENT_FUSION_COMMIT overrides
 * it where there is no .git (a container image built from a checkout).
 */
export function gitCommit(): string {
  if (process.env.RESILIENT_FUSION_COMMIT) return process.env.RESILIENT_FUSION_COMMIT;
  if (commitCache) return commitCache;
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commitCache = head + (dirty ? '+dirty' : '');
  } catch {
    commitCache = 'unknown';
  }
  return commitCache;
}
