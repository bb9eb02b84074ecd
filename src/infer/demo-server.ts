/**
 * The demo's static server (node:http, no framework): the page in demo/, the edge bundle and its .wasm
 * (built into a folder at start), and optionally a default checkpoint. Only the fixed routes below are
 * served: no path from a request ever reaches the file system.
 *
 * Hardening: a request is served only when its Host header names this server (localhost, 127.0.0.1, [::1],
 * the bound host, or a name in `allowHosts`), so a DNS-rebinding page on another origin cannot read the
 * model; every answer carries a Content-Security-Policy (frame-ancestors 'none': no framing) and nosniff.
 * The model is opened once at start and streamed from that descriptor: a slow download holds 64 KB, not the
 * file, and replacing the file or a symlink afterwards cannot make the server send another file.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, read, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
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
  /** More host names (as in the Host header, without the port) to serve besides localhost, 127.0.0.1, [::1] and `host`. */
  allowHosts?: readonly string[];
}

export interface DemoServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * The page's policy: scripts, styles, workers and fetches from this server only; WebAssembly compiled from
 * fetched bytes ('wasm-unsafe-eval', no JavaScript eval); image previews from blob: URLs; no plugins, no
 * <base>, no form posts, and no page may frame this one.
 */
export const DEMO_CSP = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self'", "connect-src 'self'",
  "img-src 'self' blob: data:", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The host part of a Host header (`[::1]:8080` -> `[::1]`, `LocalHost.:80` -> `localhost`), or undefined if malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (!header || header.length > 300) return undefined;
  const h = header.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(h);
  return m ? m[1].replace(/\.$/, '') : undefined;
}

/** The host names a server bound to `host` answers to. A wildcard bind (0.0.0.0, ::) adds no name: give them with allowHosts. */
function allowedHosts(host: string, extra: readonly string[]): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  const bound = host.includes(':') ? `[${host}]` : host;
  if (host !== '0.0.0.0' && host !== '::') names.add(bound.toLowerCase());
  for (const e of extra) {
    const n = hostName(e);
    if (!n) throw new Error(`allowed host '${e.slice(0, 60)}' is not a host name`);
    names.add(n);
  }
  return names;
}

/** The default checkpoint, opened once: its descriptor and size at start. */
interface OpenModel { fd: number; size: number; name: string; modified: Date }

function openModel(path: string): OpenModel {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`--model ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? (e as Error).message})`}`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new Error(`--model ${path}: not a regular file`);
  }
  return { fd, size: st.size, name: basename(path), modified: st.mtime };
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
  const host = opts.host ?? '127.0.0.1';
  const hosts = allowedHosts(host, opts.allowHosts ?? []);
  const model = opts.model ? openModel(opts.model) : undefined;
  let edgeDir = opts.edgeDir;
  let tmp: string | undefined;
  try {
    if (!edgeDir) {
      tmp = mkdtempSync(join(tmpdir(), 'rf-demo-edge-'));
      buildEdgeBundle(tmp);
      edgeDir = tmp;
    }
  } catch (e) {
    if (model) closeSync(model.fd);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const routes = new Map<string, string>([
    ['/', join(ROOT, 'demo/index.html')],
    ['/app.js', join(ROOT, 'demo/app.js')],
    ['/worker.js', join(ROOT, 'demo/worker.js')],
    ['/style.css', join(ROOT, 'demo/style.css')],
    ['/edge/resilient-fusion.mjs', join(edgeDir, 'resilient-fusion.mjs')],
    ['/edge/engine.relaxed.wasm', join(edgeDir, 'engine.relaxed.wasm')],
    ['/edge/engine.simd.wasm', join(edgeDir, 'engine.simd.wasm')],
  ]);
  const config = JSON.stringify({ model: model ? model.name : null });

  const server = createServer((req, res) => answer(req, res, { hosts, routes, config, model }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      if (model) closeSync(model.fd);
      reject(e);
    });
    server.listen(opts.port ?? 8080, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => {
        if (model) closeSync(model.fd);
        resolve();
      });
      server.closeAllConnections();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }),
  };
}

/** Bytes read per step of a download: what one slow client holds in memory. */
const CHUNK = 64 * 1024;

/**
 * Send the opened model: positioned reads (pread) on the shared descriptor, so concurrent downloads do not
 * disturb each other and never move a file offset; the next chunk is read only once the socket has drained
 * the last one. A file that shrank since start ends the response early (the client sees a short body).
 */
function streamFile(m: OpenModel, res: ServerResponse): void {
  let pos = 0;
  const step = (): void => {
    if (res.destroyed) return;
    if (pos >= m.size) return void res.end();
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, m.size - pos));
    read(m.fd, buf, 0, buf.length, pos, (err, n) => {
      if (err || n === 0) return void res.destroy(err ?? undefined);
      pos += n;
      if (res.write(n === buf.length ? buf : buf.subarray(0, n))) step();
      else res.once('drain', step);
    });
  };
  step();
}

/** The most a request target may hold (characters); longer ones are answered 414. */
export const MAX_TARGET = 4096;

/**
 * The path of a request target, parsed without `new URL` (which throws on `//` or `//a:99999/`, taking them
 * for a host): only the origin form `/path[?query]` is accepted, and the path must not begin with `//`.
 * Returns the path, or the reason the target is malformed.
 */
export function targetPath(target: string | undefined): { path: string } | { status: 400 | 414; reason: string } {
  if (target === undefined || target === '') return { status: 400, reason: 'no request target' };
  if (target.length > MAX_TARGET) return { status: 414, reason: `request target over ${MAX_TARGET} characters` };
  if (target[0] !== '/') return { status: 400, reason: 'request target is not a path (only /path is served)' };
  const end = target.search(/[?#]/);
  const path = end < 0 ? target : target.slice(0, end);
  if (path.startsWith('//')) return { status: 400, reason: 'request target begins with //' };
  return { path };
}

interface ServerState { hosts: Set<string>; routes: Map<string, string>; config: string; model?: OpenModel }

/**
 * Every request enters here: all parsing (Host header, method, target) happens inside `handle`, and whatever
 * it throws becomes a 400 for this request (or ends this response if its head was already sent), never an
 * uncaught exception that would end the process.
 */
function answer(req: IncomingMessage, res: ServerResponse, s: ServerState): void {
  try {
    handle(req, res, s);
  } catch {
    if (res.headersSent) return void res.destroy();
    const body = 'bad request\n';
    res.writeHead(400, { ...HEADERS, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

const HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': DEMO_CSP, 'x-frame-options': 'DENY' };

/** One request: Host check, method check, target check, then a fixed route (the model streamed from its descriptor). */
function handle(req: IncomingMessage, res: ServerResponse, s: ServerState): void {
  const headers = HEADERS;
  const send = (status: number, type: string, body: string | Uint8Array) => {
    res.writeHead(status, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const name = hostName(req.headers.host);
  if (!name || !s.hosts.has(name)) return send(421, 'text/plain', `this server answers to ${[...s.hosts].join(', ')} only (--allow-host adds a name)\n`);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed');
  const target = targetPath(req.url);
  if (!('path' in target)) return send(target.status, 'text/plain', `${target.reason}\n`);
  const path = target.path;
  if (path === '/config.json') return send(200, TYPES['.json'], s.config);
  if (path === '/favicon.ico') return send(204, 'image/x-icon', '');
  if (path === '/model.safetensors' && s.model) {
    // Last-Modified: the file's date at start, which the page shows as the model's date.
    res.writeHead(200, { ...headers, 'content-type': TYPES['.safetensors'], 'content-length': s.model.size, 'last-modified': s.model.modified.toUTCString() });
    if (req.method === 'HEAD' || s.model.size === 0) return void res.end();
    return streamFile(s.model, res);
  }
  const file = s.routes.get(path);
  if (!file) return send(404, 'text/plain', 'not found');
  let body: Uint8Array;
  try {
    body = readFileSync(file); // the page and the bundle: small files, read per request so edits show on reload
  } catch {
    return send(404, 'text/plain', `not found: ${path}`);
  }
  const ext = file.slice(file.lastIndexOf('.'));
  send(200, TYPES[ext] ?? 'application/octet-stream', body);
}
