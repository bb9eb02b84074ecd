/**
 * Child process of test/data/images.test.ts: loadImages with the default cache folder, run as another user
 * (root writes anywhere, so the read-only fallback is tested as 'nobody'). argv: root dataDir rel...
 * Prints { cacheFile, lines, ok } as JSON.
 */
import { loadImages } from '../../src/data/index.ts';

const [root, dataDir, ...rel] = process.argv.slice(2);
const lines: string[] = [];
const set = await loadImages(root, rel, { S: 8, threads: 1, dataDir, log: (l) => lines.push(l) });
console.log(JSON.stringify({ cacheFile: set.cacheFile, lines, ok: Array.from(set.status).filter((s) => s === 1).length }));
