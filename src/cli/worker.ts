/**
 * `npm run worker -- --queue URL --out SHARED_FOLDER`: a queue worker for `npm run stress -- ... --queue URL`
 * (docs/queue.md). Runs training jobs until stopped (Ctrl-C or SIGTERM: the jobs in hand finish first; a
 * second signal quits at once and the jobs are retried elsewhere once their locks expire).
 */
import { startWorker } from '../queue/worker.ts';
import { helpText, parseArgs, runMain, UsageError } from './flags.ts';

const DEFAULTS = { queue: '', out: '', data: '', threads: 0, concurrency: 1, synthDir: 'data/synthetic', lockMs: 30_000, stalledMs: 30_000 };
const DOCS: Record<keyof typeof DEFAULTS, string> = {
  queue: 'Redis URL: redis://[:PASSWORD@]HOST:PORT[/DB], or rediss:// for TLS; REDIS_PASSWORD also gives the password',
  out: 'output folder shared by every worker (a network mount): run folders and model files',
  data: 'the data folder jobs may read (the coordinator\'s --data, or a folder above it); empty: jobs on the synthetic set only',
  threads: 'trainer threads per job (0: all cores); results do not depend on it',
  concurrency: 'jobs this worker runs at once',
  synthDir: 'where the synthetic set is generated when a job uses it (runs without --data)',
  lockMs: 'job lock duration (ms): a worker that dies loses its job after this long',
  stalledMs: 'how often (ms) this worker looks for jobs whose worker died',
};
const SPEC = {
  usage: [
    'usage: npm run worker -- --queue URL --out SHARED_FOLDER [options]',
    '',
    'Runs the training jobs that `npm run stress -- ... --queue URL` enqueues, until stopped. Every worker needs',
    'a checkout of the coordinator\'s commit and the same --out folder (and data folder path) as the others.',
  ].join('\n'),
  defaults: DEFAULTS, docs: DOCS,
  integers: { threads: 0, concurrency: 1, lockMs: 1000, stalledMs: 500 },
};

runMain('worker', async () => {
  const { cfg, help } = parseArgs(SPEC, process.argv.slice(2));
  if (help) {
    console.log(helpText(SPEC));
    return 0;
  }
  if (!cfg.queue) throw new UsageError('--queue URL is required (e.g. --queue redis://127.0.0.1:6379)');
  if (!cfg.out) throw new UsageError('--out is required: the output folder every worker shares');
  const w = await startWorker({
    queue: cfg.queue, out: cfg.out, data: cfg.data || undefined, threads: cfg.threads, concurrency: cfg.concurrency, synthDir: cfg.synthDir,
    lockMs: cfg.lockMs, stalledMs: cfg.stalledMs,
  });
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(130);
    console.error('stopping after the jobs in hand (signal again to quit at once) ...');
    void w.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const refused = await w.closed;
  if (refused) throw new Error(refused);
  return 0;
});
