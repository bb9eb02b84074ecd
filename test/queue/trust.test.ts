/**
 * Queue trust boundaries (issue 24) on a real Redis (a private redis-server for this file): a worker accepts
 * only jobs of the protocol plan and fails the others at once with the reason, writing nothing outside its
 * --out; job ids carry the code, and a coordinator refuses a run enqueued by another commit unless --fresh
 * (and an output folder holding another commit's results, --fresh or not);
 * a coordinator refuses a found job whose data is not its own; two coordinators on one output folder: the
 * second is refused (or attaches read-only with --status); a worker paused past its lock stops writing and
 * its job's new owner takes the run folder over; a cold image cache is built by the coordinator before any
 * worker needs it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { Job } from 'bullmq';
import { generateSynthetic } from '../../src/data/index.ts';
import { planCell, planJobs, jobKey, jobName } from '../../src/protocols/methods.ts';
import type { JobSpec } from '../../src/protocols/methods.ts';
import type { StressOptions } from '../../src/protocols/runner.ts';
import { runStress, stressSettings } from '../../src/protocols/runner.ts';
import { QUEUE_NAME, connect, parseQueueUrl } from '../../src/queue/connection.ts';
import { runQueued } from '../../src/queue/coordinator.ts';
import { JOB_DATA_FORMAT, gitCommit, jobData, packageVersion, queueJobId, resolvedConfig, runId } from '../../src/queue/job-data.ts';
import type { QueueJobData } from '../../src/queue/job-data.ts';
import { startWorker } from '../../src/queue/worker.ts';
import { startRedis } from '../util/redis.ts';
import type { RedisServer } from '../util/redis.ts';
import { spawnWorkerProcess, stopProcess } from '../util/worker-process.ts';
import type { WorkerProcess } from '../util/worker-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const server = await startRedis();
const skip = 'skip' in server ? server.skip : '';
if (skip) console.log(`queue trust tests skipped: ${skip}`);
const it = skip ? test.skip : test;
const redis = server as RedisServer;

const root = mkdtempSync(join(tmpdir(), 'rf-qtrust-'));
const data = join(root, 'data');
if (!skip) await generateSynthetic({ out: data, patients: 300, seed: 3 });
const url = (db: number) => `${redis.url}/${db}`;

/** One job: image-only at level 0 (with more methods or levels, a few). */
function opts(out: string, over: Partial<StressOptions> = {}): StressOptions {
  return {
    out, data, protocols: ['image'], levels: [0], methods: ['image-only'], seeds: 1, preset: 'tiny', epochs: 1,
    threads: 1, grid: [0.3], replicates: 20, log: () => {}, ...over,
  };
}
const IMAGE_ONLY = planJobs(planCell('image-only', 'image', 0, 0, NaN))[0];

async function openQueue(db: number): Promise<{ q: Queue; close: () => Promise<void> }> {
  const c = await connect(parseQueueUrl(url(db)));
  const q = new Queue(QUEUE_NAME, { connection: c });
  return { q, close: async () => { await q.close(); c.disconnect(); } };
}

/** Wait until the job is failed or completed (at most `ms`). */
async function settled(q: Queue, id: string, ms = 60_000): Promise<Job> {
  const t0 = Date.now();
  for (;;) {
    const j = await q.getJob(id);
    const s = j ? await j.getState() : 'absent';
    if (j && (s === 'failed' || s === 'completed')) return j;
    if (Date.now() - t0 > ms) throw new Error(`job ${id} still ${s} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A promise that rejects after `ms` (a coordinator that would wait forever fails the test instead). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

/** Every file and folder under `dir` (relative paths). */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

/** A worker process (`npm run worker`) on queue database `db` (test/util/worker-process.ts). */
const spawnWorker = (db: number, out: string, extra: string[] = []): WorkerProcess =>
  spawnWorkerProcess(ROOT, ['--queue', url(db), '--out', out, '--data', root, '--threads', '1', ...extra], 120_000);
const stop = stopProcess;

/** A job's data as a hostile writer would make it: consistent with itself (run id, name, key, config). */
function forged(settings: ReturnType<typeof stressSettings>, job: JobSpec, over: Partial<QueueJobData> = {}): QueueJobData {
  return {
    format: JOB_DATA_FORMAT, version: packageVersion(), commit: gitCommit(), run: runId(settings), settings, job,
    name: jobName(job), key: jobKey(job), why: 'test', config: hostileConfig(job, settings), ...over,
  };
}

/**
 * The config a hostile writer computes for its job: ours where the option schema accepts the job, else the
 * same keys with the job's own (say, `../`) name, which the schema would have refused at our end.
 */
function hostileConfig(job: JobSpec, settings: ReturnType<typeof stressSettings>): Record<string, unknown> {
  try {
    return resolvedConfig(job, settings, '<out>');
  } catch {
    const { train: _hostile, ...clean } = settings;
    return { ...resolvedConfig({ ...job, tag: 'forged' }, { ...clean, train: {} } as typeof settings, '<out>'), name: jobName(job), ...settings.train };
  }
}

it('a worker fails a hostile job at once with the reason, writes nothing outside its --out, and goes on working', async () => {
  const shared = join(root, 'shared-hostile'), { q, close } = await openQueue(0);
  const lines: string[] = [];
  const w = await startWorker({ queue: url(0), out: shared, data, threads: 1, concurrency: 1, log: (l) => lines.push(l) });
  try {
    const settings = stressSettings(opts(join(root, 'o-hostile')), [0.3]);
    const train = (extra: Record<string, string | number | boolean>) => ({ ...settings, train: { ...settings.train, ...extra } });
    const sneaky = (s: typeof settings) => forged(s, IMAGE_ONLY);
    const cases: [string, unknown, RegExp][] = [
      ['run-escape', { ...jobData(settings, IMAGE_ONLY, 'test'), run: '../escape' }, /run "\.\.\/escape" is not the id of the job's settings/],
      ['tag-escape', forged(settings, { ...IMAGE_ONLY, tag: '../../tag-escape' }), /tag "\.\.\/\.\.\/tag-escape" with its overrides and levels is no job of the protocol plan/],
      ['train-out', sneaky(train({ out: join(root, 'train-out') })), /train key "out" is not one a coordinator sends/],
      ['train-name', sneaky(train({ name: '../../train-name' })), /train key "name" is not one a coordinator sends/],
      ['train-cache', sneaky(train({ cacheDir: join(root, 'cache-escape') })), /train key "cacheDir" is not one a coordinator sends/],
      ['init-from', forged(settings, { ...IMAGE_ONLY, overrides: { ...IMAGE_ONLY.overrides, initFrom: `${join(root, 'outside.safetensors')}=vision.` } }), /no job of the protocol plan/],
      ['init-dep', forged(settings, { ...planJobs(planCell('proposed', 'image', 0, 0, 0.3))[2], init: { vision: { ...IMAGE_ONLY, tag: '../../../dep' }, tabular: IMAGE_ONLY } }), /no job of the protocol plan/],
      ['extra-key', { ...jobData(settings, IMAGE_ONLY, 'test'), out: join(root, 'extra-out') }, /unknown key\(s\) "out"/],
      ['data-outside', sneaky({ ...settings, data: '/etc' }), /data folder \/etc is not inside this worker's --data/],
      ['no-format', { ...jobData(settings, IMAGE_ONLY, 'test'), format: undefined }, /job format null, this worker reads resilient-fusion-queue-job\/1/],
      ['bad-format', { ...jobData(settings, IMAGE_ONLY, 'test'), format: 'resilient-fusion-queue-job/0' }, /job format "resilient-fusion-queue-job\/0"/],
      ['not-object', 'rm -rf /', /job data is string, not an object/],
    ];
    const before = tree(root).filter((p) => !p.startsWith('shared-hostile'));
    for (const [id, d, re] of cases) await q.add('hostile', d, { jobId: `hostile-${id}`, attempts: 3, backoff: { type: 'fixed', delay: 100 } });
    for (const [id, , re] of cases) {
      const j = await settled(q, `hostile-${id}`);
      assert.is(await j.getState(), 'failed', `${id} is failed`);
      assert.match(j.failedReason, re, id);
      assert.is(j.attemptsMade, 1, `${id}: failed at once, not retried`);
    }
    assert.equal(tree(root).filter((p) => !p.startsWith('shared-hostile')), before, 'nothing written outside the worker\'s --out');
    assert.equal(tree(shared), [], 'no run folder made for a refused job');
    // The worker is still taking jobs: a real one runs.
    await q.add('real', jobData(settings, IMAGE_ONLY, 'test'), { jobId: queueJobId(settings, IMAGE_ONLY) });
    const real = await settled(q, queueJobId(settings, IMAGE_ONLY), 120_000);
    assert.is(await real.getState(), 'completed', real.failedReason);
    assert.ok(lines.some((l) => /refused: run "\.\.\/escape"/.test(l)), lines.join('\n'));
  } finally {
    await w.close();
    await close();
  }
});

it('job ids carry the version and the commit; a run enqueued by another commit is refused in one line, and --fresh removes its jobs', async () => {
  const settings = stressSettings(opts(join(root, 'o-commit')), [0.3]);
  const v = packageVersion(), c = gitCommit();
  assert.is.not(queueJobId(settings, IMAGE_ONLY, v, 'another-commit'), queueJobId(settings, IMAGE_ONLY, v, c));
  assert.is.not(queueJobId(settings, IMAGE_ONLY, '9.9.9', c), queueJobId(settings, IMAGE_ONLY, v, c));
  assert.ok(queueJobId(settings, IMAGE_ONLY).includes(`-${v}-`), queueJobId(settings, IMAGE_ONLY));
  const { q, close } = await openQueue(1);
  try {
    // The old commit's run: one finished-looking job (its result claims to be done) and one waiting.
    const oldDone = queueJobId(settings, IMAGE_ONLY, v, 'old-commit');
    await q.add('old', { ...jobData(settings, IMAGE_ONLY, 'old run'), commit: 'old-commit' }, { jobId: oldDone });
    const o = opts(join(root, 'o-commit'));
    const e = await within(runQueued(o, { queue: url(1), pollMs: 100 }).then(() => undefined, (x: Error) => x), 20_000, 'a coordinator of another commit');
    assert.ok(e instanceof Error, 'refused');
    assert.match(e.message, /^the queue on this server holds 1 job\(s\) of this run enqueued by resilient-fusion \S+ at commit old-commit; this coordinator is .* at commit .*: run the coordinator of that commit to continue it, or add --fresh/);
    assert.not.match(e.message, /\n/, 'one line');
    // --status only reads and says so.
    const status: string[] = [];
    await runQueued({ ...o, log: (l) => status.push(l) }, { queue: url(1), status: true });
    assert.match(status.join('\n'), /1 job\(s\) of this run were enqueued by resilient-fusion \S+ at commit old-commit/);
    // --fresh: the old job is removed, the run starts at this commit (a worker, started once the old job is
    // gone, trains it: one started before would take the old job and stop, as it should).
    const lines: string[] = [];
    const fresh = runQueued({ ...o, log: (l) => lines.push(l) }, { queue: url(1), pollMs: 100, fresh: true });
    for (let i = 0; i < 400 && !lines.some((l) => l.startsWith('--fresh')); i++) await new Promise((r) => setTimeout(r, 50));
    const w = await startWorker({ queue: url(1), out: join(root, 'shared-commit'), data, threads: 1, concurrency: 1, log: () => {} });
    try {
      const r = await within(fresh, 120_000, 'the --fresh run');
      assert.ok(r && !r.interrupted && existsSync(join(root, 'o-commit', 'results.csv')));
      assert.ok(lines.some((l) => /^--fresh: removed 1 job\(s\) of this run enqueued by other code$/.test(l)), lines.join('\n'));
      assert.is(await q.getJob(oldDone), undefined, 'the old commit\'s job is gone');
      // Attaching again (no --fresh) is accepted: the run is this commit's now.
      await runQueued(o, { queue: url(1), pollMs: 100 });
    } finally {
      await w.close();
    }
  } finally {
    await close();
  }
});

it('an output folder holding results of another commit\'s queue run is refused, --fresh or not; --fresh needs --queue', async () => {
  const out = join(root, 'o-old-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'queue.json'), JSON.stringify({ format: 'resilient-fusion-queue-run/1', version: packageVersion(), commit: 'old-commit' }));
  mkdirSync(join(out, 'runs', 'a-job'), { recursive: true });
  writeFileSync(join(out, 'runs', 'a-job', 'stress-predictions.json'), '{}\n');
  for (const fresh of [false, true]) {
    const e = await within(runQueued(opts(out), { queue: url(6), pollMs: 100, fresh }).then(() => undefined, (x: Error) => x), 20_000, 'a coordinator on an old folder');
    assert.ok(e instanceof Error);
    assert.match(e.message, new RegExp(`^${out} holds results of a queue run by resilient-fusion \\S+ at commit old-commit; this coordinator is .*: use another --out$`));
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/stress.ts', '--fresh'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 1);
  assert.is(r.stderr, 'stress: --fresh needs --queue URL\n');
});

it('a job found under a needed id whose data is not the coordinator\'s own is refused in one line', async () => {
  const o = opts(join(root, 'o-tamper'));
  const settings = stressSettings(o, [0.3]);
  const { q, close } = await openQueue(2);
  try {
    const d = jobData(settings, IMAGE_ONLY, 'x');
    await q.add('tampered', { ...d, config: { ...d.config, lr: 5 } }, { jobId: queueJobId(settings, IMAGE_ONLY) });
    const e = await within(runQueued(o, { queue: url(2), pollMs: 100 }).then(() => undefined, (x: Error) => x), 20_000, 'a coordinator meeting a tampered job');
    assert.ok(e instanceof Error);
    assert.match(e.message, /^the queue's job \S+ is not this run's job fusion-d0-img0-tab1-s0: its "config" differs from what this coordinator enqueues/);
  } finally {
    await close();
  }
});

it('two coordinators on one output folder: the second is refused in one line or attaches read-only with --status', async () => {
  const out = join(root, 'o-two');
  const ac = new AbortController();
  const first = runQueued(opts(out, { signal: ac.signal }), { queue: url(3), pollMs: 100 });
  try {
    for (let i = 0; i < 200 && !existsSync(join(out, 'stress.lock')); i++) await new Promise((r) => setTimeout(r, 50));
    const e = await within(runQueued(opts(out), { queue: url(3), pollMs: 100 }).then(() => undefined, (x: Error) => x), 20_000, 'a second coordinator');
    assert.ok(e instanceof Error, 'the second coordinator is refused');
    assert.match(e.message, new RegExp(`^the output folder ${out} is in use by another stress command \\(process ${process.pid} on \\S+; lock \\S+stress\\.lock\\): watch it with the same command and --status`));
    // The one-process runner is refused too; --status reads the state without the lock.
    await within(runStress(opts(out)).then(() => assert.unreachable('runStress ran'), (x: Error) => assert.match(x.message, /is in use by another stress command/)), 20_000, 'runStress');
    const status: string[] = [];
    await runQueued(opts(out, { log: (l) => status.push(l) }), { queue: url(3), status: true });
    assert.match(status.join('\n'), /queue: 0\/1 jobs done, 0 running, (1 waiting|0 waiting, 1 not queued yet), 0 failed/);
  } finally {
    ac.abort();
    await first.catch(() => {});
  }
  assert.not.ok(existsSync(join(out, 'stress.lock')), 'the lock is released when the coordinator stops');
});

it('a worker paused past its lock stops writing; the job\'s new owner takes the run folder over; same results', async () => {
  const o = opts(join(root, 'o-pause'), { epochs: 3 });
  const shared = join(root, 'shared-pause'), fast = ['--lock-ms', '1000', '--stalled-ms', '500'];
  const ac = new AbortController();
  const run = runQueued({ ...o, signal: ac.signal }, { queue: url(4), pollMs: 100 });
  const paused = spawnWorker(4, shared, fast);
  let other: ReturnType<typeof spawnWorker> | undefined;
  try {
    // Paused once it holds the run folder (run.lock) and before the job is done.
    const lockOf = () => tree(shared).find((p) => p.endsWith(join('fusion-d0-img0-tab1-s0', 'run.lock')));
    for (let i = 0; i < 6000 && !lockOf(); i++) await new Promise((r) => setTimeout(r, 5));
    const lock = lockOf();
    paused.child.kill('SIGSTOP');
    assert.ok(lock, 'the first worker took the run folder');
    assert.not.match(paused.text(), / done in /, 'paused before the job was done');
    other = spawnWorker(4, shared, fast);
    const r = await within(run, 120_000, 'the coordinator');
    assert.ok(r && !r.interrupted);
    assert.match(other.text(), /fusion-d0-img0-tab1-s0 done in/, 'the other worker trained the job');
    const jobDir = dirname(join(shared, lock!));
    // (Its own temporary file of a write it had begun when paused is removed, not renamed: not counted.)
    const files = () => readdirSync(jobDir).filter((f) => f !== 'run.lock' && !f.includes('.tmp-')).map((f) => [f, readFileSync(join(jobDir, f)).toString('base64')]);
    const before = files();
    // Woken up: its training thread meets the ended lease at its next write and stops writing.
    paused.child.kill('SIGCONT');
    await paused.saw(/lost its lock/);
    await paused.saw(/stopped writing after losing its lock: .*was not written/);
    assert.equal(files(), before, 'the woken worker wrote nothing into the run folder');
    const ref = join(root, 'o-pause-local');
    await runStress({ ...o, out: ref });
    assert.is(readFileSync(join(root, 'o-pause', 'results.csv'), 'utf8'), readFileSync(join(ref, 'results.csv'), 'utf8'), 'same results as one process');
  } finally {
    ac.abort();
    await run.catch(() => {});
    paused.child.kill('SIGCONT');
    await stop(paused.child, 'SIGKILL');
    if (other) await stop(other.child);
  }
});

it('a cold image cache is built by the coordinator before it enqueues: two workers never meet a cache being built', async () => {
  const cold = join(root, 'data-cold');
  await generateSynthetic({ out: cold, patients: 300, seed: 4 });
  const o = opts(join(root, 'o-cold'), { data: cold, methods: ['image-only', 'tabular-only'] });
  const shared = join(root, 'shared-cold');
  const w = [spawnWorker(5, shared), spawnWorker(5, shared)];
  try {
    await Promise.all(w.map((x) => x.saw(/^worker \S+ on /m)));
    const lines: string[] = [];
    const r = await within(runQueued({ ...o, log: (l) => lines.push(l) }, { queue: url(5), pollMs: 100 }), 120_000, 'the coordinator');
    assert.ok(r && !r.interrupted);
    assert.ok(lines.some((l) => /image cache is built here, once, before any job is enqueued/.test(l)), lines.join('\n'));
    const text = w.map((x) => x.text()).join('\n');
    assert.not.match(text, /being built|failed/, text);
    assert.is((text.match(/ done in /g) ?? []).length, 2, text);
  } finally {
    await Promise.all(w.map((x) => stop(x.child)));
  }
});

test.after(async () => {
  if (!skip) await redis.stop();
  rmSync(root, { recursive: true, force: true });
});

test.run();
