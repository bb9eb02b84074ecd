/**
 * Images under Node: hostile paths (FIFO, directory, device, symlink to /dev/zero, oversized file) are
 * unreadable images with their reason and never hang; sharp against jpeg-js on the synthetic images (the bound
 * documented in docs/data.md) and sharp's failure modes; the cache's resume after an interruption (same bytes
 * as an uninterrupted build), its key noticing a same-size rewrite and the decoder, a failed write leaving no
 * file behind, the read-only data folder falling back; the file-backed store giving the same batches as the
 * in-memory one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeGrayJpeg, generateSynthetic, loadDataset, loadImages, makeBatch, readImageFile } from '../../src/data/index.ts';
import type { ImageOptions } from '../../src/data/index.ts';
import { decodeToGray, loadSharp } from '../../src/data/decoders.ts';
import { decoderThreads } from '../../src/data/images.ts';
import { DEFAULT_DECODE_LIMITS } from '../../src/data/jpeg.ts';
import { IMG_MISSING_FILE, IMG_OK, IMG_CORRUPT } from '../../src/data/decode-task.ts';
import { imputeStats } from '../../src/train/batching.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-data-images-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const quiet: ImageOptions['log'] = () => {};

function jpg(seed: number, W = 40, H = 48, q = 90): Uint8Array {
  const px = new Uint8Array(W * H);
  for (let i = 0; i < W * H; i++) px[i] = (seed * 37 + (i % W) * 3 + Math.floor(i / W) * 2 + ((i * 2654435761) >>> 29)) & 255;
  return encodeGrayJpeg(px, W, H, q);
}

/** A folder of n small JPEGs a0.jpg..; returns the relative names. */
function imageFolder(dir: string, n: number): string[] {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: n }, (_, i) => {
    writeFileSync(join(dir, `a${i}.jpg`), jpg(i));
    return `a${i}.jpg`;
  });
}

test('hostile image paths: FIFO, directory, device, symlink to /dev/zero, oversized: unreadable with a reason, no hang', async () => {
  const d = join(root, 'hostile');
  mkdirSync(d);
  writeFileSync(join(d, 'ok.jpg'), jpg(1));
  execFileSync('mkfifo', [join(d, 'fifo.jpg')]);
  mkdirSync(join(d, 'dir.jpg'));
  symlinkSync('/dev/zero', join(d, 'zero.jpg'));
  symlinkSync('/dev/null', join(d, 'null.jpg'));
  writeFileSync(join(d, 'big.jpg'), new Uint8Array(4096));
  assert.throws(() => readImageFile(join(d, 'fifo.jpg')), /not a regular file \(a FIFO\)/);
  assert.throws(() => readImageFile(join(d, 'dir.jpg')), /not a regular file \(a directory\)/);
  assert.throws(() => readImageFile(join(d, 'zero.jpg')), /not a regular file \(a character device\)/);
  assert.throws(() => readImageFile(join(d, 'big.jpg'), 1000), /4096 bytes is over the 1000-byte image limit/);
  assert.throws(() => readImageFile(join(d, 'absent.jpg')), /image file missing/);
  assert.is(readImageFile(join(d, 'ok.jpg')).length, jpg(1).length);
  const rel = ['ok.jpg', 'fifo.jpg', 'dir.jpg', 'zero.jpg', 'null.jpg', 'absent.jpg'];
  const t0 = performance.now();
  const set = await loadImages(d, rel, { S: 8, cacheDir: join(root, 'hostile-cache'), threads: 1, log: quiet });
  assert.ok(performance.now() - t0 < 20_000, 'no hang');
  assert.equal(Array.from(set.status), [IMG_OK, IMG_MISSING_FILE, IMG_MISSING_FILE, IMG_MISSING_FILE, IMG_MISSING_FILE, IMG_MISSING_FILE]);
  assert.match(set.messages[1], /FIFO/);
  assert.match(set.messages[2], /directory/);
  assert.match(set.messages[3], /character device/);
  assert.match(set.messages[5], /missing/);
});

test('sharp and jpeg-js agree within the documented bound on synthetic images; sharp rejects what jpeg-js rejects', async () => {
  if (!loadSharp().fn) {
    console.log('  (sharp cannot load here: decoder comparison skipped)');
    return;
  }
  const dir = join(root, 'synth');
  await generateSynthetic({ out: dir, patients: 12, seed: 3, imageSize: 256 });
  const files: string[] = [];
  const walk = (p: string) => {
    for (const e of readdirSync(p)) (statSync(join(p, e)).isDirectory() ? walk(join(p, e)) : e.endsWith('.jpg') && files.push(join(p, e)));
  };
  walk(join(dir, 'mimic-cxr-jpg', 'files'));
  assert.ok(files.length >= 10);
  for (const S of [32, 64, 224]) {
    let worst = 0, worstMean = 0;
    for (const f of files) {
      const bytes = readFileSync(f);
      const a = new Uint8Array(S * S), b = new Uint8Array(S * S);
      await decodeToGray(bytes, S, 'jpeg-js', DEFAULT_DECODE_LIMITS, a, 0);
      await decodeToGray(bytes, S, 'sharp', DEFAULT_DECODE_LIMITS, b, 0);
      let sum = 0;
      for (let i = 0; i < S * S; i++) {
        const dv = Math.abs(a[i] - b[i]);
        sum += dv;
        worst = Math.max(worst, dv);
      }
      worstMean = Math.max(worstMean, sum / (S * S));
    }
    // docs/data.md: per image, mean |difference| <= 2 gray levels and no pixel more than 24 apart.
    assert.ok(worstMean <= 2, `S=${S}: worst per-image mean difference ${worstMean}`);
    assert.ok(worst <= 24, `S=${S}: largest pixel difference ${worst}`);
  }
  const good = jpg(5, 120, 100, 95);
  const half = good.subarray(0, good.length >> 1);
  const halfEoi = new Uint8Array(half.length + 2);
  halfEoi.set(half);
  halfEoi.set([0xff, 0xd9], half.length);
  const out = new Uint8Array(16 * 16);
  for (const [name, bytes] of [['truncated', half], ['truncated with an end marker appended', halfEoi], ['text', new TextEncoder().encode('not a jpeg')]] as const) {
    for (const dec of ['jpeg-js', 'sharp'] as const) {
      let threw = false;
      try {
        await decodeToGray(bytes, 16, dec, DEFAULT_DECODE_LIMITS, out, 0);
      } catch {
        threw = true;
      }
      assert.ok(threw, `${dec} rejects a ${name} file`);
    }
  }
  let over = '';
  try {
    await decodeToGray(good, 16, 'sharp', { maxResolutionInMP: 0.001, maxMemoryUsageInMB: 512 }, out, 0);
  } catch (e) {
    over = (e as Error).message;
  }
  assert.match(over, /pixel limit/i);
});

test('cache: an interrupted build resumes (damaged chunks redone) to the bytes of an uninterrupted build', async () => {
  const d = join(root, 'resume');
  const rel = imageFolder(d, 23);
  rel.splice(5, 0, ''); // a slot without an image
  const opts = { S: 8, threads: 1, decoder: 'jpeg-js' as const, chunkBytes: 8 * 8 * 4, log: quiet };
  const whole = await loadImages(d, rel, { ...opts, cacheDir: join(root, 'resume-a') });
  const cacheDir = join(root, 'resume-b');
  let err = '';
  try {
    await loadImages(d, rel, { ...opts, cacheDir, stopAfterChunks: 3 });
  } catch (e) {
    err = (e as Error).message;
  }
  assert.match(err, /partial image cache .*\.partial is kept/);
  const partial = readdirSync(cacheDir).find((f) => f.endsWith('.partial'))!;
  assert.ok(partial, 'partial file kept for resume');
  // damage chunk 1's pixels: the resume must redo it
  const pf = join(cacheDir, partial);
  const bytes = readFileSync(pf);
  const pixelsAt = bytes.length - rel.length * 64;
  bytes[pixelsAt + 4 * 64 + 10] ^= 0x55;
  writeFileSync(pf, bytes);
  const lines: string[] = [];
  const seen: number[] = [];
  const resumed = await loadImages(d, rel, { ...opts, cacheDir, log: (l) => lines.push(l), onProgress: (done, _t, phase) => void (phase === 'decode' && seen.push(done)) });
  assert.match(lines.join('\n'), /resuming .*: 2\/6 chunks already built/);
  assert.ok(seen[0] > 1, 'started past the done chunks');
  assert.is(resumed.hit, false);
  assert.ok(!existsSync(pf), 'partial renamed');
  assert.equal(readFileSync(resumed.cacheFile), readFileSync(whole.cacheFile), 'same bytes as the uninterrupted build');
  const again = await loadImages(d, rel, { ...opts, cacheDir });
  assert.is(again.hit, true);
});

test('cache: a same-size rewrite of an image and another decoder are noticed; a failed write leaves nothing and names the file', async () => {
  const d = join(root, 'key');
  const rel = imageFolder(d, 4);
  const cacheDir = join(root, 'key-cache');
  const opts = { S: 8, threads: 1, cacheDir, decoder: 'jpeg-js' as const, log: quiet };
  const a = await loadImages(d, rel, opts);
  const file = join(d, 'a2.jpg');
  const bytes = readFileSync(file);
  bytes[bytes.length - 20] ^= 0x10; // other content, same size
  writeFileSync(file, bytes);
  const st = statSync(file);
  // The kernel stamps mtime at a clock tick of a few ms: a rewrite within the same tick as the first write
  // (only a test is that fast) would keep it, so the rewrite is dated as any real later one is.
  utimesSync(file, st.atime, new Date(st.mtimeMs + 2000));
  const b = await loadImages(d, rel, opts);
  assert.is(b.hit, false, 'rewritten image of the same size is not served from the cache');
  assert.is.not(b.cacheFile, a.cacheFile);
  if (loadSharp().fn) {
    const c = await loadImages(d, rel, { ...opts, decoder: 'sharp' });
    assert.is(c.hit, false, 'a jpeg-js cache is not reused for sharp');
    assert.is(c.decoder, 'sharp');
    assert.match(c.cacheFile, /-sharp-/);
  }
  // a live builder's lock stops a second build of the same partial; a dead one's is taken over
  const lockDir = join(root, 'key-lock');
  mkdirSync(lockDir);
  const name = b.cacheFile.slice(b.cacheFile.lastIndexOf('/') + 1);
  writeFileSync(join(lockDir, `${name}.partial.lock`), String(process.ppid));
  let lockErr = '';
  try {
    await loadImages(d, rel, { ...opts, cacheDir: lockDir });
  } catch (e) {
    lockErr = (e as Error).message;
  }
  assert.match(lockErr, new RegExp(`being built by process ${process.ppid}`));
  writeFileSync(join(lockDir, `${name}.partial.lock`), '999999999');
  const taken = await loadImages(d, rel, { ...opts, cacheDir: lockDir });
  assert.equal(readdirSync(lockDir), [name], 'stale lock taken over and released');
  assert.equal(readFileSync(taken.cacheFile), readFileSync(b.cacheFile));
  const failDir = join(root, 'key-fail');
  let err = '';
  try {
    await loadImages(d, rel, { ...opts, cacheDir: failDir, chunkBytes: 64, failWriteAtChunk: 1 });
  } catch (e) {
    err = (e as Error).message;
  }
  assert.match(err, /cannot write image cache .*key-fail.*\.rfcache\.partial: ENOSPC/);
  assert.equal(readdirSync(failDir), [], 'no temporary file left');
});

test('cache: a read-only data set folder falls back to the per-user cache folder and says so', async () => {
  const d = join(root, 'ro');
  const rel = imageFolder(join(d, 'img'), 3);
  const xdg = join(root, 'xdg');
  mkdirSync(xdg);
  chmodSync(root, 0o755);
  if (process.getuid?.() === 0) {
    // root writes anywhere: run the load as 'nobody' in a child process
    chmodSync(xdg, 0o777);
    for (const p of [d, join(d, 'img'), ...rel.map((r) => join(d, 'img', r))]) chmodSync(p, p.endsWith('.jpg') ? 0o644 : 0o755);
    const child = fileURLToPath(new URL('../util/images-child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', child, join(d, 'img'), d, ...rel], {
      uid: 65534, gid: 65534, env: { ...process.env, XDG_CACHE_HOME: xdg }, encoding: 'utf8', timeout: 60_000, cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    assert.is(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { cacheFile: string; lines: string[]; ok: number };
    assert.is(relative(join(xdg, 'resilient-fusion'), out.cacheFile).includes('..'), false, out.cacheFile);
    assert.match(out.lines.join('\n'), /is not writable; the image cache goes to .*resilient-fusion/);
    assert.is(out.ok, 3);
  } else {
    chmodSync(d, 0o555);
    const old = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = xdg;
    try {
      const lines: string[] = [];
      const set = await loadImages(join(d, 'img'), rel, { S: 8, threads: 1, dataDir: d, log: (l) => lines.push(l) });
      assert.ok(set.cacheFile.startsWith(join(xdg, 'resilient-fusion')));
      assert.match(lines.join('\n'), /is not writable/);
    } finally {
      process.env.XDG_CACHE_HOME = old;
      chmodSync(d, 0o755);
    }
  }
});

test('file-backed store (tiny memory limit and chunks): same batches, statistics and imputation as in memory', async () => {
  const dir = join(root, 'fb');
  await generateSynthetic({ out: dir, patients: 15, seed: 4, imageSize: 64 });
  const mem = await loadDataset(dir, { imageSize: 16, threads: 1, cacheDir: join(root, 'fb-mem'), images: { log: quiet } });
  const file = await loadDataset(dir, { imageSize: 16, threads: 2, cacheDir: join(root, 'fb-file'), images: { memoryLimit: 0, chunkBytes: 16 * 16 * 3, log: quiet } });
  assert.ok(mem.pixelFile === undefined && mem.pixels.length === mem.n * 256);
  assert.ok(file.pixelFile !== undefined && file.pixels.length === 0, 'file-backed');
  assert.is(file.pixelMean, mem.pixelMean);
  assert.is(file.pixelStd, mem.pixelStd);
  assert.equal(Array.from(file.hasImage), Array.from(mem.hasImage));
  const all = Array.from({ length: mem.n }, (_, i) => mem.n - 1 - i);
  assert.equal(Array.from(makeBatch(file, all).image), Array.from(makeBatch(mem, all).image));
  const train = Int32Array.from(all.filter((i) => mem.split[i] === 0));
  assert.equal(Array.from(imputeStats(file, train).meanImage), Array.from(imputeStats(mem, train).meanImage));
  // the structured clone a worker receives still reads its rows
  const clone = structuredClone({ ...file, report: undefined });
  assert.equal(Array.from(makeBatch(clone as unknown as typeof file, [1, 0]).image), Array.from(makeBatch(mem, [1, 0]).image));
});

test('decoder threads: the threads asked for, at most one per core, at least one', () => {
  assert.is(decoderThreads(99999, 2), 2);
  assert.is(decoderThreads(1, 16), 1);
  assert.is(decoderThreads(8, 16), 8);
  assert.is(decoderThreads(undefined, 16), 16);
  assert.is(decoderThreads(0, 4), 1);
});

test.run();
