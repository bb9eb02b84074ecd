/**
 * A feature masked in every training sample gets a contribution of exactly 0 (issue 27). On a synthetic data
 * set whose triage heart rate is blanked in every row, a `tiny` model trained for one epoch records in its
 * checkpoint that no training sample had the field (`trainingCounts`); a value given for it at prediction is
 * reported as never learned and masked, so it is no player of the explanation and the output does not change
 * by one bit. Control: the same checkpoint claiming the field was seen makes it a player with nonzero values
 * (its untrained embedding moves the output), so the test can fail.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { generateSynthetic } from '../../src/data/index.ts';
import { Predictor } from '../../src/infer/index.ts';
import { readSafetensors, writeSafetensors } from '../../src/model/index.ts';
import { loadModel } from '../../src/node/model.ts';
import { applyOverrides, TRAIN_DEFAULTS } from '../../src/train/config.ts';
import { train } from '../../src/train/trainer.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-explain-trained-'));
const data = join(root, 'data');
await generateSynthetic({ out: data, patients: 150, seed: 3 });
// Blank the heart rate in every triage row.
const triage = join(data, 'mimic-iv', 'ed', 'triage.csv.gz');
const lines = gunzipSync(readFileSync(triage)).toString('utf8').split('\n');
const col = lines[0].split(',').indexOf('heartrate');
assert.ok(col > 0, 'triage has a heartrate column');
writeFileSync(triage, gzipSync(Buffer.from(lines.map((l, i) => {
  if (i === 0 || !l) return l;
  const cells = l.split(',');
  assert.ok(cells.length > col && /^[\d.]*$/.test(cells[col]), `row ${i}: the column is plain`);
  cells[col] = '';
  return cells.join(',');
}).join('\n'))));

test.after(() => rmSync(root, { recursive: true, force: true }));

const TABLE = { temperature: 100.4, heartrate: 131, resprate: 22, o2sat: 91, age: 67 };

test('a field no training sample had: never learned, masked, exactly 0 (the output does not change); the control makes it count', async () => {
  const run = await train(applyOverrides(TRAIN_DEFAULTS, { data, out: join(root, 'runs'), name: 'no-hr', preset: 'tiny', epochs: 1, progress: 'none', threads: 1 }, 'test'), { log: () => {} });
  const path = join(run.runDir, 'model.safetensors');
  const p = new Predictor(loadModel(path));
  const hr = p.spec.numeric.find((f) => f.name === 'heartrate')!;
  assert.ok(hr, 'heartrate is still one of the model\'s fields');
  assert.is(hr.trained, 0);
  assert.is(p.fields().find((f) => f.name === 'heartrate')!.untrained, true, 'the field listing says so (the demo disables the field)');
  assert.is(p.fields().find((f) => f.name === 'temperature')!.untrained, undefined);
  assert.ok(p.spec.numeric.filter((f) => f.name !== 'heartrate').every((f) => (f.trained ?? 0) > 0), 'the other numeric fields were seen');

  const withHr = p.explain({ table: TABLE });
  const { heartrate: _, ...rest } = TABLE;
  const without = p.explain({ table: rest });
  assert.equal(withHr.features.invalid.map((f) => [f.name, f.reason]), [['heartrate', 'no training sample had this field, so the model never learned it']]);
  const x = withHr.explanation!;
  assert.ok(!x.features.present.includes('heartrate') && x.features.absent.includes('heartrate'));
  for (const l of p.labels) {
    assert.ok(!x.features.findings[l].values.some((v) => v.name === 'heartrate'), `${l}: heartrate is no player`);
    assert.ok(Object.is(withHr.probabilities[l], without.probabilities[l]), `${l}: giving heartrate changes no bit`);
    assert.equal(x.modalities[l], without.explanation!.modalities[l]);
    assert.equal(x.features.findings[l], without.explanation!.features.findings[l]);
  }

  // Control: the same parameters, metadata claiming heartrate was seen: it becomes a player and moves the output.
  const file = readSafetensors(readFileSync(path));
  const counts = JSON.parse(file.metadata.trainingCounts);
  counts.numeric[hr.index] = 5;
  const lied = new Predictor(loadModel(writeSafetensors(file.tensors, { ...file.metadata, trainingCounts: JSON.stringify(counts) })));
  const y = lied.explain({ table: TABLE }).explanation!;
  assert.ok(y.features.present.includes('heartrate'));
  const hrValues = lied.labels.map((l) => y.features.findings[l].values.find((v) => v.name === 'heartrate')!.value);
  assert.ok(hrValues.some((v) => Math.abs(v) > 1e-4), `untrained embedding contributions: ${hrValues.map((v) => v.toExponential(1)).join(' ')}`);
});

test('trainingCounts is checked as hostile metadata', async () => {
  const path = join(root, 'runs', 'no-hr', 'model.safetensors');
  const file = readSafetensors(readFileSync(path));
  for (const [bad, re] of [['{"numeric": [1], "categorical": []}', /trainingCounts\.numeric is not \d+ non-negative integers/], ['[1, 2]', /'trainingCounts' is not/], ['{"numeric": null, "categorical": []}', /trainingCounts\.numeric/]] as const) {
    assert.throws(() => new Predictor(loadModel(writeSafetensors(file.tensors, { ...file.metadata, trainingCounts: bad }))), re);
  }
});

test.run();
