/**
 * The `resilient-fusion` command (bin/resilient-fusion.mjs) on the Node running the tests: `--help` lists
 * every subcommand, each subcommand's `--help` prints its usage with exit 0 and no line containing "Error"
 * on stderr (Node 22+ printed "Error: unrecognized flag --experimental-wasm-relaxed-simd" on every command),
 * a command that runs the engine (predict) prints nothing else on stderr, each npm script of a subcommand runs the same file (the scripts are aliases), and an unknown subcommand is
 * one line naming the commands.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ckpt } from '../util/edge-fixture.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'resilient-fusion.mjs');
const EXPECTED = ['train', 'stress', 'worker', 'predict', 'data', 'synth', 'demo', 'bench'];

/** [command, file] from the bin's COMMANDS table. */
function table(): [string, string][] {
  const src = readFileSync(BIN, 'utf8');
  return [...src.matchAll(/^ {2}([a-z-]+): \['([^']+)'/gm)].map((m) => [m[1], m[2]]);
}

function runAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test('--help lists every subcommand of the table, and the table has every command', () => {
  const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  assert.is(r.status, 0);
  assert.is(r.stderr, '');
  const listed = [...r.stdout.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]);
  assert.equal(listed, table().map(([c]) => c));
  for (const c of EXPECTED) assert.ok(listed.includes(c), `${c} listed`);
});

test(`every subcommand's --help: exit 0, its usage, no "Error" on stderr (${process.version})`, async () => {
  const results = await Promise.all(table().map(async ([c]) => [c, await runAsync([c, '--help'])] as const));
  for (const [c, r] of results) {
    assert.is(r.code, 0, `${c} --help exited ${r.code}: ${r.stderr}`);
    assert.match(r.stdout, /usage/i, `${c} --help prints a usage`);
    const bad = r.stderr.split('\n').filter((l) => l.includes('Error'));
    assert.equal(bad, [], `${c} --help on ${process.version}: stderr lines containing "Error"`);
  }
});

test(`a command that runs the engine prints only its result: predict on ${process.version}`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-cli-help-'));
  try {
    writeFileSync(join(dir, 'm.safetensors'), ckpt);
    const r = await runAsync(['predict', '--model', join(dir, 'm.safetensors'), '--table', '{"temperature": 99}']);
    assert.is(r.code, 0, r.stderr);
    // predict reports its resolved config on stderr; nothing else may be there.
    assert.equal(r.stderr.split('\n').filter((l) => l && !l.startsWith('predict: {')), [], 'stray stderr lines');
    const out = JSON.parse(r.stdout) as { predictions: { probabilities: Record<string, number> }[] };
    assert.is(Object.keys(out.predictions[0].probabilities).length, 14, r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each npm script of a subcommand runs the same file as the bin (the scripts are aliases)', () => {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  for (const [c, file] of table()) assert.is(scripts[c], `tsx ${file}`, `npm run ${c}`);
});

test('an unknown subcommand is one line naming the commands, exit 1', () => {
  const r = spawnSync(process.execPath, [BIN, 'trian'], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /^resilient-fusion: unknown command 'trian'; commands: train, .*bench\n$/);
});

test.run();
