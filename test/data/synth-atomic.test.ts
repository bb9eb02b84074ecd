/**
 * The synthetic data set appears whole or not at all: `synth` writes into a staging folder beside --out and
 * moves it in when complete, its marker (synthetic.json) last. A synth killed midway leaves nothing at
 * --out, and `train` then generates the set (removing the dead generator's staging folder); a half-written
 * set (no marker: an interrupted older generator, or a kill while an existing set was being replaced) is
 * generated again, saying so; an --out that cannot be created is one line, at once (Node's recursive mkdir
 * spun forever under /proc).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSynthetic, syntheticSetComplete, SYNTH_MARKER } from '../../src/data/index.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../../src/train/config.ts';
import { prepareData } from '../../src/train/data.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'rf-synth-atomic-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

const cli = (file: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
const staging = (parent: string) => readdirSync(parent).filter((e) => e.includes('.partial-'));

test('a complete set has its marker; the same seed still gives the same bytes', async () => {
  const a = join(root, 'same-a'), b = join(root, 'same-b');
  await generateSynthetic({ out: a, patients: 8, seed: 3, imageSize: 32 });
  await generateSynthetic({ out: b, patients: 8, seed: 3, imageSize: 32 });
  assert.ok(syntheticSetComplete(a));
  assert.is(readFileSync(join(a, SYNTH_MARKER), 'utf8'), readFileSync(join(b, SYNTH_MARKER), 'utf8'));
  assert.equal(staging(root), [], 'no staging folder left');
  // Replacing a set in place keeps the folder's other files (an image cache, say).
  writeFileSync(join(a, 'images-keep.rfcache'), 'x');
  await generateSynthetic({ out: a, patients: 9, seed: 3, imageSize: 32 });
  assert.ok(existsSync(join(a, 'images-keep.rfcache')));
  assert.is((JSON.parse(readFileSync(join(a, SYNTH_MARKER), 'utf8')) as { patients: number }).patients, 9);
});

test('synth killed midway leaves nothing at --out; train then generates the set and removes the staging folder', async () => {
  const parent = join(root, 'killed'), out = join(parent, 'synthetic');
  mkdirSync(parent);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/synth.ts', '--out', out, '--patients', '3000', '--image-size', '64'], { cwd: ROOT, stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  // Kill it once it has written images into its staging folder.
  const t0 = Date.now();
  for (;;) {
    const s = staging(parent);
    const files = s.length ? join(parent, s[0], 'mimic-cxr-jpg', 'files') : '';
    if (files && existsSync(files) && readdirSync(files).length > 2) break;
    assert.ok(Date.now() - t0 < 60_000, 'synth wrote no image within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await exited;
  assert.not.ok(existsSync(out), 'nothing at --out');
  assert.is(staging(parent).length, 1, 'the killed generator left its staging folder');

  const r = cli('src/cli/train.ts', ['--synth-dir', out, '--synth-patients', '40', '--preset', 'tiny', '--epochs', '1', '--max-steps', '1',
    '--threads', '1', '--progress', 'none', '--out', join(root, 'runs'), '--name', 'after-kill']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, `generating the synthetic data set in ${out} (seed 0)`);
  assert.ok(syntheticSetComplete(out));
  assert.equal(staging(parent), [], 'the dead generator\'s staging folder is gone');
});

test('train on a half-written set (no marker) generates it again and says so', async () => {
  const out = join(root, 'half');
  await generateSynthetic({ out, patients: 30, seed: 0, imageSize: 32 });
  // What an interrupted generator leaves: some of the tables, no marker.
  rmSync(join(out, SYNTH_MARKER));
  rmSync(join(out, 'mimic-cxr-jpg', 'mimic-cxr-2.0.0-metadata.csv.gz'));
  const lines: string[] = [];
  const cfg = applyOverrides(TRAIN_DEFAULTS, { synthDir: out, synthPatients: 30, preset: 'tiny', progress: 'none', threads: 1 }, 'test');
  const { ds } = await prepareData(cfg, 1, (l) => lines.push(l));
  assert.ok(lines.some((l) => l.startsWith(`the synthetic data set in ${out} is incomplete (no ${SYNTH_MARKER}`)), lines.join('\n'));
  assert.ok(syntheticSetComplete(out));
  assert.ok(existsSync(join(out, 'mimic-cxr-jpg', 'mimic-cxr-2.0.0-metadata.csv.gz')));
  assert.ok(ds.n > 30);
  // A complete set is used as it is: no message, no rewrite.
  const again: string[] = [];
  await prepareData(cfg, 1, (l) => again.push(l));
  assert.not.ok(again.some((l) => /generating|incomplete/.test(l)), again.join('\n'));
});

test('an --out that cannot be created fails at once in one line', () => {
  if (!existsSync('/proc/self')) return; // Linux only: /proc refuses new folders
  const t0 = Date.now();
  const r = cli('src/cli/synth.ts', ['--out', '/proc/foo']);
  assert.is(r.status, 1, r.stderr);
  assert.ok(Date.now() - t0 < 60_000);
  assert.equal(r.stderr.trim().split('\n'), ['synth: /proc/foo: cannot create a folder in /proc (ENOENT)']);
  const file = join(root, 'a-file');
  writeFileSync(file, '');
  const under = cli('src/cli/synth.ts', ['--out', join(file, 'set')]);
  assert.is(under.status, 1);
  assert.equal(under.stderr.trim().split('\n'), [`synth: ${join(file, 'set')}: ${file} is not a folder`]);
});

test.run();
