/**
 * The stress-test protocol runner end to end on a small synthetic data set: every artefact written, the
 * baselines' definitions visible in the stored predictions, missingness injected at the protocol level with
 * the right rates, nested and paired across methods; a rerun trains nothing; an interrupted run (Ctrl-C path
 * mid-training, then a torn cell-store line) continues to exactly the results of an uninterrupted one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../../src/data/index.ts';
import { LABEL_NAMES } from '../../src/engine/index.ts';
import { parseMethods, planCell, jobName } from '../../src/protocols/methods.ts';
import type { MethodName } from '../../src/protocols/methods.ts';
import { runStress } from '../../src/protocols/runner.ts';
import type { StressOptions, StressResult } from '../../src/protocols/runner.ts';
import { readCells, readResultsCsv } from '../../src/protocols/index.ts';
import type { StoredCell } from '../../src/protocols/index.ts';
import { rejects } from '../util/harness.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-stress-'));
const data = join(root, 'data');
await generateSynthetic({ out: data, patients: 400, seed: 3 });
const L = LABEL_NAMES.length;
const METHODS: MethodName[] = ['proposed', 'no-dropout', 'image-only', 'tabular-only', 'late-fusion'];
const LEVELS = [0, 0.5, 1];

function opts(out: string, over: Partial<StressOptions> = {}): StressOptions {
  return {
    out, data, protocols: ['image', 'tabular'], levels: LEVELS, methods: METHODS, seeds: 1, preset: 'tiny', epochs: 1,
    threads: 1, grid: [0, 0.3], replicates: 200, log: () => {}, ...over,
  };
}

const A = join(root, 'a');
let ra: StressResult;
let trainedA = 0;
const logA: string[] = [];
let csvA = '', mdA = '';

interface JobFile { points: { missImage: number; missTab: number; hasImage: string; hasTab: string }[]; trainPrevalence: number[] }
const job = (out: string, name: string): JobFile => JSON.parse(readFileSync(join(out, 'runs', name, 'stress-predictions.json'), 'utf8'));
/** The run folder name of a (single-model) method's cell. */
function runOf(method: MethodName, protocol: 'image' | 'tabular', level: number, seed: number, drop: number): string {
  const p = planCell(method, protocol, level, seed, drop);
  if (p.kind !== 'model') throw new Error(`${method} has no run of its own`);
  return jobName(p.job);
}
const cellOf = (cells: StoredCell[], method: string, protocol: string, level: number) =>
  cells.find((c) => c.method === method && c.protocol === protocol && c.trainLevel === level && c.seed === 0)!;

test('a tiny run of both protocols writes every artefact, with significance tests and sanity checks', async () => {
  ra = await runStress(opts(A, { onTrain: () => trainedA++, log: (l) => logA.push(l) }));
  assert.not.ok(ra.interrupted);
  csvA = readFileSync(join(A, 'results.csv'), 'utf8');
  mdA = readFileSync(join(A, 'summary.md'), 'utf8');
  const runs = readdirSync(join(A, 'runs'));
  assert.is(trainedA, runs.length, 'one training run per distinct configuration');
  // 5 unimodal runs (level 0 shared by the protocols; both endpoints' runs have no modality at all and coincide)
  // and 6-8 two-stage fusion runs (the grid's 2 at level 0, proposed and no-dropout at 0.5 unless d = 0, 2 at
  // rate 1 where proposed = no-dropout).
  assert.ok(trainedA >= 11 && trainedA <= 13, `${trainedA} runs: level 0 shared by the protocols, proposed = no-dropout at rate 1`);
  const figures = ['image', 'tabular'].flatMap((p) => [`plot-${p}`, `plot-${p}-auprc`, `labels-${p}`, ...METHODS.map((m) => `heatmap-${p}-${m}`)]);
  for (const f of ['results.csv', 'summary.md', 'report.html', ...figures.flatMap((f) => [`${f}.svg`, `${f}.png`]),
    'cells.jsonl', 'selection.json', 'testset.json', 'stress.json']) assert.ok(existsSync(join(A, f)), f);
  const { rows } = readResultsCsv(join(A, 'results.csv'));
  assert.is(rows.length, METHODS.length * 2 * LEVELS.length * LEVELS.length, 'method x protocol x train level x test level');
  assert.ok(rows.every((r) => r.macroAuroc >= 0 && r.macroAuroc <= 1 && r.perLabelAuroc.length === L));
  assert.is(ra.cellsTotal, METHODS.length * 2 * LEVELS.length);
  assert.is(ra.comparisons.length, (METHODS.length - 1) * 2 * LEVELS.length);
  assert.ok(ra.comparisons.every((c) => c.p > 0 && c.p <= 1 && c.lo <= c.hi));
  const md = readFileSync(join(A, 'summary.md'), 'utf8');
  for (const s of ['paired patient-level bootstrap', 'Holm', 'Modality dropout', 'Sanity checks', 'Area under the degradation curve', 'Naturally incomplete test data', 'stage 1: image-only + tabular-only runs, 1 epochs each', ...METHODS]) {
    assert.ok(md.includes(s), `summary.md mentions ${s}`);
  }
  const html = readFileSync(join(A, 'report.html'), 'utf8');
  assert.ok(html.includes('<svg') && html.includes('protocol-image') && html.includes('protocol-tabular'));
  const sel = JSON.parse(readFileSync(join(A, 'selection.json'), 'utf8'));
  assert.equal(sel.grid.map((g: { drop: number }) => g.drop), [0, 0.3]);
  assert.ok([0, 0.3].includes(sel.chosen) && ra.drop === sel.chosen);
  // The sanity checks: both endpoints checked, plus the informational multimodal-trained lines.
  assert.is(ra.sanity.filter((c) => c.trainLevel === 1).length, 2);
  assert.ok(logA.some((l) => /sanity check passed|SANITY CHECK FAILED/.test(l)));
  assert.ok(logA.some((l) => l.startsWith('report: ') && l.includes(join(A, 'report.html'))));
  // Progress: every run numbered against a total (an upper bound until the dropout rate is chosen, then exact);
  // an overall ETA after each.
  const numbered = logA.map((l) => /^\[run (\d+)\/(\d+)\]/.exec(l)).filter((m) => m !== null).map((m) => [Number(m![1]), Number(m![2])]);
  assert.equal(numbered.map((m) => m[0]), Array.from({ length: trainedA }, (_, i) => i + 1));
  const totals = numbered.map((m) => m[1]);
  assert.ok(totals.every((t, i) => t >= trainedA && (i === 0 || t <= totals[i - 1])) && totals.at(-1) === trainedA, `totals ${totals} vs ${trainedA} runs`);
  assert.ok(logA.some((l) => new RegExp(`: .* s, best epoch \\d+, .*; ${trainedA}/${trainedA} runs, elapsed .*, ETA 0 s$`).test(l)), logA.join('\n'));
  assert.ok(logA.some((l) => /^cell .*\(\d+\/30 cells; \d+\/\d+ runs, elapsed .*, ETA /.test(l)));
  // Cells keep the probabilities the bootstrap needs, at their own level.
  const cells = readCells(join(A, 'cells.jsonl'));
  const n = JSON.parse(readFileSync(join(A, 'testset.json'), 'utf8')).patients.length;
  for (const c of cells) {
    assert.is(c.predictions!.length, 1);
    assert.is(c.predictions![0].testLevel, c.trainLevel);
    assert.is(c.predictions![0].probs.length, n * L);
  }
});

test('the baselines are what they claim in the stored predictions', () => {
  const cells = readCells(join(A, 'cells.jsonl'));
  const own = (m: string, p: string, l: number) => Float32Array.from(cellOf(cells, m, p, l).predictions![0].probs);
  // Image-only at image rate 1: no test study has an image, so every study gets the training prevalence.
  const io = own('image-only', 'image', 1);
  const prev = job(A, runOf('image-only', 'image', 1, 0, 0)).trainPrevalence;
  for (let i = 0; i < io.length; i++) assert.is(io[i], Math.fround(prev[i % L]));
  assert.is(cellOf(cells, 'image-only', 'image', 1).rows.find((r) => r.testLevel === 1)!.macroAuroc, 0.5);
  // Late fusion at image rate 0.5: the mean of the two baselines where a study has both, else the one it has.
  const lf = own('late-fusion', 'image', 0.5), im = own('image-only', 'image', 0.5), tb = own('tabular-only', 'image', 0.5);
  const ij = job(A, runOf('image-only', 'image', 0.5, 0, 0)).points.find((p) => p.missImage === 0.5)!;
  const tj = job(A, runOf('tabular-only', 'image', 0.5, 0, 0)).points.find((p) => p.missTab === 0)!;
  let both = 0;
  for (let i = 0; i < lf.length / L; i++) {
    const hi = ij.hasImage[i] === '1', ht = tj.hasTab[i] === '1';
    if (hi && ht) both++;
    for (let j = 0; j < L; j++) {
      const k = i * L + j;
      const want = hi && ht ? Math.fround((im[k] + tb[k]) / 2) : hi ? im[k] : ht ? tb[k] : Math.fround(prev[j]);
      assert.is(lf[k], want, `late fusion, study ${i}, label ${j}`);
    }
  }
  assert.ok(both > 10);
  // Where a modality is removed everywhere modality dropout cannot act: proposed and no-dropout are one run.
  assert.equal(cellOf(cells, 'proposed', 'image', 1).rows, cellOf(cells, 'no-dropout', 'image', 1).rows.map((r) => ({ ...r, method: 'proposed' })));
});

test('protocol-level injection: rates right, nested across test levels, the same studies for every method of a seed', () => {
  const lvl0 = job(A, runOf('proposed', 'image', 0, 0, 0));
  const at = (mi: number, mt: number) => lvl0.points.find((p) => p.missImage === mi && p.missTab === mt)!;
  // Level 0 serves both protocols: it was evaluated at every image and every tabular test level.
  assert.is(lvl0.points.length, 2 * LEVELS.length - 1);
  const i0 = at(0, 0).hasImage, i5 = at(0.5, 0).hasImage, i1 = at(1, 0).hasImage;
  let nat = 0, kept = 0;
  for (let s = 0; s < i0.length; s++) {
    if (i5[s] === '1') assert.is(i0[s], '1', 'nested: a study with an image at 0.5 has it at 0');
    assert.is(i1[s], '0');
    if (i0[s] === '1') { nat++; if (i5[s] === '1') kept++; }
  }
  const rate = 1 - kept / nat;
  assert.ok(rate > 0.3 && rate < 0.7, `image rate 0.5 removed ${rate} of the images present`);
  assert.is(at(0.5, 0).hasTab, at(0, 0).hasTab, 'the image protocol leaves the table alone');
  const t5 = at(0, 0.5).hasTab, t0 = at(0, 0).hasTab;
  for (let s = 0; s < t5.length; s++) if (t5[s] === '1') assert.is(t0[s], '1');
  assert.ok(t5.split('1').length < t0.split('1').length, 'tabular rate 0.5 removes tables');
  // Paired: the image-only run of image level 0.5 has exactly the same studies' images at test level 0.5.
  const io = job(A, runOf('image-only', 'image', 0.5, 0, 0));
  assert.is(io.points.find((p) => p.missImage === 0.5)!.hasImage, i5);
});

test('a rerun trains nothing and reproduces the artefacts', async () => {
  let trained = 0;
  const log: string[] = [];
  const r = await runStress(opts(A, { onTrain: () => trained++, log: (l) => log.push(l) }));
  assert.is(trained, 0);
  assert.is(r.cellsAdded, 0);
  assert.ok(log.some((l) => /30 cells, 30 already stored, 0 to compute/.test(l)), log.join('\n'));
  assert.is(readFileSync(join(A, 'results.csv'), 'utf8'), csvA);
  assert.is(readFileSync(join(A, 'summary.md'), 'utf8'), mdA);
  // A subset of the methods is served from the store alone too; the report then covers that subset.
  trained = 0;
  const sub = await runStress(opts(A, { onTrain: () => trained++, methods: ['proposed', 'late-fusion'], protocols: ['tabular'] }));
  assert.is(trained, 0);
  assert.is(sub.rows.length, 2 * LEVELS.length * LEVELS.length);
  assert.is(readResultsCsv(join(A, 'results.csv')).rows.length, sub.rows.length);
});

test('an interrupted run (mid-training, then a torn store line) continues to the same results', async () => {
  const B = join(root, 'b');
  const ac = new AbortController();
  let trained = 0;
  const r1 = await runStress(opts(B, {
    verbose: true, signal: ac.signal, onTrain: () => trained++,
    // Run 5 is the first after the dropout grid (two unimodal runs, then the grid's two two-stage runs).
    log: (l) => { if (trained === 5 && / epoch 1 step /.test(l)) ac.abort(); },
  }));
  assert.ok(r1.interrupted);
  assert.is(trained, 5);
  assert.not.ok(existsSync(join(B, 'results.csv')));
  // An append torn by a crash: the runner repairs the store, says so, and computes that cell again.
  const stored = readFileSync(join(B, 'cells.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  assert.ok(stored >= 1);
  appendFileSync(join(B, 'cells.jsonl'), '{"method":"proposed","protocol":"ima');
  const log: string[] = [];
  let trained2 = 0;
  const r2 = await runStress(opts(B, { onTrain: () => trained2++, log: (l) => log.push(l) }));
  assert.not.ok(r2.interrupted);
  assert.ok(log.some((l) => /torn by an interrupted write/.test(l)), 'the repair is reported');
  assert.ok(log.some((l) => /resuming /.test(l)), 'the interrupted training run resumes');
  assert.is(trained + trained2, trainedA + 1, 'only the interrupted run is started twice');
  assert.is(r2.cellsAdded, ra.cellsTotal - stored);
  assert.is(readFileSync(join(B, 'results.csv'), 'utf8'), csvA);
  assert.is(readFileSync(join(B, 'summary.md'), 'utf8'), mdA);
});

test('bad settings are errors: another configuration in the same folder, bad levels, unknown methods and options', async () => {
  await rejects(runStress(opts(A, { levels: [0, 1] })), /holds a protocol run with other settings \(levels/);
  await rejects(runStress(opts(A, { epochs: 2 })), /other settings \(epochs 1 there, 2 now/);
  // Runs trained in other units than this version's for the preset (base's default went from 8 to 2).
  const U = join(root, 'units');
  cpSync(A, U, { recursive: true });
  const run = readdirSync(join(U, 'runs')).find((r) => existsSync(join(U, 'runs', r, 'config.json')))!;
  const cfgPath = join(U, 'runs', run, 'config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), microBatch: 2 }));
  await rejects(runStress(opts(U)), /holds runs trained in units of 2 samples \(.*config\.json\), and this version trains --preset tiny in units of 8/);
  await rejects(runStress(opts(join(root, 'c'), { levels: [0, 1, 0.5] })), /increasing/);
  await rejects(runStress(opts(join(root, 'c'), { levels: [0, 1.5] })), /outside \[0, 1\]/);
  assert.throws(() => parseMethods('proposed,fancy'), /unknown method 'fancy'/);
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/stress.ts', ...args], { encoding: 'utf8' });
  const bad = cli('--bogus', '1');
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /unknown option --bogus/);
  assert.match(cli('--methods', 'proposed,nope').stderr, /unknown method 'nope'/);
  const help = cli('--help');
  assert.is(help.status, 0);
  for (const s of ['--protocol', '--levels', '0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1', '--quick', 'late-fusion', 'frozen-encoders', 'proposed-scratch']) assert.ok(help.stdout.includes(s), s);
});

test('a failed command leaves no settings behind; settings over a folder with no results never block a good command', async () => {
  const D = join(root, 'd');
  await rejects(runStress(opts(D, { data: join(root, 'no-such-data') })), /no-such-data/);
  assert.not.ok(existsSync(join(D, 'stress.json')), 'the failed command removed the settings it wrote');
  // As if a command had been killed before storing anything: its settings (other than the next command's) stay.
  writeFileSync(join(D, 'stress.json'), JSON.stringify({ format: 'resilient-fusion-stress/2', preset: 'small', epochs: 9, data: '', levels: [0, 1], grid: [0], train: {} }));
  const r = await runStress(opts(D, { methods: ['tabular-only'], protocols: ['image'], levels: [0] }));
  assert.not.ok(r.interrupted);
  assert.is(r.cellsAdded, 1);
  assert.is(JSON.parse(readFileSync(join(D, 'stress.json'), 'utf8')).epochs, 1);
  // Once results are stored, other settings are refused as before.
  await rejects(runStress(opts(D, { methods: ['tabular-only'], protocols: ['image'], levels: [0], epochs: 2 })), /other settings \(epochs 1 there, 2 now/);
});

test.after(() => { if (!process.env.KEEP_TMP) rmSync(root, { recursive: true, force: true }); else console.log(root); });
test.run();
