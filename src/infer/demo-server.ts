/**
 * The demo's static server (node:http, no framework): the page in demo/, the edge bundle and its .wasm
 * (built into a folder at start), and optionally a default checkpoint. Only the fixed routes below are
 * served: no path from a request ever reaches the file system.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface DemoOptions {
  /** Port (0: any free port). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1: local only). */
  host?: string;
  /** A checkpoint the page loads at start (optional). */
  model?: string;
  /** Folder holding resilient-fusion.mjs and the .wasm (default: build them into a temporary folder). */
  edgeDir?: string;
}

export interface DemoServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json', '.safetensors': 'application/octet-stream',
};

/** Build the edge bundle with scripts/build-edge.mjs into `outdir`. */
export function buildEdgeBundle(outdir: string): void {
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-edge.mjs'), '--outdir', outdir], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(err || `building the edge bundle failed: ${(e as Error).message}`);
  }
}

/** Start the demo server. */
export async function startDemo(opts: DemoOptions = {}): Promise<DemoServer> {
  let edgeDir = opts.edgeDir;
  let tmp: string | undefined;
  if (!edgeDir) {
    tmp = mkdtempSync(join(tmpdir(), 'rf-demo-edge-'));
    buildEdgeBundle(tmp);
    edgeDir = tmp;
  }
  if (opts.model && !existsSync(opts.model)) throw new Error(`--model ${opts.model}: no such file`);
  const routes = new Map<string, string>([
    ['/', join(ROOT, 'demo/index.html')],
    ['/app.js', join(ROOT, 'demo/app.js')],
    ['/worker.js', join(ROOT, 'demo/worker.js')],
    ['/style.css', join(ROOT, 'demo/style.css')],
    ['/edge/resilient-fusion.mjs', join(edgeDir, 'resilient-fusion.mjs')],
    ['/edge/engine.relaxed.wasm', join(edgeDir, 'engine.relaxed.wasm')],
    ['/edge/engine.simd.wasm', join(edgeDir, 'engine.simd.wasm')],
  ]);
  if (opts.model) routes.set('/model.safetensors', opts.model);
  const config = JSON.stringify({ model: opts.model ? basename(opts.model) : null });

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, type: string, body: string | Uint8Array) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed');
    if (path === '/config.json') return send(200, TYPES['.json'], config);
    if (path === '/favicon.ico') return send(204, 'image/x-icon', '');
    const file = routes.get(path);
    if (!file) return send(404, 'text/plain', 'not found');
    let body: Uint8Array;
    try {
      body = readFileSync(file);
    } catch {
      return send(404, 'text/plain', `not found: ${path}`);
    }
    const ext = file.slice(file.lastIndexOf('.'));
    send(200, TYPES[ext] ?? 'application/octet-stream', body);
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }),
  };
}
