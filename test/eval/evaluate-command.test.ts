/**
 * `npm run evaluate` end to end on a tiny trained run: the checkpoint carries the validation thresholds and
 * temperatures (none with --calibrate false), temperature scaling lowered the validation NLL and left the
 * AUROC unchanged, evaluate reproduces the trainer's test metrics, predictions.csv read back gives
 * metrics.json's figures, and bad flags fail with one line.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSynthetic } from '../../src/data/index.ts';
import { LABEL_NAMES } from '../../src/engine/batch.ts';
import { readPredictionsCsv, scoreSplit } from '../../src/eval/index.ts';
import { decodeCheckpoint } from '../../src/model/index.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../../src/train/config.ts';
import { train } from '../../src/train/trainer.ts';
import type { TrainResult } from '../../src/train/trainer.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'rf-evaluate-'));
const data = join(root, 'data');
await generateSynthetic({ out: data, patients: 260, seed: 2, imageSize: 64 });
const quiet = () => {};
const cfg = (over: Record<string, unknown>) => applyOverrides(TRAIN_DEFAULTS, { data, out: join(root, 'runs'), preset: 'tiny', epochs: 3, progress: 'none', threads: 1, ...over }, 'test');
let run: TrainResult;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'src/cli/evaluate.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const metaOf = (dir: string) => decodeCheckpoint(new Uint8Array(readFileSync(join(dir, 'model.safetensors')))).metadata;

test('training stores thresholds and temperatures; scaling lowers validation NLL; --calibrate false stores thresholds only', async () => {
  run = await train(cfg({ name: 'cal' }), { log: quiet });
  const meta = metaOf(run.runDir) as { thresholds: { values: number[]; rule: string; split: string }; calibration: { method: string; temperatures: number[] } };
  assert.is(meta.thresholds.split, 'validation');
  assert.equal(meta.thresholds.values, run.validation!.thresholds);
  assert.is(meta.calibration.method, 'temperature');
  assert.is(meta.calibration.temperatures.length, 14);
  assert.ok(meta.calibration.temperatures.some((t) => t !== 1));
  const m = JSON.parse(readFileSync(join(run.runDir, 'metrics.json'), 'utf8'));
  const { before, after } = m.calibration.validationNll as { before: number[]; after: number[] };
  const mean = (v: number[]) => v.filter(Number.isFinite).reduce((a, b) => a + b, 0) / v.filter(Number.isFinite).length;
  assert.ok(mean(after) < mean(before), `validation NLL ${mean(after)} not below ${mean(before)}`);
  before.forEach((b, j) => { if (Number.isFinite(b)) assert.ok(after[j] <= b + 1e-9, `${LABEL_NAMES[j]}: NLL ${after[j]} above ${b}`); });
  // AUROC unchanged by the temperatures: before and after calibration of the same test predictions.
  for (const f of ['model-card.md', 'model-card.html', 'report.md', 'report.html', 'reliability.svg']) assert.ok(existsSync(join(run.runDir, f)), f);
  const off = await train(cfg({ name: 'nocal', calibrate: false }), { log: quiet });
  const m2 = metaOf(off.runDir);
  assert.ok(m2.thresholds);
  assert.is(m2.calibration, undefined);
  // Same weights (calibration happens after training), same AUROC: the monotone map changes no ranking.
  off.test!.auroc.forEach((a, j) => assert.ok(Math.abs(a - run.test!.auroc[j]) < 1e-6 || (Number.isNaN(a) && Number.isNaN(run.test!.auroc[j])), `${LABEL_NAMES[j]}: AUROC ${a} vs ${run.test!.auroc[j]}`));
});

test('evaluate: the trainer\'s test figures; every file; predictions.csv read back gives metrics.json', () => {
  const out = join(root, 'ev');
  const r = cli(['--model', join(run.runDir, 'model.safetensors'), '--data', data, '--out', out, '--replicates', '100', '--min-group', '10']);
  assert.is(r.status, 0, r.stderr);
  for (const f of ['metrics.json', 'predictions.csv', 'model-card.md', 'model-card.html', 'report.md', 'report.html', 'reliability.svg']) assert.ok(existsSync(join(out, f)), f);
  assert.match(r.stdout, /^macro AUROC: \d\.\d{4} \(95% CI /m);
  assert.match(r.stdout, /^macro ECE \(15 equal-mass bins\): /m);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.is(m.calibrated, true);
  assert.ok(Math.abs(m.report.discrimination.macroAuroc - run.test!.macroAuroc) < 1e-12, `${m.report.discrimination.macroAuroc} vs the trainer's ${run.test!.macroAuroc}`);
  const back = readPredictionsCsv(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  assert.equal(back.labels, [...LABEL_NAMES]);
  const rb = scoreSplit({
    labels: LABEL_NAMES, probs: back.probs, targets: back.targets, patients: back.patients, hasImage: back.hasImage, hasTab: back.hasTab,
    tabPresent: back.tabPresent, numFeatures: m.report.tableFeatures.length ? Number(/of (\d+) features/.exec(m.report.tableFeatures[0].group)![1]) : 0,
    thresholds: m.thresholds,
  }, { replicates: 100, seed: 0, minGroup: 10 });
  const pick = (x: { discrimination: unknown; macroAurocCI: unknown; aurocCI: unknown; calibration: unknown; availability: unknown; tableFeatures: unknown }) =>
    JSON.parse(JSON.stringify({ d: x.discrimination, ci: x.macroAurocCI, aci: x.aurocCI, c: x.calibration, a: x.availability, t: x.tableFeatures }));
  assert.equal(pick(rb), pick(m.report));
  back.calls.forEach((c, k) => assert.is(c, back.probs[k] >= m.thresholds[k % 14] ? 1 : 0));
});

test('evaluate --miss-image 1: availability is what the injected batches showed (every image gone, tables as they were)', () => {
  const args = ['--model', join(run.runDir, 'model.safetensors'), '--data', data, '--replicates', '20', '--min-group', '10'];
  const plain = cli([...args, '--out', join(root, 'ev-plain')]), noImg = cli([...args, '--out', join(root, 'ev-noimg'), '--miss-image', '1']);
  assert.is(plain.status, 0, plain.stderr);
  assert.is(noImg.status, 0, noImg.stderr);
  const a = readPredictionsCsv(readFileSync(join(root, 'ev-plain', 'predictions.csv'), 'utf8'));
  const b = readPredictionsCsv(readFileSync(join(root, 'ev-noimg', 'predictions.csv'), 'utf8'));
  assert.ok(a.hasImage.some((v) => v === 1), 'the plain run has images');
  assert.ok(b.hasImage.every((v) => v === 0), 'no study showed an image at --miss-image 1');
  assert.equal([...b.hasTab], [...a.hasTab], 'tables untouched');
});

test('evaluate: bad flags are one line, nothing written', () => {
  const model = join(run.runDir, 'model.safetensors');
  const file = join(root, 'a-file');
  writeFileSync(file, 'x');
  const cases: [string[], RegExp][] = [
    [['--model', model, '--data', data, '--out', join(root, 'x1'), '--miss-image', '1.5'], /--miss-image expects a number in \[0, 1\], got "1\.5"/],
    [['--model', model, '--data', data, '--out', file], /--out .*a-file: not a folder/],
    [['--model', join(root, 'nope.safetensors'), '--data', data, '--out', join(root, 'x2')], /--model .*nope\.safetensors: no such file/],
    [['--model', model, '--out', join(root, 'x3')], /--data is required/],
    [['--model', model, '--data', data, '--out', join(root, 'x4'), '--min-group', '0'], /min-group/],
    [['--model', model, '--data', data, '--out', join(root, 'x5'), '--replicates', '1000000'], /--replicates expects an integer in 1\.\.100000, got "1000000"/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args);
    assert.is(r.status, 1, `${args.join(' ')}: exit ${r.status} ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.not.ok(existsSync(join(root, 'x1')));
});

test.run();
