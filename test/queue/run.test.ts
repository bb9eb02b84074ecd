/**
 * The protocol grid on BullMQ + a real Redis (a private redis-server per test file): a queue run with two
 * worker processes writes the same results.csv, byte for byte, as the one-process runner; every job trained
 * again gives the same model bytes; a worker killed (SIGKILL) mid-job loses the job to another worker once
 * its lock expires and the results are unchanged; re-running the command attaches; failed jobs keep their
 * error and log and are retried with --retry-failed; a job of another commit is handed back, not run.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { Queue } from 'bullmq';
import { generateSynthetic } from '../../src/data/index.ts';
import type { StressOptions } from '../../src/protocols/runner.ts';
import { runStress } from '../../src/protocols/runner.ts';
import { planCell, planJobs } from '../../src/protocols/methods.ts';
import { QUEUE_NAME, connect, parseQueueUrl } from '../../src/queue/connection.ts';
import { runQueued } from '../../src/queue/coordinator.ts';
import { acceptJob, jobData, queueJobId } from '../../src/queue/job-data.ts';
import { startWorker, trainOnThread } from '../../src/queue/worker.ts';
import { stressSettings } from '../../src/protocols/runner.ts';
import { freePort, startRedis } from '../util/redis.ts';
import type { RedisServer } from '../util/redis.ts';
import { rejects } from '../util/harness.ts';
import { spawnWorkerProcess, stopProcess } from '../util/worker-process.ts';
import type { WorkerProcess } from '../util/worker-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const server = await startRedis();
const skip = 'skip' in server ? server.skip : '';
if (skip) console.log(`queue tests skipped: ${skip}`);
const it = skip ? test.skip : test;
const redis = server as RedisServer;

const root = mkdtempSync(join(tmpdir(), 'rf-queue-'));
const data = join(root, 'data');
if (!skip) await generateSynthetic({ out: data, patients: 300, seed: 3 });

/** The small grid: one protocol, two levels, the proposed method (dropout grid of one rate) and frozen-encoders (dependencies). */
function opts(out: string, over: Partial<StressOptions> = {}): StressOptions {
  return {
    out, data, protocols: ['image'], levels: [0, 1], methods: ['proposed', 'frozen-encoders'], seeds: 1, preset: 'tiny', epochs: 1,
    threads: 1, grid: [0.3], replicates: 50, log: () => {}, ...over,
  };
}
const csv = (out: string) => readFileSync(join(out, 'results.csv'), 'utf8');
const url = (db: number) => `${redis.url}/${db}`;

/** A worker process (`npm run worker`) on queue database `db` (test/util/worker-process.ts). */
const spawnWorker = (db: number, out: string, extra: string[] = []): WorkerProcess =>
  spawnWorkerProcess(ROOT, ['--queue', url(db), '--out', out, '--data', root, '--threads', '1', ...extra], 180_000);
const stop = stopProcess;

/** Every file `name` under <shared>/<run>/runs/<job>/, by job. */
function runFiles(shared: string, name: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const run of readdirSync(shared)) {
    const runs = join(shared, run, 'runs');
    if (!existsSync(runs)) continue;
    for (const j of readdirSync(runs)) if (existsSync(join(runs, j, name))) m.set(j, readFileSync(join(runs, j, name)));
  }
  return m;
}
const withoutSeconds = (b: Buffer) => { const o = JSON.parse(b.toString()); delete o.seconds; return JSON.stringify(o); };

const LOCAL = join(root, 'local'), Q1 = join(root, 'q1'), S1 = join(root, 'shared1');
let local = '';
/** Training jobs of the grid (the one-process run's run folders: the queue must run each exactly once). */
let jobs = 0;

it('one process: the reference results', async () => {
  await runStress(opts(LOCAL));
  local = csv(LOCAL);
  jobs = readdirSync(join(LOCAL, 'runs')).length;
  assert.ok(local.split('\n').length > 8);
});

it('a queue run with two worker processes gives the same results.csv, byte for byte; --status and attaching', async () => {
  const w = [spawnWorker(0, S1), spawnWorker(0, S1)];
  try {
    const lines: string[] = [];
    const r = await runQueued(opts(Q1, { log: (l) => lines.push(l) }), { queue: url(0), pollMs: 200 });
    assert.ok(r && !r.interrupted);
    assert.is(csv(Q1), local, 'results.csv of the queue run equals the one-process one');
    assert.ok(lines.some((l) => new RegExp(`^queue: ${jobs}/${jobs} jobs done, 0 running, 0 waiting, 0 failed; 2 worker\\(s\\)`).test(l)), lines.join('\n'));
    const ran = w.map((x) => (x.text().match(/ done in /g) ?? []).length);
    assert.is(ran[0] + ran[1], jobs, `each job trained once: ${ran}`);
    // The fetch-loop watchdog (src/queue/worker.ts) only acts on a stopped loop: running workers never restart it.
    for (const x of w) assert.not.match(x.text(), /fetch loop had stopped/);
    // --status: the state without starting anything.
    const status: string[] = [];
    assert.is(await runQueued(opts(Q1, { log: (l) => status.push(l) }), { queue: url(0), status: true }), undefined);
    assert.match(status.join('\n'), new RegExp(`${jobs}/${jobs} jobs done, 0 running, 0 waiting, 0 failed`));
    // The same command from another folder attaches: nothing is enqueued or trained again.
    const c = await connect(parseQueueUrl(url(0)));
    const q = new Queue(QUEUE_NAME, { connection: c });
    const before = await q.getJobCounts();
    await runQueued(opts(join(root, 'q1-again')), { queue: url(0), pollMs: 200 });
    assert.equal(await q.getJobCounts(), before);
    await q.close();
    c.disconnect();
    assert.is(csv(join(root, 'q1-again')), local);
  } finally {
    await Promise.all(w.map((x) => stop(x.child)));
  }
});

it('a worker killed mid-job: its job is retried by another once its lock expires; same results, same model bytes', async () => {
  const Q2 = join(root, 'q2'), S2 = join(root, 'shared2');
  const fast = ['--lock-ms', '1000', '--stalled-ms', '500'];
  const lines: string[] = [];
  const ac = new AbortController();
  const run = runQueued(opts(Q2, { log: (l) => lines.push(l), signal: ac.signal }), { queue: url(1), pollMs: 200 });
  const doomed = spawnWorker(1, S2, fast);
  let other: ReturnType<typeof spawnWorker> | undefined;
  try {
    await doomed.saw(/job \S+: pre-d0\.3-img0-tab0-s0 .*attempt 1/);
    await stop(doomed.child, 'SIGKILL');
    other = spawnWorker(1, S2, fast);
    await run;
    assert.match(other.text(), /pre-d0\.3-img0-tab0-s0 done in/, 'the killed job ran on the other worker');
    assert.is(csv(Q2), local);
    // Every job trained again (three times in all: one process, and each queue run): identical files.
    const m1 = runFiles(S1, 'model.safetensors'), m2 = runFiles(S2, 'model.safetensors'), m0 = new Map<string, Buffer>();
    for (const j of readdirSync(join(LOCAL, 'runs'))) m0.set(j, readFileSync(join(LOCAL, 'runs', j, 'model.safetensors')));
    assert.is(m1.size, jobs);
    for (const [j, b] of m1) {
      assert.ok(b.equals(m2.get(j)!), `${j}: model bytes of the two queue runs`);
      assert.ok(b.equals(m0.get(j)!), `${j}: model bytes of queue and one-process runs`);
    }
    const p1 = runFiles(S1, 'stress-predictions.json'), p2 = runFiles(S2, 'stress-predictions.json');
    for (const [j, b] of p1) assert.is(withoutSeconds(b), withoutSeconds(p2.get(j)!), `${j}: predictions`);
  } finally {
    ac.abort();
    await run.catch(() => {});
    await stop(doomed.child, 'SIGKILL');
    if (other) await stop(other.child);
  }
});

it('a worker killed after an epoch: another worker resumes the run from the shared folder, to the same bytes', async () => {
  const o = (out: string) => opts(out, { methods: ['image-only'], levels: [0], epochs: 2 });
  const ref = join(root, 'resume-local'), Q6 = join(root, 'q6'), S6 = join(root, 'shared6');
  await runStress(o(ref));
  const fast = ['--lock-ms', '1000', '--stalled-ms', '500'];
  const ac = new AbortController();
  const run = runQueued({ ...o(Q6), signal: ac.signal }, { queue: url(6), pollMs: 200 });
  const doomed = spawnWorker(6, S6, fast);
  let other: ReturnType<typeof spawnWorker> | undefined;
  try {
    // Killed once the first epoch is saved (state.json, not finished) and before the job is done.
    const state = () => (existsSync(S6) ? readdirSync(S6) : []).map((r) => join(S6, r, 'runs', 'fusion-d0-img0-tab1-s0', 'state.json')).find(existsSync);
    for (let i = 0; i < 600; i++) {
      const f = state();
      if (f && JSON.parse(readFileSync(f, 'utf8')).epoch >= 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await stop(doomed.child, 'SIGKILL');
    assert.not.match(doomed.text(), / done in /, 'killed before the job was done');
    other = spawnWorker(6, S6, fast);
    await run;
    assert.is(csv(Q6), csv(ref));
    const c = await connect(parseQueueUrl(url(6)));
    const q = new Queue(QUEUE_NAME, { connection: c });
    const id = queueJobId(stressSettings(o(Q6), [0.3]), planJobs(planCell('image-only', 'image', 0, 0, NaN))[0]);
    const { logs } = await q.getJobLogs(id);
    await q.close();
    c.disconnect();
    assert.ok(logs.some((l) => /resuming fusion-d0-img0-tab1-s0/.test(l)), `the second worker resumed: ${logs.join(' | ')}`);
    const model = runFiles(S6, 'model.safetensors').get('fusion-d0-img0-tab1-s0')!;
    assert.ok(model.equals(readFileSync(join(ref, 'runs', 'fusion-d0-img0-tab1-s0', 'model.safetensors'))), 'model bytes');
  } finally {
    ac.abort();
    await run.catch(() => {});
    await stop(doomed.child, 'SIGKILL');
    if (other) await stop(other.child);
  }
});

it('failed jobs keep error and log, stop the wait with the retry command, and --retry-failed reruns them', async () => {
  const later = join(root, 'data-later'), Q3 = join(root, 'q3');
  const o = opts(Q3, { data: later, methods: ['image-only'] });
  const w = await startWorker({ queue: url(2), out: join(root, 'shared3'), data: root, threads: 1, concurrency: 2, log: () => {} });
  try {
    await rejects(runQueued(o, { queue: url(2), pollMs: 200, attempts: 1 }), /2 job\(s\) failed and nothing else can run[\s\S]*failed: fusion-d0-img0-tab1-s0 .*the data folder \S+data-later \(the coordinator's --data\) does not exist on this machine[\s\S]*log: worker \S+, attempt 1, run folder[\s\S]*--retry-failed/);
    const status: string[] = [];
    await runQueued({ ...o, log: (l) => status.push(l) }, { queue: url(2), status: true });
    assert.match(status.join('\n'), /0\/2 jobs done, 0 running, 0 waiting, 2 failed/);
    assert.match(status.join('\n'), /failed: fusion-d0-img1-tab1-s0 .*1 attempt/);
    symlinkSync(data, later);
    const r = await runQueued(o, { queue: url(2), pollMs: 200, retryFailed: true });
    assert.ok(r && !r.interrupted && existsSync(join(Q3, 'results.csv')));
  } finally {
    await w.close();
  }
});

it('a job trains on a thread of its own: the worker\'s event loop (lock renewal) is never blocked, also at --threads 1', async () => {
  const o = opts(join(root, 'q5'));
  const settings = stressSettings(o, [0.3]);
  const job = planJobs(planCell('image-only', 'image', 0, 0, NaN))[0];
  const accepted = acceptJob(jobData(settings, job, 'test') as unknown as Record<string, unknown>, { out: join(root, 'shared5'), data: root });
  mkdirSync(accepted.runDir, { recursive: true });
  let last = performance.now(), worst = 0;
  const tick = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; }, 10);
  const t0 = performance.now();
  let r: Awaited<ReturnType<typeof trainOnThread>>;
  try {
    r = await trainOnThread({ job: accepted, threads: 1 }, () => {});
  } finally {
    clearInterval(tick);
  }
  const took = performance.now() - t0, text = r.predictions;
  assert.ok(r.threadId !== threadId, `trained on thread ${r.threadId}, not on the worker's own thread ${threadId}`);
  assert.ok(worst < Math.max(250, took / 2), `the event loop stalled for ${worst.toFixed(0)} ms during a ${took.toFixed(0)} ms job`);
  // The same job trained by the one-process run: the same predictions.
  const strip = (t: string) => { const x = JSON.parse(t); delete x.seconds; return JSON.stringify(x); };
  assert.is(strip(text), strip(readFileSync(join(LOCAL, 'runs', 'fusion-d0-img0-tab1-s0', 'stress-predictions.json'), 'utf8')));
});

it('a worker of another commit hands the job back and stops, saying why', async () => {
  const o = opts(join(root, 'q4'));
  const settings = stressSettings(o, [0.3]);
  const job = planJobs(planCell('image-only', 'image', 0, 0, NaN))[0];
  const c = await connect(parseQueueUrl(url(3)));
  const q = new Queue(QUEUE_NAME, { connection: c });
  const id = queueJobId(settings, job);
  await q.add('x', { ...jobData(settings, job, 'test'), commit: 'another-commit' }, { jobId: id });
  const w = await startWorker({ queue: url(3), out: join(root, 'shared4'), threads: 1, concurrency: 1, log: () => {} });
  const why = await w.closed;
  assert.match(why ?? '', /enqueued by resilient-fusion \S+ at commit another-commit; this worker is .*check out the coordinator's commit/);
  const state = await (await q.getJob(id))!.getState();
  assert.ok(state === 'delayed' || state === 'waiting', `the job went back to the queue (${state})`);
  await q.close();
  c.disconnect();
});

it('bad URLs, unreachable servers and passwords: one clear line each', async () => {
  assert.throws(() => parseQueueUrl('http://127.0.0.1:6379'), /scheme http: is not redis: or rediss:/);
  assert.throws(() => parseQueueUrl('redis://127.0.0.1:6379/x'), /database number/);
  assert.throws(() => parseQueueUrl('nonsense'), /not a URL/);
  assert.ok(parseQueueUrl('rediss://h:1').options.tls, 'rediss: is TLS');
  const t0 = performance.now();
  await rejects(connect(parseQueueUrl(`redis://127.0.0.1:${await freePort()}`)), /^cannot reach the Redis server at redis:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED/);
  assert.ok(performance.now() - t0 < 10_000, 'bounded retries');
  // Through the command lines: one line on stderr, exit code 1.
  const dead = `redis://127.0.0.1:${await freePort()}`;
  for (const [args, re] of [
    [['src/cli/stress.ts', '--queue', 'http://x'], /^stress: --queue "http:\/\/x": scheme http: is not redis: or rediss:;[^\n]*\n$/],
    [['src/cli/stress.ts', '--status'], /^stress: --status needs --queue URL\n$/],
    [['src/cli/worker.ts', '--queue', dead, '--out', join(root, 'never')], /^worker: cannot reach the Redis server at redis:\/\/127\.0\.0\.1:\d+ \([^\n]*\)\n$/],
  ] as [string[], RegExp][]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 1, args.join(' '));
    assert.match(r.stderr, re);
  }
  const secured = await startRedis(['--requirepass', 's3cret-word']);
  if ('skip' in secured) throw new Error(secured.skip);
  try {
    await rejects(connect(parseQueueUrl(secured.url, {})), /NOAUTH.*give the password in the URL or REDIS_PASSWORD/);
    const bad = `redis://:wrong-one@127.0.0.1:${secured.port}`;
    const e = await connect(parseQueueUrl(bad, {})).then(() => undefined, (x: Error) => x);
    assert.ok(e && !e.message.includes('wrong-one') && e.message.includes('***'), `password hidden: ${e?.message}`);
    for (const t of [parseQueueUrl(`redis://:s3cret-word@127.0.0.1:${secured.port}`, {}), parseQueueUrl(secured.url, { REDIS_PASSWORD: 's3cret-word' })]) {
      const c = await connect(t);
      assert.is(await c.ping(), 'PONG');
      c.disconnect();
    }
  } finally {
    await secured.stop();
  }
});

it('TLS: rediss:// with REDIS_TLS_CA reaches a TLS server; without the CA the certificate is refused in one line', async () => {
  const dir = join(root, 'tls'), cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
  mkdirSync(dir);
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { encoding: 'utf8' });
  if (gen.status !== 0) {
    console.log(`TLS test skipped: openssl could not make a certificate (${gen.error?.message ?? gen.stderr})`);
    return;
  }
  const port = await freePort();
  const tls = await startRedis(['--tls-port', String(port), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no']);
  if ('skip' in tls) throw new Error(tls.skip);
  try {
    const c = await connect(parseQueueUrl(`rediss://localhost:${port}`, { REDIS_TLS_CA: cert }));
    const q = new Queue(QUEUE_NAME, { connection: c });
    assert.is((await q.getJobCounts()).waiting, 0);
    await q.close();
    c.disconnect();
    // The meaning, not Node's wording (Node 24 appends a --use-system-ca hint): one line, naming the
    // server, refused for its certificate. `.` stops at a newline and `$` is the end, so one line only.
    await rejects(connect(parseQueueUrl(`rediss://localhost:${port}`, {})), /^cannot reach the Redis server at rediss:\/\/localhost:\d+ \(.*certificate.*\)$/i);
  } finally {
    await tls.stop();
  }
});

test.after(async () => {
  if (!skip) await redis.stop();
  rmSync(root, { recursive: true, force: true });
});

test.run();
