/**
 * `npm run stress -- [options]`: the two stress-test protocols (issue 6). Trains every method at every
 * train level, evaluates at every test level, stores each finished cell (a rerun continues where it stopped)
 * and writes results.csv, summary.md, report.html and SVG plots into the output folder. `--help` lists the
 * options and their defaults.
 */
import { DEFAULT_GRID, DEFAULT_LEVELS, runStress, SANITY_GAP } from '../protocols/runner.ts';
import { METHODS, METHOD_DEFINITIONS } from '../protocols/methods.ts';
import type { MethodName } from '../protocols/methods.ts';
import type { Protocol } from '../protocols/results.ts';
import { runQueued } from '../queue/coordinator.ts';
import { helpText, parseArgs, runMain, UsageError } from './flags.ts';

/** What --quick sets (each can still be overridden by its own flag). Measured: see README "Results". */
const QUICK = { preset: 'tiny', levels: [0, 0.25, 0.5, 0.75, 1], seeds: 3, epochs: 10 } as const;

const DEFAULTS = {
  protocol: 'both', levels: DEFAULT_LEVELS, methods: METHODS as readonly string[], seeds: 3, preset: 'small', epochs: 10, data: '',
  synthDir: 'data/synthetic', out: '', threads: 0, grid: DEFAULT_GRID, replicates: 2000, batch: 0, lr: 0, quick: false, verbose: false,
  queue: '', status: false, retryFailed: false, fresh: false,
};
const DOCS: Record<keyof typeof DEFAULTS, string> = {
  protocol: 'image: the image missing rate is raised; tabular: the tabular one; both',
  levels: 'train and test missing rates in [0, 1]',
  methods: 'comma-separated, of the methods listed below',
  seeds: 'seeds 0..K-1',
  preset: 'model preset: tiny, small or base',
  epochs: 'per training run; the best epoch by validation macro AUROC is kept',
  data: 'data set folder (MIMIC-CXR-JPG + MIMIC-IV layout); empty: the built-in synthetic set',
  synthDir: 'where the synthetic set is generated on first use',
  out: 'output folder (empty: runs/stress-<preset>; with --quick runs/stress-quick)',
  threads: 'worker threads per run (0: all cores); results do not depend on it',
  grid: 'modality dropout rates (dropImage = dropTab) tried for proposed',
  replicates: 'paired bootstrap replicates per comparison',
  batch: 'samples per step of every training run (0: the trainer\'s default)',
  lr: 'peak learning rate of every training run (0: the trainer\'s default)',
  quick: `preset ${QUICK.preset}, levels ${QUICK.levels.join(',')}, ${QUICK.seeds} seeds, ${QUICK.epochs} epochs (about 6-10 minutes on 2 cores); each can still be given`,
  verbose: 'show every training run\'s own log',
  queue: 'run the training jobs on queue workers through Redis: redis://[:PASSWORD@]HOST:PORT[/DB] or rediss:// (docs/queue.md)',
  status: 'with --queue: print the queue run\'s state (done, running, waiting, failed with their logs) and exit',
  retryFailed: 'with --queue: retry the run\'s failed jobs, then wait for the run as usual',
  fresh: 'with --queue: start the run at this commit although the queue holds its jobs of another version or commit (removes them; running ones finish and are ignored)',
};

const SPEC = {
  usage: [
    'usage: npm run stress -- [options]',
    '',
    'Runs the stress-test protocols: the missing rate of one modality raised in training and test, every method',
    'trained at every train level and evaluated at every test level, over seeds; then writes the report.',
    'A rerun with the same --out continues where the last one stopped (finished cells are never recomputed).',
  ].join('\n'),
  defaults: DEFAULTS, docs: DOCS,
  choices: { protocol: ['image', 'tabular', 'both'], preset: ['tiny', 'small', 'base'], methods: METHODS },
  integers: { seeds: 1, epochs: 1, threads: 0, replicates: 1, batch: 0 },
  epilog: [
    'methods:',
    ...METHODS.map((m) => `  ${m.padEnd(19)} ${METHOD_DEFINITIONS[m]}`),
    '',
    `Sanity checks (printed after the run): at image level 1 proposed vs tabular-only, at tabular level 1 proposed`,
    `vs image-only; a gap above ${SANITY_GAP} macro AUROC is a warning.`,
  ].join('\n'),
};

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { cfg, given, help } = parseArgs(SPEC, argv);
  if (help) {
    console.log(helpText(SPEC));
    return 0;
  }
  // --quick changes the defaults of the keys it names; a key given on the command line wins.
  const pick = <K extends keyof typeof QUICK & keyof typeof DEFAULTS>(k: K) => (cfg.quick && !given.has(k) ? QUICK[k] : cfg[k]);
  const protocols: Protocol[] = cfg.protocol === 'both' ? ['image', 'tabular'] : [cfg.protocol as Protocol];
  const preset = pick('preset') as 'tiny' | 'small' | 'base';
  if (cfg.lr < 0) throw new Error(`--lr must be a positive number (0: the trainer's default), got ${cfg.lr}`);
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
