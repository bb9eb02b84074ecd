/**
 * `npm run stress -- [options]`: the two stress-test protocols (issue 6). Trains every method at every
 * train level, evaluates at every test level, stores each finished cell (a rerun continues where it stopped)
 * and writes results.csv, summary.md, report.html and SVG plots into the output folder. `--help` lists the
 * options and their defaults.
 */
import { DEFAULT_GRID, DEFAULT_LEVELS, runStress, SANITY_GAP } from '../protocols/runner.ts';
import { METHODS, METHOD_DEFINITIONS, parseMethods } from '../protocols/methods.ts';
import type { MethodName } from '../protocols/methods.ts';
import type { Protocol } from '../protocols/results.ts';

/** What --quick sets (each can still be overridden by its own flag). Measured: see README "Results". */
const QUICK = { preset: 'tiny', levels: [0, 0.25, 0.5, 0.75, 1], seeds: 3, epochs: 10 } as const;

const DEFAULTS = {
  protocol: 'both', levels: DEFAULT_LEVELS, methods: METHODS, seeds: 3, preset: 'small', epochs: 10, data: '',
  synthDir: 'data/synthetic', threads: 0, grid: DEFAULT_GRID, replicates: 2000,
};

function help(): string {
  const l = (xs: readonly number[]) => xs.join(',');
  return [
    'usage: npm run stress -- [options]',
    '',
    'Runs the stress-test protocols: the missing rate of one modality raised in training and test, every method',
    'trained at every train level and evaluated at every test level, over seeds; then writes the report.',
    'A rerun with the same --out continues where the last one stopped (finished cells are never recomputed).',
    '',
    'options (default):',
    `  --protocol image|tabular|both  (${DEFAULTS.protocol})  image: image missing rate raised; tabular: tabular`,
    `  --levels L,L,...               (${l(DEFAULTS.levels)})  train and test missing rates in [0, 1]`,
    `  --methods M,M,...              (all)  of: ${METHODS.join(', ')}`,
    `  --seeds K                      (${DEFAULTS.seeds})  seeds 0..K-1`,
    `  --preset tiny|small|base       (${DEFAULTS.preset})`,
    `  --epochs E                     (${DEFAULTS.epochs})  per training run; the best epoch by validation macro AUROC is kept`,
    `  --data DIR                     (the built-in synthetic set)  MIMIC-CXR-JPG + MIMIC-IV layout`,
    `  --synth-dir DIR                (${DEFAULTS.synthDir})  where the synthetic set is generated on first use`,
    `  --out DIR                      (runs/stress-<preset>; with --quick runs/stress-quick)`,
    `  --threads N                    (${DEFAULTS.threads})  worker threads per run (0: all cores); results do not depend on it`,
    `  --grid D,D,...                 (${l(DEFAULTS.grid)})  modality dropout rates (dropImage = dropTab) tried for proposed`,
    `  --replicates B                 (${DEFAULTS.replicates})  paired bootstrap replicates per comparison`,
    `  --batch N, --lr X              (trainer defaults)  passed to every training run`,
    `  --quick                        preset ${QUICK.preset}, levels ${l(QUICK.levels)}, ${QUICK.seeds} seeds, ${QUICK.epochs} epochs (about 6-10 minutes on 2 cores)`,
    '  --verbose                      show every training run\'s own log',
    '  --help',
    '',
    'methods:',
    ...METHODS.map((m) => `  ${m.padEnd(19)} ${METHOD_DEFINITIONS[m]}`),
    '',
    `Sanity checks (printed after the run): at image level 1 proposed vs tabular-only, at tabular level 1 proposed`,
    `vs image-only; a gap above ${SANITY_GAP} macro AUROC is a warning.`,
  ].join('\n');
}

const VALUED = new Set(['protocol', 'levels', 'methods', 'seeds', 'preset', 'epochs', 'data', 'synth-dir', 'out', 'threads', 'grid', 'replicates', 'batch', 'lr']);
const FLAGS = new Set(['quick', 'verbose', 'help']);

/** Parse `--key value`, `--key=value` and bare flags; anything unknown is an error. */
function parseStressArgs(argv: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h') { out.help = true; continue; }
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (options are --key value; see --help)`);
    let key = a.slice(2), value: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) { value = key.slice(eq + 1); key = key.slice(0, eq); }
    if (FLAGS.has(key)) {
      if (value !== undefined) throw new Error(`--${key} takes no value`);
      out[key] = true;
    } else if (VALUED.has(key)) {
      if (value === undefined) {
        if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new Error(`option --${key} needs a value`);
        value = argv[++i];
      }
      if (key in out) throw new Error(`option --${key} given twice`);
      out[key] = value;
    } else throw new Error(`unknown option --${key} (see --help)`);
  }
  return out;
}

function numberList(s: string, what: string): number[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
    const v = Number(x);
    if (x === '' || !Number.isFinite(v)) throw new Error(`${what}: not a number: '${x}'`);
    return v;
  });
}

function integer(s: string, what: string, min: number): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < min) throw new Error(`${what} must be an integer >= ${min}, got '${s}'`);
  return v;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const a = parseStressArgs(argv);
  if (a.help) {
    console.log(help());
    return 0;
  }
  const str = (k: string) => (typeof a[k] === 'string' ? (a[k] as string) : undefined);
  const quick = a.quick === true;
  const protocolArg = str('protocol') ?? DEFAULTS.protocol;
  const protocols: Protocol[] = protocolArg === 'both' ? ['image', 'tabular'] : protocolArg === 'image' || protocolArg === 'tabular' ? [protocolArg] : [];
  if (!protocols.length) throw new Error(`--protocol must be image, tabular or both, got '${protocolArg}'`);
  const preset = str('preset') ?? (quick ? QUICK.preset : DEFAULTS.preset);
  if (!['tiny', 'small', 'base'].includes(preset)) throw new Error(`--preset must be tiny, small or base, got '${preset}'`);
  const levels = str('levels') ? numberList(str('levels')!, '--levels') : [...(quick ? QUICK.levels : DEFAULTS.levels)];
  const methods: MethodName[] = str('methods') ? parseMethods(str('methods')!) : [...METHODS];
  const train: Record<string, number> = {};
  if (str('batch')) train.batch = integer(str('batch')!, '--batch', 1);
  if (str('lr')) {
    train.lr = Number(str('lr'));
    if (!(train.lr > 0)) throw new Error(`--lr must be a positive number, got '${str('lr')}'`);
  }
  const ac = new AbortController();
  let stops = 0;
  process.on('SIGINT', () => {
    if (++stops > 1) process.exit(130);
    console.error('\nstopping after saving the current run (Ctrl-C again to quit at once) ...');
    ac.abort();
  });
  const r = await runStress({
    out: str('out') ?? (quick ? 'runs/stress-quick' : `runs/stress-${preset}`),
    protocols, levels, methods,
    seeds: str('seeds') ? integer(str('seeds')!, '--seeds', 1) : quick ? QUICK.seeds : DEFAULTS.seeds,
    preset: preset as 'tiny' | 'small' | 'base',
    epochs: str('epochs') ? integer(str('epochs')!, '--epochs', 1) : quick ? QUICK.epochs : DEFAULTS.epochs,
    data: str('data') ?? '',
    synthDir: str('synth-dir') ?? DEFAULTS.synthDir,
    threads: str('threads') ? integer(str('threads')!, '--threads', 0) : DEFAULTS.threads,
    grid: str('grid') ? numberList(str('grid')!, '--grid') : [...DEFAULTS.grid],
    replicates: str('replicates') ? integer(str('replicates')!, '--replicates', 1) : DEFAULTS.replicates,
    train,
    command: ['npm run stress --', ...argv].join(' '),
    verbose: a.verbose === true,
    signal: ac.signal,
  });
  return r.interrupted ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`stress: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
