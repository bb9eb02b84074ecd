/**
 * The Redis connection of a queue run (coordinator and workers): the `--queue` URL checked up front, a
 * password from the URL or REDIS_PASSWORD, TLS for `rediss://`, and a first connection with bounded retries
 * so that a bad URL or an unreachable server is one clear line, not an endless reconnect loop.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

/** The BullMQ queue every coordinator and worker of this project uses (jobs are told apart by their ids). */
export const QUEUE_NAME = 'resilient-fusion-stress';

/** A checked `--queue` URL. */
export interface QueueTarget {
  url: string;
  /** The URL with any password replaced by `***` (for messages and logs). */
  shown: string;
  options: RedisOptions;
}

/** Parse `redis://[user:password@]HOST:PORT[/DB]` or `rediss://...`; anything else is a one-line error. */
export function parseQueueUrl(url: string, env: NodeJS.ProcessEnv = process.env): QueueTarget {
  const form = 'expected redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB] (TLS)';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue ${JSON.stringify(url)}: not a URL; ${form}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`--queue ${JSON.stringify(redact(url))}: scheme ${u.protocol} is not redis: or rediss:; ${form}`);
  if (!u.hostname) throw new Error(`--queue ${JSON.stringify(redact(url))}: no host; ${form}`);
  const path = u.pathname.replace(/^\//, '');
  if (path && !/^\d+$/.test(path)) throw new Error(`--queue ${JSON.stringify(redact(url))}: the path must be a database number, got /${path}; ${form}`);
  const port = u.port ? Number(u.port) : 6379;
  const options: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, ''), port, db: path ? Number(path) : 0,
    // BullMQ's blocking commands need requests that wait out a reconnect rather than fail after N tries.
    maxRetriesPerRequest: null,
    connectTimeout: 10_000,
  };
  if (u.username) options.username = decodeURIComponent(u.username);
  const password = u.password ? decodeURIComponent(u.password) : env.REDIS_PASSWORD;
  if (password) options.password = password;
  if (u.protocol === 'rediss:') {
    // Node's default CAs, or the PEM file REDIS_TLS_CA names (a private CA, or the server's own certificate).
    options.tls = { servername: options.host };
    if (env.REDIS_TLS_CA) {
      try {
        options.tls.ca = readFileSync(env.REDIS_TLS_CA);
      } catch (e) {
        throw new Error(`REDIS_TLS_CA ${env.REDIS_TLS_CA}: ${(e as Error).message}`);
      }
    }
  }
  return { url, shown: redact(url), options };
}

/** The URL with its password hidden. */
export function redact(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

/**
 * Connect and PING, retrying a few times (about `attempts` seconds in all); then the client is returned for
 * BullMQ to use (it reconnects on its own after a later outage). A failure is one line naming the server.
 */
export async function connect(t: QueueTarget, attempts = 4): Promise<Redis> {
  let last = '';
  const client = new Redis({
    ...t.options,
    lazyConnect: true,
    retryStrategy: (times) => (times >= attempts ? null : Math.min(1000, 200 * times)),
  });
  client.on('error', (e: Error) => { last = e.message; });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    const why = last || (e instanceof Error ? e.message : String(e));
    throw new Error(`cannot reach the Redis server at ${t.shown} (${why})${/NOAUTH|WRONGPASS|AUTH/.test(why) ? '; give the password in the URL or REDIS_PASSWORD' : ''}`);
  }
  // From now on reconnect for as long as it takes (a Redis restart must not end a long run).
  client.options.retryStrategy = (times) => Math.min(5000, 200 * times);
  return client;
}
