/**
 * The commands in README.md and docs/*.md stay true:
 *  - every fenced block whose info string is `sh doctest` runs, as a bash script (`bash -euo pipefail`), in
 *    a fresh temporary folder. `npm run NAME -- ARGS` and `npx resilient-fusion NAME ARGS` are shell
 *    functions there that run this checkout's own files (NAME's package.json script, e.g. `tsx
 *    src/cli/train.ts` becomes `node --import <tsx> <repo>/src/cli/train.ts`; npx runs bin/resilient-fusion.mjs),
 *    so a block writes only into its folder. A failure names the file, the block's first line, the command
 *    that failed and the tail of its stderr;
 *  - every `npm run X` written anywhere in them names a script of package.json;
 *  - every relative link in them points to a file or folder that exists.
 * Blocks that need Redis, Chromium or long runs are plain `sh` and are not run.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPTS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
/** tsx's loader as a file URL, so `node --import` finds it from any folder (as bin/resilient-fusion.mjs does). */
const TSX = import.meta.resolve('tsx');
/** Per block; the blocks of README and docs are written to take well under a minute each on 2 cores. */
const BLOCK_TIMEOUT_MS = 240_000;

/** README.md and docs/*.md, as paths relative to the checkout. */
function docFiles(): string[] {
  return ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

interface Block { file: string; line: number; first: string; code: string }

/** Fenced blocks whose info string is exactly `sh doctest`, with the line their code starts on. */
function doctestBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*(.*?)\s*$/.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[j])) j++;
    if (open[3] === 'sh doctest') {
      const code = lines.slice(i + 1, j).join('\n');
      out.push({ file, line: i + 2, first: lines[i + 1]?.trim() ?? '', code });
    }
    i = j;
  }
  return out;
}

/** `npm run NAME` -> the command that runs this checkout's file for NAME, or undefined when NAME has none. */
function scriptCommand(script: string): string | undefined {
  const m = /^(tsx|node) (\S+)$/.exec(script.trim());
  if (!m) return undefined;
  const file = JSON.stringify(join(ROOT, m[2]));
  return m[1] === 'tsx' ? `node --import ${JSON.stringify(TSX)} ${file}` : `node ${file}`;
}

/** The functions a block runs with: npm run and npx resilient-fusion, both on this checkout's files. */
function preamble(): string {
  const cases = Object.entries(SCRIPTS)
    .map(([name, script]) => [name, scriptCommand(script)] as const)
    .filter((e): e is readonly [string, string] => e[1] !== undefined)
    .map(([name, cmd]) => `    ${JSON.stringify(name)}) ${cmd} "$@" || return $? ;;`);
  return [
    'npm() {',
    '  if [ "${1-}" != run ] || [ $# -lt 2 ]; then echo "doctest: only \'npm run NAME\' is provided here, not: npm $*" >&2; return 2; fi',
    '  local name=$2; shift 2',
    '  if [ "${1-}" = -- ]; then shift; fi',
    '  case "$name" in',
    ...cases,
    '    *) echo "doctest: npm run $name: no such script, or not one a doc test can run" >&2; return 2 ;;',
    '  esac',
    '}',
    'npx() {',
    '  if [ "${1-}" != resilient-fusion ]; then echo "doctest: only \'npx resilient-fusion\' is provided here" >&2; return 2; fi',
    '  shift',
    `  node ${JSON.stringify(join(ROOT, 'bin', 'resilient-fusion.mjs'))} "$@" || return $?`,
    '}',
    // Without -E the trap is not inherited by the functions, and they return a failure instead of exiting
    // under -e: the trap fires once, for the block's own line.
    'trap \'echo "doctest: failed (exit $?) at block line $((LINENO - __DOCTEST_OFFSET))" >&2\' ERR',
  ].join('\n');
}

/** The environment without npm's own variables (`npm test` exports npm_config_*). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

/** Runs one block in a fresh folder; resolves to undefined when it passed, else the failure message. */
function runBlock(b: Block, timeoutMs = BLOCK_TIMEOUT_MS): Promise<{ error?: string; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-doctest-'));
  const pre = preamble();
  const offset = pre.split('\n').length + 1;
  const script = `${pre}\n__DOCTEST_OFFSET=${offset}\n${b.code}\n`;
  writeFileSync(join(dir, '.doctest.sh'), script);
  const t0 = performance.now();
  return new Promise((done) => {
    // Its own process group, so a timeout ends the commands too, not only bash.
    const p = spawn('bash', ['-euo', 'pipefail', '.doctest.sh'], { cwd: dir, env: cleanEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', timedOut = false;
    p.stdout.on('data', (d) => { stdout = (stdout + d).slice(-20_000); });
    p.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20_000); });
    const timer = setTimeout(() => { timedOut = true; try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      const seconds = (performance.now() - t0) / 1000;
      if (process.env.RF_DOCTEST_VERBOSE) console.log(`--- ${b.file}:${b.line} stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
      if (code === 0 && !timedOut) return done({ seconds });
      const at = /doctest: failed \(exit (\d+)\) at block line (\d+)$/m.exec(stderr);
      const failed = at ? `\`${b.code.split('\n')[Number(at[2]) - 1]?.trim()}\` (block line ${at[2]}) exited ${at[1]}` : undefined;
      const tail = stderr.replace(/^doctest: failed .*$/m, '').trim().split('\n').slice(-12).join('\n');
      const why = timedOut ? `timed out after ${timeoutMs / 1000} s` : (failed ?? `exit ${code}`);
      done({ seconds, error: `${b.file}:${b.line}: the \`sh doctest\` block starting "${b.first}" failed: ${why}\n--- stderr (last lines) ---\n${tail || '(empty)'}${tail ? '' : `\n--- stdout (last lines) ---\n${stdout.trim().split('\n').slice(-8).join('\n')}`}` });
    });
  });
}

const FILES = docFiles().map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }));
const BLOCKS = FILES.flatMap(({ file, text }) => doctestBlocks(file, text));

test('README and docs hold runnable blocks, and the README tour is one of them', () => {
  assert.ok(BLOCKS.filter((b) => b.file === 'README.md').length >= 1, 'README.md has no `sh doctest` block');
  assert.ok(BLOCKS.filter((b) => b.file.startsWith('docs/')).length >= 2, 'docs/ has fewer than 2 `sh doctest` blocks');
  for (const b of BLOCKS) assert.ok(b.code.trim().length > 0, `${b.file}:${b.line}: an empty doctest block`);
});

test('a failing block is reported with its file, first line, the failing command and its stderr', async () => {
  const r = await runBlock({ file: 'example.md', line: 3, first: 'echo ok', code: 'echo ok\nnpm run export -- --model nowhere.safetensors --out m.onnx\necho never' });
  assert.ok(r.error, 'the block should fail');
  assert.match(r.error!, 'example.md:3');
  assert.match(r.error!, '"echo ok"');
  assert.match(r.error!, '`npm run export -- --model nowhere.safetensors --out m.onnx` (block line 2) exited 1', r.error);
  assert.match(r.error!, /--model nowhere\.safetensors: no such file/);
  const bad = await runBlock({ file: 'example.md', line: 1, first: 'npm run no-such', code: 'npm run no-such -- --x' });
  assert.match(bad.error!, 'npm run no-such: no such script');
});

test('blocks run in their own folder: npm run and npx resilient-fusion write there, not into the checkout', async () => {
  const before = [existsSync(join(ROOT, 'tiny-set')), existsSync(join(ROOT, 'tiny-set2'))];
  const code = [
    'npm run synth -- --out tiny-set --patients 4 --image-size 32',
    'npx resilient-fusion synth --out tiny-set2 --patients 4 --image-size 32',
    'test -d tiny-set/mimic-cxr-jpg && test -d tiny-set2/mimic-cxr-jpg',
    `test "$(pwd)" != ${JSON.stringify(ROOT)}`,
  ].join('\n');
  const r = await runBlock({ file: 'example.md', line: 1, first: 'synth', code });
  assert.is(r.error, undefined, r.error);
  assert.equal([existsSync(join(ROOT, 'tiny-set')), existsSync(join(ROOT, 'tiny-set2'))], before);
});

for (const b of BLOCKS) {
  test(`${b.file}:${b.line} runs: ${b.first}`, async () => {
    const r = await runBlock(b);
    console.log(`  [doctest] ${b.file}:${b.line} ${r.seconds.toFixed(1)} s`);
    if (r.error) assert.unreachable(r.error);
  });
}

test('every `npm run X` in README and docs names a package.json script', () => {
  const bad: string[] = [];
  for (const { file, text } of FILES) {
    text.split('\n').forEach((line, i) => {
      for (const m of line.matchAll(/\bnpm run ([A-Za-z0-9:_-]+)/g)) {
        const name = m[1];
        if (/^[A-Z][A-Z_]*$/.test(name)) continue; // a placeholder: `npm run COMMAND`
        if (!Object.hasOwn(SCRIPTS, name)) bad.push(`${file}:${i + 1}: npm run ${name}`);
      }
    });
  }
  assert.equal(bad, [], `no such package.json script:\n${bad.join('\n')}`);
});

test('every relative link in README and docs points to a file that exists', () => {
  const bad: string[] = [];
  let n = 0;
  for (const { file, text } of FILES) {
    // Code (fenced and inline) is not a link.
    const prose = text.replace(/^(\s*)(`{3,})[\s\S]*?^\1\2\s*$/gm, '').replace(/`[^`\n]*`/g, '');
    for (const m of prose.matchAll(/\[[^\]\n]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
      n++;
      const path = resolve(dirname(join(ROOT, file)), decodeURIComponent(target.split('#')[0]));
      if (!existsSync(path)) bad.push(`${file}: (${target}) -> ${relative(ROOT, path)}`);
    }
  }
  assert.ok(n >= 10, `only ${n} relative links found: the link pattern is broken`);
  assert.equal(bad, [], `broken relative links:\n${bad.join('\n')}`);
});

test.run();
