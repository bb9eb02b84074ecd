/**
 * `npm run worker -- --queue URL --out SHARED_FOLDER`: a queue worker for `npm run stress -- ... --queue URL`
 * (docs/queue.md). Runs training jobs until stopped (Ctrl-C or SIGTERM: the jobs in hand finish first; a
 * second signal quits at once and the jobs are retried elsewhere once their locks expire).
 */
import { startWorker } from '../queue/worker.ts';
import { UsageError } from '../options/schema.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { WORKER_SPEC as SPEC } from './specs.ts';
import { runMain } from './main.ts';


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
