/**
 * A private Redis server for the queue tests: Debian's `redis-server` (RF_REDIS_SERVER overrides the path) on
 * a free port of 127.0.0.1, with a temporary directory and no persistence, stopped by the test. When no
 * server can be started at all, `startRedis` says why, and the tests skip with that reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = process.env.RF_REDIS_SERVER || 'redis-server';

/** A running server. */
export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** A port the OS says is free now (bound to 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start a server (extra arguments: e.g. ['--requirepass', 'x']; `port`: this port, e.g. to restart a server
 * where its clients reconnect); `{skip}` says why none could start.
 */
export async function startRedis(extra: string[] = [], fixedPort?: number): Promise<RedisServer | { skip: string }> {
  const probe = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return { skip: `no ${REDIS_SERVER} (apt-get install redis-server, or set RF_REDIS_SERVER): ${probe.error?.message ?? probe.stderr}` };
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = fixedPort ?? await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'rf-redis-'));
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let timer: NodeJS.Timeout | undefined;
    const ready = await new Promise<boolean>((resolve) => {
      let text = '';
      const onData = (b: Buffer) => {
        text += b.toString();
        if (text.includes('Ready to accept connections')) resolve(true);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', () => { lastErr = text.trim().split('\n').slice(-2).join(' '); resolve(false); });
      timer = setTimeout(() => { lastErr = `not ready after 10 s: ${text.slice(-200)}`; resolve(false); }, 10_000);
    });
    clearTimeout(timer);
    if (ready) return { port, url: `redis://127.0.0.1:${port}`, stop: () => stopServer(child, dir) };
    await stopServer(child, dir);
  }
  return { skip: `${REDIS_SERVER} did not start: ${lastErr}` };
}

function stopServer(child: ChildProcess, dir: string): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { rmSync(dir, { recursive: true, force: true }); resolve(); };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    child.kill('SIGTERM');
  });
}
