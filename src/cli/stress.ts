/**
 * `npm run stress -- [options]`: the two stress-test protocols (issue 6). Trains every method at every
 * train level, evaluates at every test level, stores each finished cell (a rerun continues where it stopped)
 * and writes results.csv, summary.md, report.html and SVG plots into the output folder. `--help` lists the
 * options and their defaults.
 */
import { runStress } from '../protocols/runner.ts';
import type { MethodName } from '../protocols/methods.ts';
import type { Protocol } from '../protocols/results.ts';
import { runQueued } from '../queue/coordinator.ts';
import { UsageError } from '../options/schema.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { STRESS_SPEC as SPEC, STRESS_QUICK as QUICK } from './specs.ts';
import type { STRESS_OPTIONS } from './specs.ts';
import { runMain } from './main.ts';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { cfg, given, help } = parseArgs(SPEC, argv);
  if (help) {
    console.log(helpText(SPEC));
    return 0;
  }
  // --quick changes the defaults of the keys it names; a key given on the command line wins.
  const pick = <K extends keyof typeof QUICK & keyof typeof STRESS_OPTIONS>(k: K) => (cfg.quick && !given.has(k) ? QUICK[k] : cfg[k]);
  const protocols: Protocol[] = cfg.protocol === 'both' ? ['image', 'tabular'] : [cfg.protocol as Protocol];
  const preset = pick('preset') as 'tiny' | 'small' | 'base';
  const train: Record<string, number> = {};
  if (cfg.batch) train.batch = cfg.batch;
  if (cfg.lr) train.lr = cfg.lr;
  const ac = new AbortController();
  let stops = 0;
  process.on('SIGINT', () => {
    if (++stops > 1) process.exit(130);
    console.error('\nstopping after saving the current run (Ctrl-C again to quit at once) ...');
    ac.abort();
  });
  const queueOnly = cfg.status ? 'status' : cfg.retryFailed ? 'retry-failed' : cfg.fresh ? 'fresh' : '';
  if (queueOnly && !cfg.queue) throw new UsageError(`--${queueOnly} needs --queue URL`);
  const o = {
    out: cfg.out || (cfg.quick ? 'runs/stress-quick' : `runs/stress-${preset}`),
    protocols, levels: [...pick('levels')], methods: cfg.methods as MethodName[],
    seeds: pick('seeds'), preset, epochs: pick('epochs'),
    data: cfg.data, synthDir: cfg.synthDir, threads: cfg.threads, grid: [...cfg.grid], replicates: cfg.replicates,
    train,
    command: ['npm run stress --', ...argv].join(' '),
    verbose: cfg.verbose,
    signal: ac.signal,
  };
  const r = cfg.queue ? await runQueued(o, { queue: cfg.queue, status: cfg.status, retryFailed: cfg.retryFailed, fresh: cfg.fresh }) : await runStress(o);
  return r?.interrupted ? 130 : 0;
}

runMain('stress', main);
