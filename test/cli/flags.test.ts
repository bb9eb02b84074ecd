/**
 * The one option schema and flag parser (src/options/): types checked against the defaults, flags named as typed, the
 * closest flag suggested, integers checked, prototype names unknown, JSON config files through the same
 * checks, unknown subcommands and benchmarks in one line with the list, and --help listing every default.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyObject, bool, choice, closest, int, names, num, nums, path, UsageError } from '../../src/options/schema.ts';
import { helpText, parseArgs } from '../../src/options/command-line.ts';
import { TRAIN_DEFAULTS, TRAIN_SPEC, applyOverrides } from '../../src/train/config.ts';
import { BENCH_NAMES, parseBenchArgs } from '../../bench/util.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rf-flags-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const SPEC = {
  usage: 'usage: npm run x -- [options]',
  options: {
    tableFile: path('', 'a table'), threads: int(0, 'threads (0: all cores)', { min: 0 }), lr: num(1e-3, 'learning rate'), strict: bool(false, 'strict'),
    levels: nums([0, 0.5, 1], 'levels'), methods: names(['a', 'b'], ['a', 'b', 'c'], 'methods'), mode: choice('fast', ['fast', 'slow'], 'mode'),
  },
};
const TEST_DEFAULTS = { tableFile: '', threads: 0, lr: 1e-3, strict: false, levels: [0, 0.5, 1], methods: ['a', 'b'], mode: 'fast' };
const parse = (...argv: string[]) => parseArgs(SPEC, argv);
const fails = (argv: string[], re: RegExp) => {
  try {
    parse(...argv);
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, re);
    assert.not.match((e as Error).message, /\n/, 'one line');
    return;
  }
  assert.unreachable(`${argv.join(' ')} was accepted`);
};

test('flags: kebab-case or the key, =value or the next word, typed by the default', () => {
  const { cfg, given } = parse('--table-file', 't.json', '--threads=2', '--lr', '-1e-4', '--strict', '--levels', '0,0.25', '--methods', 'c,a', '--mode', 'slow');
  assert.equal(cfg, { tableFile: 't.json', threads: 2, lr: -1e-4, strict: true, levels: [0, 0.25], methods: ['c', 'a'], mode: 'slow' });
  assert.equal([...given].sort(), ['levels', 'lr', 'methods', 'mode', 'strict', 'tableFile', 'threads']);
  assert.is(parse('--tableFile', 'x').cfg.tableFile, 'x');
  assert.is(parse('--strict', 'false').cfg.strict, false);
  // A bare boolean does not swallow the next flag; a default stays a default.
  const b = parse('--strict', '--threads', '3');
  assert.is(b.cfg.strict, true);
  assert.is(b.cfg.lr, 1e-3);
  assert.not.ok(b.given.has('lr'));
});

test('flags: errors name the flag as typed, suggest the closest, and check integers and choices', () => {
  fails(['--table-fil', 'x'], /^unknown option --table-fil \(did you mean --table-file\?\)/);
  fails(['--thraeds', '2'], /did you mean --threads\?/);
  fails(['--zzzzzzzzz', '1'], /^unknown option --zzzzzzzzz; see --help$/);
  fails(['--threads', '2.5'], /^--threads expects a non-negative integer, got "2\.5"$/);
  fails(['--threads', '-1'], /--threads expects a non-negative integer/);
  fails(['--threads', '0x10'], /--threads expects a number, got "0x10"/);
  fails(['--lr', ''], /--lr expects a number/);
  fails(['--lr', 'NaN'], /--lr expects a number/);
  fails(['--lr=1e999'], /--lr expects a number/);
  fails(['--tableFile'], /^--tableFile needs a value$/);
  fails(['--table-file', '--strict'], /^--table-file needs a value$/);
  fails(['--strict=yes'], /--strict expects true or false, got "yes"/);
  fails(['--mode', 'medium'], /--mode must be one of fast, slow, got "medium"/);
  fails(['--methods', 'a,zzzz'], /^--methods: unknown method 'zzzz'; known: a, b, c$/);
  fails(['--methods', 'a,cc'], /^--methods: unknown method 'cc' \(did you mean c\?\); known: a, b, c$/);
  fails(['--levels', '0,x'], /--levels expects a list of numbers/);
  fails(['--levels', ','], /--levels expects a non-empty list/);
  fails(['--threads', '1', '--threads', '2'], /--threads given twice/);
  fails(['stray'], /^unexpected argument 'stray'/);
});

test('flags: prototype names are unknown flags, not lookups', () => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'prototype']) {
    fails([`--${name}`, 'x'], new RegExp(`^unknown option --${name}`));
  }
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, JSON.parse('{"__proto__": {"epochs": 1}}'), 'x.json'), /x\.json: key '__proto__' is not allowed/);
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { constructor: 'x' }, 'x.json'), /key 'constructor' is not allowed/);
  assert.is(({} as Record<string, unknown>).epochs, undefined, 'Object.prototype untouched');
});

test('flags: a JSON config file goes through the same checks; flags override it', () => {
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ 'drop-image': 0.3, epochs: 2, preset: 'tiny' }));
  const spec = TRAIN_SPEC;
  const r = parseArgs(spec, ['--config', good, '--epochs', '3']);
  assert.is(r.cfg.dropImage, 0.3);
  assert.is(r.cfg.epochs, 3);
  assert.is(r.cfg.preset, 'tiny');
  assert.ok(r.given.has('dropImage') && r.given.has('epochs'));
  const bad = (obj: unknown, re: RegExp) => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify(obj));
    assert.throws(() => parseArgs(spec, ['--config', f]), (e: Error) => e instanceof UsageError && re.test(e.message) && e.message.includes('bad.json'));
  };
  bad({ epochs: '10' }, /option 'epochs' expects a number, got "10"/);
  bad({ threads: 1.5 }, /option 'threads' expects an integer in 0\.\.4096, got 1\.5/);
  // 1e400 is read as Infinity, which JSON would show as null: named as Infinity
  writeFileSync(join(dir, 'inf.json'), '{"threads": 1e400}');
  assert.throws(() => parseArgs(spec, ['--config', join(dir, 'inf.json')]), /inf\.json: option 'threads' expects a number, got Infinity/);
  bad({ epochs: 0 }, /option 'epochs' expects an integer in 1\.\.100000, got 0/);
  bad({ epoch: 3 }, /unknown option 'epoch' \(did you mean 'epochs'\?\)/);
  bad({ preset: 'huge' }, /must be one of tiny, small, base/);
  bad([1, 2], /expected a JSON object/);
  assert.throws(() => parseArgs(spec, ['--config', join(dir, 'none.json')]), /--config .*none\.json: no such file/);
  writeFileSync(join(dir, 'broken.json'), '{"epochs": ');
  assert.throws(() => parseArgs(spec, ['--config', join(dir, 'broken.json')]), /--config .*broken\.json: .*JSON/);
});

test('flags: programs apply typed objects (the stress runner) with the same checks', () => {
  const c = applyOverrides(TRAIN_DEFAULTS, { epochs: 4, missImage: 0.5, progress: 'none' }, 'stress run x');
  assert.is(c.epochs, 4);
  assert.is(c.missImage, 0.5);
  assert.is(TRAIN_DEFAULTS.epochs, 10, 'defaults untouched');
  assert.throws(() => applyObject(SPEC.options, { ...TEST_DEFAULTS }, { threads: -2 }, 'prog'), /prog: option 'threads' expects a non-negative integer, got -2/);
});

test('flags: --help lists every default with its doc line', () => {
  const text = helpText(SPEC);
  for (const [k, line] of [['table-file', '""'], ['threads', '0'], ['levels', '0,0.5,1'], ['methods', 'a,b'], ['strict', 'false']]) {
    assert.match(text, new RegExp(`^  --${k} ${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s`, 'm'));
  }
  const train = helpText(TRAIN_SPEC);
  assert.is(train.split('\n').filter((l) => l.startsWith('  --')).length, Object.keys(TRAIN_DEFAULTS).length);
  assert.ok(parse('--help', '--zzz').help, '--help wins over a bad flag');
});

test('closest: typos within a third of the word, nothing for unrelated words', () => {
  assert.is(closest('epoch', ['epochs', 'eps', 'seed']), 'epochs');
  assert.is(closest('inspct', ['inspect']), 'inspect');
  assert.is(closest('gemmm', [...BENCH_NAMES]), 'gemm');
  assert.is(closest('constructor', ['epochs', 'seed']), undefined);
});

test('bench arguments: names and flags in any order; unknown names in one line', () => {
  const a = parseBenchArgs(['gemm', '--quick', 'train', '--threads', '2', '--build', 'simd']);
  assert.equal(a.names, ['gemm', 'train']);
  assert.equal(a.builds, ['simd']);
  assert.is(a.threads, 2);
  assert.ok(a.quick);
  assert.throws(() => parseBenchArgs(['gemmm']), /^unknown benchmark 'gemmm' \(did you mean gemm\?\); known: peak, gemm/);
  assert.throws(() => parseBenchArgs(['gemm', '--threads', '2.5']), /--threads expects an integer in 0\.\.4096, got "2\.5"/);
});

function run(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, script), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLIs: an unknown subcommand or benchmark is one line with the list, exit 1, no stack', () => {
  const data = run('src/cli/data.ts', ['inspct']);
  assert.is(data.status, 1);
  assert.is(data.stderr.trim(), "data: unknown command 'inspct' (did you mean inspect?); known: inspect");
  const bench = run('bench/index.ts', ['gemmm']);
  assert.is(bench.status, 1);
  assert.is(bench.stderr.trim(), `bench: unknown benchmark 'gemmm' (did you mean gemm?); known: ${BENCH_NAMES.join(', ')}`);
  const train = run('src/cli/train.ts', ['--threads', '2.5']);
  assert.is(train.status, 1);
  assert.is(train.stderr.trim(), 'train: --threads expects an integer in 0..4096, got "2.5"');
  assert.is(train.stdout, '', 'nothing ran');
});

test('train: --name beside --resume is refused in one line (a resumed run keeps its folder and name)', () => {
  const r = run('src/cli/train.ts', ['--resume', dir, '--name', 'other']);
  assert.is(r.status, 1);
  assert.is(r.stderr.trim(), 'train: --name and --resume together: a resumed run keeps its folder and name; leave --name out');
  assert.is(r.stdout, '', 'nothing ran');
});

test.run();
