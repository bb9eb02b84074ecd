/**
 * The demo server under hostile requests, on a free port of 127.0.0.1 with a stand-in edge folder (no bundle
 * build): a foreign Host header (DNS rebinding) gets nothing, every answer carries the CSP with
 * frame-ancestors 'none', the model is streamed from the descriptor opened at start (replacing the file or
 * its symlink later does not change what is served), and bounded requests stay bounded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_CSP, hostName, startDemo } from '../../src/infer/demo-server.ts';
import type { DemoServer } from '../../src/infer/demo-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'rf-hostile-demo-'));
const edgeDir = join(dir, 'edge');
mkdirSync(edgeDir);
for (const f of ['resilient-fusion.mjs', 'engine.relaxed.wasm', 'engine.simd.wasm']) writeFileSync(join(edgeDir, f), `stand-in ${f}`);
/** A "model" of 3 MB with a recognizable pattern, and another file to swap in. */
const modelBytes = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 31) & 255);
const modelPath = join(dir, 'model.safetensors');
writeFileSync(modelPath, modelBytes);
const linkPath = join(dir, 'link.safetensors');
symlinkSync(modelPath, linkPath);
let demo: DemoServer;

test.before(async () => {
  demo = await startDemo({ port: 0, host: '127.0.0.1', edgeDir, model: linkPath, allowHosts: ['demo.example'] });
});
test.after(async () => {
  await demo?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** One request with a given Host header (and method), read to the end, with a 10 s limit. */
function get(path: string, host: string | null, method = 'GET'): Promise<Reply> {
  const port = new URL(demo.url).port;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = host === null ? {} : { host };
    const req = request({ host: '127.0.0.1', port, path, method, headers, timeout: 10000, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

test('Host header: only this machine\'s names (and those allowed) are served', async () => {
  const port = new URL(demo.url).port;
  for (const h of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`, `LOCALHOST.:${port}`, 'demo.example:80']) {
    const r = await get('/model.safetensors', h);
    assert.is(r.status, 200, h);
  }
  for (const h of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, 'localhost@evil.example', '', 'a'.repeat(400)]) {
    for (const path of ['/model.safetensors', '/', '/config.json']) {
      const r = await get(path, h);
      assert.is(r.status, 421, `${h} ${path}`);
      assert.ok(r.body.length < 200 && !r.body.includes(Buffer.from(modelBytes.subarray(0, 64))), 'no model bytes');
    }
  }
  const none = await get('/config.json', null);
  assert.ok(none.status === 400 || none.status === 421, `no Host header at all: ${none.status}`); // node:http answers 400 itself
  assert.is(hostName('[::1]:8080'), '[::1]');
  assert.is(hostName('Example.COM.'), 'example.com');
  assert.is(hostName('a b'), undefined);
});

test('every answer carries the CSP (frame-ancestors none) and nosniff', async () => {
  for (const path of ['/', '/app.js', '/config.json', '/model.safetensors', '/nope']) {
    const r = await get(path, 'localhost');
    assert.is(r.headers['content-security-policy'], DEMO_CSP, path);
    assert.is(r.headers['x-content-type-options'], 'nosniff');
    assert.is(r.headers['x-frame-options'], 'DENY');
  }
  assert.match(DEMO_CSP, /frame-ancestors 'none'/);
  assert.match(DEMO_CSP, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.not.match(DEMO_CSP, /unsafe-inline|'unsafe-eval'/);
  assert.equal(JSON.parse((await get('/config.json', 'localhost')).body.toString()), { model: 'link.safetensors' });
  assert.is((await get('/app.js', 'localhost', 'POST')).status, 405);
  assert.is((await get('/../package.json', 'localhost')).status, 404);
});

test('the model: streamed whole from the descriptor opened at start; swapping the file or the link later changes nothing', async () => {
  const first = await get('/model.safetensors', 'localhost');
  assert.is(Number(first.headers['content-length']), modelBytes.length);
  assert.ok(first.body.equals(modelBytes), 'same bytes');
  const head = await get('/model.safetensors', 'localhost', 'HEAD');
  assert.is(head.status, 200);
  assert.is(head.body.length, 0);
  // Replace the file behind the link, then the link itself.
  const other = join(dir, 'other.safetensors');
  writeFileSync(other, 'secret: a different file');
  renameSync(other, modelPath);
  unlinkSync(linkPath);
  symlinkSync(join(dir, 'nothing-here'), linkPath);
  // Several concurrent downloads share the descriptor (positioned reads): each gets the original bytes.
  const many = await Promise.all(Array.from({ length: 6 }, () => get('/model.safetensors', '127.0.0.1')));
  for (const r of many) assert.ok(r.status === 200 && r.body.equals(modelBytes), 'the original model, whole');
});

test('slow downloads hold a chunk each, not the model: 20 stalled clients of a 16 MB model', async () => {
  const big = join(dir, 'big.safetensors');
  writeFileSync(big, new Uint8Array(16 << 20).fill(7));
  const d = await startDemo({ port: 0, host: '127.0.0.1', edgeDir, model: big });
  const port = new URL(d.url).port;
  const reqs: ReturnType<typeof request>[] = [];
  try {
    global.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    let answered = 0;
    for (let i = 0; i < 20; i++) {
      const req = request({ host: '127.0.0.1', port, path: '/model.safetensors', headers: { host: 'localhost' } }, (res) => {
        answered++;
        res.pause(); // a client that stops reading
      });
      req.on('error', () => {});
      req.end();
      reqs.push(req);
    }
    const t0 = Date.now();
    while (answered < 20 && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300)); // let the server fill what it can
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.is(answered, 20);
    // Reading the model whole per request would hold 20 x 16 MB = 320 MB here.
    assert.ok(grown < 40 << 20, `buffers grew by ${(grown / 2 ** 20).toFixed(1)} MB`);
  } finally {
    for (const r of reqs) r.destroy();
    await d.close();
  }
});

test('a missing or non-regular --model fails at start, naming it', async () => {
  for (const [path, re] of [[join(dir, 'none.safetensors'), /--model .*none\.safetensors: no such file/], [dir, /--model .*: not a regular file/]] as const) {
    try {
      await startDemo({ port: 0, edgeDir, model: path });
      assert.unreachable('started');
    } catch (e) {
      assert.match((e as Error).message, re);
    }
  }
});

test.run();
