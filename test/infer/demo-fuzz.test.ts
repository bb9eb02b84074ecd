/**
 * The demo server under malformed request targets (issue 24, item 2): `GET //a:99999/` or `GET //` used to
 * throw in `new URL(req.url, ...)` outside any handler and end the process. The server runs in a child
 * process on a free port of 127.0.0.1; a bounded, seeded fuzz (at most FUZZ_COUNT targets and FUZZ_MS of
 * time) sends raw request lines over loopback, and the process must still be alive and serving afterwards.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/engine/rng.ts'; // seeded, so a failing target can be reproduced

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FUZZ_COUNT = 400;
const FUZZ_MS = 15000;

const dir = mkdtempSync(join(tmpdir(), 'rf-demo-fuzz-'));
const edgeDir = join(dir, 'edge');
mkdirSync(edgeDir);
for (const f of ['resilient-fusion.mjs', 'engine.relaxed.wasm', 'engine.simd.wasm']) writeFileSync(join(edgeDir, f), `stand-in ${f}`);

let child: ChildProcess;
let port = 0;
let stderr = '';
let exited: string | null = null;

test.before(async () => {
  child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'test/util/demo-child.ts'), edgeDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  child.on('exit', (code, signal) => { exited = `exit ${code ?? signal}`; });
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the demo child did not start: ${stderr}`)), 60000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /:(\d+)\/\s*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', () => reject(new Error(`the demo child exited at start: ${stderr}`)));
  });
});
test.after(() => {
  if (child && exited === null) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

/** Send one raw request line with Host: localhost; resolve with the status code (0: no status line, e.g. reset). */
function raw(target: string): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let data = '';
    const done = () => {
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 0);
    };
    sock.setTimeout(5000, done);
    sock.on('data', (c: Buffer) => { data += c.toString('latin1'); });
    sock.on('end', done);
    sock.on('error', done);
    sock.on('close', done);
    sock.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, 'latin1');
  });
}

const PIECES = ['/', '//', ':', '99999', '@', '?', '#', '%', '%zz', '%2f', '[', ']', '[::1]', '\\', '..', '.', 'a', 'app.js', 'config.json', 'http:', 'https://', 'file:', '*', '~', ';', '=', '&', '0', '65536', '\u00ff', '\u0080', 'x'.repeat(50)];

/** Seeded request targets: those known to have killed the server first, then random concatenations of pieces. */
function targets(n: number): string[] {
  const fixed = ['//', '//a:99999/', '//a:99999', '///', '//[', '//[::1', '//@', '//:0/', 'http://a:99999/', 'http://', '*', '?', '%', '/%', '/%00', '\\\\', `/${'a'.repeat(8000)}`];
  const r = mulberry32(24);
  const out = [...fixed];
  while (out.length < n) {
    const k = 1 + Math.floor(r() * 6);
    let s = r() < 0.7 ? '/' : '';
    for (let i = 0; i < k; i++) s += PIECES[Math.floor(r() * PIECES.length)];
    out.push(s);
  }
  return out;
}

test('malformed request targets are answered (400 for what cannot be parsed) and the server stays alive', async () => {
  const t0 = Date.now();
  const seen = new Map<number, number>();
  let sent = 0;
  for (const target of targets(FUZZ_COUNT)) {
    if (Date.now() - t0 > FUZZ_MS) break;
    const status = await raw(target);
    sent++;
    if (status === 0) await new Promise((r) => setTimeout(r, 300)); // no answer: give a dying process time to report its exit
    seen.set(status, (seen.get(status) ?? 0) + 1);
    assert.is(exited, null, `the server died on target ${JSON.stringify(target)}: ${exited}\n${stderr.slice(0, 2000)}`);
    if (target === '//' || target === '//a:99999/') assert.is(status, 400, `target ${target}`);
    assert.ok(status !== 500, `500 on target ${JSON.stringify(target)}`);
  }
  assert.ok(sent >= 50, `only ${sent} targets in ${FUZZ_MS} ms`);
  // Still serving afterwards.
  assert.is(await raw('/config.json'), 200);
  assert.is(await raw('/nope'), 404);
  assert.is(exited, null);
});

test.run();
