/**
 * The package as a user gets it: `npm pack` of this checkout, installed from the tarball into a fresh
 * temporary project with no network (`npm ci --offline`: the dependencies come from npm's cache, at the
 * versions of this checkout's lockfile), then plain `node` (no tsx):
 *  - imports `resilient-fusion` and its subpaths ./infer, ./data, ./webgpu, ./edge;
 *  - runs README's library snippet as written (extracted from README.md);
 *  - loads a checkpoint and predicts from a JPEG and a table, the same bits as the sources give here;
 *  - type-checks a file against the package's .d.ts (the `types` conditions);
 *  - `npx resilient-fusion --help` lists the subcommands and `npx resilient-fusion predict --help` runs.
 * The tarball is packed with --ignore-scripts from the dist/ that `npm ci` (prepare) built, rebuilt first
 * when it is older than the sources.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/node/model.ts';
import { Predictor } from '../../src/infer/index.ts';
import { ckpt, jpeg } from '../util/edge-fixture.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; license: string; dependencies: Record<string, string>; optionalDependencies?: Record<string, string>; bin: Record<string, string>; engines: Record<string, string>; files: string[] };
const EXPECTED_COMMANDS = ['train', 'stress', 'worker', 'predict', 'data', 'synth', 'demo', 'bench'];

/** The environment without npm's own variables: `npm test` exports npm_config_* (its prefix among them). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

function run(cmd: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}${r.error ? ` (${r.error.message})` : ''}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The newest modification time under a folder (files only). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** README's code block under "## The library". */
function readmeLibrarySnippet(readme: string): string {
  const section = readme.slice(readme.indexOf('\n## The library\n'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md: no ```ts block under "## The library"');
  return m[1];
}

test('the README library snippet defines everything it uses', () => {
  const code = readmeLibrarySnippet(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.match(code, /from 'resilient-fusion'/);
  assert.match(code, /const batch = /, 'the snippet must define its batch');
});

test('npm pack, offline install into a fresh project: plain node imports, predicts, runs the README snippet; npx lists the commands', () => {
  const t0 = performance.now();
  // dist/ as prepare (npm ci) built it; rebuilt here when missing or older than the sources (an edit since).
  const dist = join(ROOT, 'dist', 'index.js');
  let distTime = 0;
  try { distTime = statSync(dist).mtimeMs; } catch { /* missing */ }
  if (distTime < newest(join(ROOT, 'src'))) {
    console.log('  [package] dist/ is missing or older than src/: npm run build:dist');
    run('npm', ['run', '--silent', 'build:dist'], ROOT, 300_000);
  }

  const tmp = mkdtempSync(join(tmpdir(), 'rf-package-'));
  try {
    run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], ROOT);
    const tgz = `${PKG.name}-${PKG.version}.tgz`;
    const app = join(tmp, 'app');
    run('mkdir', [app], tmp);
    // The fresh project: the tarball plus a lockfile holding this checkout's runtime dependencies (its
    // lockfile minus the dev-only entries), so `npm ci --offline` resolves every one from npm's cache.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const packages: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(lock.packages)) if (k !== '' && !v.dev) packages[k] = v;
    const dep = `file:../${tgz}`;
    packages['node_modules/resilient-fusion'] = {
      version: PKG.version, resolved: dep, license: PKG.license, dependencies: PKG.dependencies,
      optionalDependencies: PKG.optionalDependencies ?? {}, bin: PKG.bin, engines: PKG.engines,
    };
    const manifest = { name: 'app', version: '1.0.0', private: true, type: 'module', dependencies: { 'resilient-fusion': dep } };
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'app', version: '1.0.0', dependencies: manifest.dependencies }, ...packages } }, null, 2));
    run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel', 'error'], app, 180_000);
    const tInstalled = performance.now();

    // README's snippet, as written, then a check of what it made.
    const snippet = readmeLibrarySnippet(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    writeFileSync(join(app, 'snippet.mjs'), `${snippet}\nconsole.log(JSON.stringify({ B: batch.B, logits: Array.from(model.forward(batch)), again: Array.from(again.forward(batch)), loss, grads: Object.keys(grads).length }));\n`);
    const s = JSON.parse(run(process.execPath, ['snippet.mjs'], app).stdout.trim().split('\n').pop()!) as { B: number; logits: number[]; again: number[]; loss: number; grads: number };
    assert.ok(s.B >= 1, `the snippet's batch has ${s.B} samples`);
    assert.is(s.logits.length, s.B * 14, 'one logit per sample and finding');
    assert.ok(s.logits.every(Number.isFinite) && Number.isFinite(s.loss) && s.loss > 0, `loss ${s.loss}`);
    assert.ok(s.grads > 0);
    assert.equal(s.again, s.logits, 'the saved and reloaded model gives the same logits');

    // A checkpoint with preprocessing metadata, predicted by the installed package and by the sources.
    writeFileSync(join(app, 'model.safetensors'), ckpt);
    writeFileSync(join(app, 'cxr.jpg'), jpeg);
    const table = { temperature: 101.2, heartrate: 120, pain: '4-5', gender: 'F' };
    writeFileSync(join(app, 'predict.mjs'), `import { readFileSync } from 'node:fs';
import { loadModel, Predictor } from 'resilient-fusion';
import * as infer from 'resilient-fusion/infer';
import * as data from 'resilient-fusion/data';
import * as webgpu from 'resilient-fusion/webgpu';
import * as edge from 'resilient-fusion/edge';
const p = new Predictor(loadModel('model.safetensors'));
const r = p.predict({ image: new Uint8Array(readFileSync('cxr.jpg')), table: ${JSON.stringify(table)} });
console.log(JSON.stringify({ r, subpaths: [typeof infer.Predictor, typeof data.makeBatch, typeof webgpu.createWebGPUBackend, typeof edge.createPredictor] }));
`);
    const got = JSON.parse(run(process.execPath, ['predict.mjs'], app).stdout.trim().split('\n').pop()!) as { r: { probabilities: Record<string, number>; modalities: unknown }; subpaths: string[] };
    const want = new Predictor(loadModel(ckpt)).predict({ image: jpeg, table });
    assert.equal(got.subpaths, ['function', 'function', 'function', 'function']);
    assert.equal(got.r.modalities, { image: true, table: true });
    assert.equal(got.r.probabilities, want.probabilities, 'the installed package predicts the same bits as the sources');

    // Types: a file checked against the installed .d.ts; the @ts-expect-error lines fail if types are missing.
    writeFileSync(join(app, 'check.ts'), `import { createModel, loadModel, Predictor, makeBatch, presetConfig, type Prediction } from 'resilient-fusion';
import { inferenceSpec } from 'resilient-fusion/infer';
import { loadDataset } from 'resilient-fusion/data';
import { createWebGPUBackend } from 'resilient-fusion/webgpu';
import { createPredictor } from 'resilient-fusion/edge';
const m = createModel({ ...presetConfig('tiny'), numFeatures: 8 });
const out: Prediction = new Predictor(loadModel('model.safetensors')).predict({ table: {} });
// @ts-expect-error: a number is not a config
createModel(42);
// @ts-expect-error: makeBatch takes a prepared data set
makeBatch('not a data set', [0]);
export { m, out, inferenceSpec, loadDataset, createWebGPUBackend, createPredictor };
`);
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck',
      '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', '--lib', 'es2022,dom', 'check.ts'], app);

    // The command: every subcommand listed; one started through the installed tsx.
    const npx = (...args: string[]) => run('npx', ['--offline', '--no-install', 'resilient-fusion', ...args], app);
    const help = npx('--help').stdout;
    const listed = [...help.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]);
    for (const c of EXPECTED_COMMANDS) assert.ok(listed.includes(c), `npx resilient-fusion --help lists ${c}:\n${help}`);
    const ph = npx('predict', '--help');
    assert.match(ph.stdout, /usage: .*predict/);
    assert.not.match(ph.stderr, /Error/);
    console.log(`  [package] install ${((tInstalled - t0) / 1000).toFixed(1)} s, all ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
