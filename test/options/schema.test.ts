/**
 * The option schema (src/options/): every option of every command, swept with a value below and above its
 * range, a bad choice and a bad path segment, each refused with a message that names the option as it was
 * typed (`--drop-image`, `--dropImage`, or `x.json: option 'dropImage'`); cross-option checks; the same
 * checks on a resumed run's config.json. The ten trust-boundary cases of the train command (issue 24) that
 * touch options are here or in train-run/train-resume.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../src/options/command-line.ts';
import type { CommandSpec } from '../../src/options/command-line.ts';
import { kebab, UsageError } from '../../src/options/schema.ts';
import type { OptionDecl, OptionDecls } from '../../src/options/schema.ts';
import { DATA_SPEC, DEMO_SPEC, EVALUATE_SPEC, EXPORT_SPEC, PREDICT_SPEC, STRESS_SPEC, SYNTH_SPEC, TRAIN_SPEC, WORKER_SPEC } from '../../src/cli/specs.ts';
import { BENCH_SPEC } from '../../bench/util.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../../src/train/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'rf-options-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const COMMANDS: Record<string, CommandSpec<OptionDecls>> = {
  train: TRAIN_SPEC as unknown as CommandSpec<OptionDecls>, stress: STRESS_SPEC, worker: WORKER_SPEC, predict: PREDICT_SPEC, evaluate: EVALUATE_SPEC, export: EXPORT_SPEC, data: DATA_SPEC, synth: SYNTH_SPEC, demo: DEMO_SPEC, bench: BENCH_SPEC,
};

/** Values just outside an option's range (none for an unbounded side). */
function outside(d: OptionDecl): number[] {
  const out: number[] = [];
  const step = d.integer ? 1 : 1e-3;
  const lo = d.above !== undefined ? d.above : d.min !== undefined ? d.min - step : undefined;
  if (lo !== undefined && !d.also?.includes(lo)) out.push(lo);
  if (d.also?.length && d.min !== undefined) out.push(d.min - 0.5); // between the special value and the range
  if (d.max !== undefined) out.push(d.max + step);
  if (d.integer && (d.min !== undefined || d.max !== undefined)) out.push((d.min ?? 0) + 0.5);
  return out.filter((v) => !d.also?.includes(v));
}

/** The message must be one line and start with the option as typed. */
function refused(spec: CommandSpec<OptionDecls>, argv: string[], starts: string, what: string): void {
  try {
    parseArgs(spec, argv);
  } catch (e) {
    assert.instance(e, UsageError, what);
    const m = (e as Error).message;
    assert.ok(m.startsWith(starts), `${what}: message "${m}" does not start with ${starts}`);
    assert.not.match(m, /\n/, 'one line');
    return;
  }
  assert.unreachable(`${what} was accepted`);
}

test('every numeric option of every command refuses values below and above its range, named as typed', () => {
  let swept = 0;
  for (const [cmd, spec] of Object.entries(COMMANDS)) {
    for (const [key, d] of Object.entries(spec.options)) {
      if (typeof d.default !== 'number' && !d.numbers) continue;
      const vals = outside(d);
      assert.ok(vals.length > 0 || d.integer === undefined, `${cmd} --${kebab(key)}: a numeric option with no range at all`);
      for (const v of vals) {
        const text = d.numbers ? `${String(v)}` : String(v);
        refused(spec, [`--${kebab(key)}`, text], `--${kebab(key)}`, `${cmd} --${kebab(key)} ${text}`);
        refused(spec, [`--${key}=${text}`], `--${key}`, `${cmd} --${key}=${text}`);
        swept++;
      }
      // the default itself is in range, and so is every special value
      parseArgs(spec, [`--${kebab(key)}`, Array.isArray(d.default) ? (d.default.length ? d.default.join(',') : '0') : String(d.default)]);
      for (const v of d.also ?? []) parseArgs(spec, [`--${kebab(key)}`, String(v)]);
    }
  }
  assert.ok(swept > 100, `only ${swept} values swept`);
});

test('every numeric option has a range; every choice, path and segment option is checked', () => {
  for (const [cmd, spec] of Object.entries(COMMANDS)) {
    for (const [key, d] of Object.entries(spec.options)) {
      const flag = `--${kebab(key)}`;
      if (typeof d.default === 'number' || d.numbers) {
        assert.ok(d.min !== undefined || d.above !== undefined, `${cmd} ${flag} has no lower bound`);
      }
      if (d.choices && !Array.isArray(d.default)) refused(spec, [flag, 'zzz-not-a-choice'], flag, `${cmd} ${flag} zzz`);
      if (d.path) refused(spec, [flag, 'a\0b'], flag, `${cmd} ${flag} with a NUL byte`);
      if (d.path === 'segment') {
        for (const bad of ['..', '.', 'a/b', '../x', '/abs', 'a\\b']) refused(spec, [flag, bad], flag, `${cmd} ${flag} ${bad}`);
        parseArgs(spec, [flag, 'my-run_1.2']);
      }
    }
  }
});

test('the train command: the cases of issue 24 item 10 are refused by name; a config file names its key', () => {
  const cases: [string[], RegExp][] = [
    [['--lr', '-5'], /^--lr expects a number > 0 and <= 1, got "-5"$/],
    [['--beta1', '1.5'], /^--beta1 expects a number in \[0, 0\.999999\], got "1\.5"$/],
    [['--weight-decay', '-1'], /^--weight-decay expects a number in \[0, 1\]/],
    [['--min-lr', '5'], /^--min-lr expects a number in \[0, 1\], got "5"$/],
    [['--min-lr', '0.5'], /^--min-lr 0\.5 is above lr \(default\) 0\.001/],
    [['--miss-image', '2'], /^--miss-image expects a number in \[0, 1\], got "2"$/],
    [['--test-miss-tab', '7'], /^--test-miss-tab expects -1 or a number in \[0, 1\], got "7"$/],
    [['--clip', '-1'], /^--clip expects a number >= 0, got "-1"$/],
    [['--window-hours', '-100000'], /^--window-hours expects a number in \[0, 8760\]/],
    [['--drop-image', '1.5'], /^--drop-image expects a number in \[0, 1\], got "1\.5"$/],
    [['--drop-image', '0.6', '--drop-tab', '0.5'], /^--drop-image 0\.6 \+ --drop-tab 0\.5 must be at most 1/],
    [['--seed', '-1'], /^--seed expects an integer in 0\.\.4294967295/],
    [['--epochs', '1e308'], /^--epochs expects an integer in 1\.\.100000/],
    [['--micro-batch', '-1'], /^--micro-batch expects an integer in 0\.\.4096, got "-1"$/],
    [['--name', '..'], /^--name must be one folder name/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(() => parseArgs(TRAIN_SPEC, argv), (e: Error) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  }
  const f = join(dir, 'exp.json');
  writeFileSync(f, JSON.stringify({ lr: 0.01, minLr: 0.1 }));
  assert.throws(() => parseArgs(TRAIN_SPEC, ['--config', f]), (e: Error) => e.message === `${f}: minLr 0.1 is above ${f}: lr 0.01: the cosine schedule decays from lr down to minLr`);
  // a flag overriding the file's value is named as the flag
  assert.throws(() => parseArgs(TRAIN_SPEC, ['--config', f, '--lr', '0.05']), /^--lr 0\.05|minLr 0\.1 is above --lr 0\.05/);
  writeFileSync(f, JSON.stringify({ name: '../x' }));
  assert.throws(() => parseArgs(TRAIN_SPEC, ['--config', f]), (e: Error) => e.message.startsWith(`${f}: option 'name' must be one folder name`));
});

test('a resumed config.json (or any object a program applies) passes the same schema, named by its file', () => {
  const saved = { ...TRAIN_DEFAULTS, dropImage: 5 };
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, saved, 'runs/x/config.json'), /^runs\/x\/config\.json: option 'dropImage' expects a number in \[0, 1\], got 5$/);
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { ...TRAIN_DEFAULTS, batch: '32' }, 'runs/x/config.json'), /option 'batch' expects a number, got "32"/);
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { ...TRAIN_DEFAULTS, surprise: 1 }, 'runs/x/config.json'), /unknown option 'surprise'/);
  assert.throws(() => applyOverrides(TRAIN_DEFAULTS, { ...TRAIN_DEFAULTS, lr: -5, clip: -1 }, 'c.json'), /option 'lr' expects a number > 0/);
});

test.run();
